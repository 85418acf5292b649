"""A second process for searches that can evaluate two independent pieces at once.

`Helper.start(fn)` forks a process that runs `fn(*task)` for every task sent to it and sends
back the result (or the exception, raised again here). The fork copies this process, so `fn`
may be any closure over its data; tasks and results are pickled. Both processes run the same
code on the same arrays: a result is the one this process would have computed (the error
analysis's claims are the same bit for bit with and without a helper).

numpy's OpenBLAS keeps its own threads spinning after each call; two processes with two such
threads each on two cores ran the error analysis of ACAS Xu 1.7x slower than one process
alone. So while a helper lives, OpenBLAS runs on one thread in both processes (its thread
count given back at `close`), and no helper is started where that cannot be arranged (another
BLAS, no /proc), where there are fewer than two cores per search (`JOBS`), where there is no
fork, or where the process runs other Python threads (the fork would copy only this one).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
from typing import Self


def openblas_threads():
    """(get, set) of the thread count of the OpenBLAS that numpy loaded, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("openblas_", ""), ("scipy_openblas_", "64_"), ("openblas_", "64_")):
            get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
            if get is not None and put is not None:
                put.argtypes = [ctypes.c_int]
                return get, put
    return None


JOBS = 1
"""How many searches run side by side on this machine (`vnnc verify --instances --jobs N` sets
it in its workers): a helper is started only where every search can have two cores."""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class HelperStopped(Exception):
    pass


class Lazy:
    """A helper started at the first `get()` by `start()` (a `Helper` or None: the search then
    runs alone), closed when the `with` block ends, however it ends."""

    def __init__(self, start):
        self.start, self.started, self.helper = start, False, None

    def get(self) -> Helper | None:
        if not self.started:
            self.helper, self.started = self.start(), True
        return self.helper

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self.helper is not None:
            self.helper.close()


class Helper:
    @staticmethod
    def start(fn, init=None) -> Helper | None:
        """A helper running `fn` (after `init()`, if given, once in the helper), or None
        (module docstring)."""
        import numpy  # noqa: F401  (its BLAS must be loaded to be found)

        blas = openblas_threads()
        if cores() < 2 * JOBS or not hasattr(os, "fork") or blas is None or threading.active_count() > 1:
            return None  # (a fork copies one thread: another's locks could stay held in the copy)
        return Helper(fn, blas, init)

    def __init__(self, fn, blas, init=None):
        """os.fork, not multiprocessing.Process: `vnnc verify --instances` runs its searches in a
        multiprocessing pool, whose (daemonic) workers may not start Processes."""
        self.blas, self.saved = blas, blas[0]()
        blas[1](1)
        self.conn, theirs = multiprocessing.Pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the helper: serve until told to stop or the searcher is gone, then leave
            code = 0
            try:
                self.conn.close()
                _serve(theirs, fn, init)
            except BaseException:  # noqa: BLE001 (EOF: the searching process ended)
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        self.pending = False

    def submit(self, *task) -> None:
        self.conn.send(task)
        self.pending = True

    def result(self):
        try:
            out = self.conn.recv()
        except EOFError:
            raise HelperStopped(f"the helper process {self.pid} stopped") from None
        finally:
            self.pending = False
        if isinstance(out, BaseException):
            raise out
        return out

    def close(self) -> None:
        """End the helper (at once if it is still working on a task) and give OpenBLAS its
        threads back."""
        if not self.pending:
            try:
                self.conn.send(None)
            except OSError:
                pass
        else:
            os.kill(self.pid, signal.SIGTERM)
        self.conn.close()
        for _ in range(500):  # up to 5 s, then it is killed
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                break
            time.sleep(0.01)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self.blas[1](self.saved)


def _serve(conn, fn, init) -> None:
    if init is not None:
        init()
    while (task := conn.recv()) is not None:
        try:
            out = fn(*task)
        except Exception as e:  # noqa: BLE001 (raised again in the other process)
            out = e
        conn.send(out)
