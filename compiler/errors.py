"""The one error type users see: a message naming the file, the op and the reason."""


class VnncError(Exception):
    """A user-facing failure. The CLI prints `vnnc: error: <message>` and exits 1."""
