"""Builtin sandboxes: a hardened Docker container and a process sandbox."""
