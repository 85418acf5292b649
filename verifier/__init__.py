"""vnnc.verifier: the trusted checker. Imports only the standard library, numpy and mpmath."""
