"""Builtin submission kinds: how a submission's code is loaded and called."""
