"""Exceptions of the harness and the exit codes the CLI maps them to."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    """Exit codes of the ``harness`` command.

    ``OK``: the command did what was asked (a run that was scored).
    ``SUBMISSION_FAILED``: the run finished, but the submission failed; the
    record says why. ``USAGE``: the command line was wrong.
    ``INVALID_INPUT``: a challenge file, predictions file, submission archive
    or other input was malformed. ``SANDBOX_UNAVAILABLE``: no sandbox that
    was asked for can run here. ``PLUGIN_ERROR``: a plugin failed to load or
    broke its contract. ``INTERNAL``: a bug in the harness.
    ``INTERRUPTED``: stopped by SIGINT; SIGTERM and SIGHUP end with 128
    plus the signal number, after the run has cleaned up and written its
    record.
    """

    OK = 0
    SUBMISSION_FAILED = 1
    USAGE = 2
    INVALID_INPUT = 3
    SANDBOX_UNAVAILABLE = 4
    PLUGIN_ERROR = 5
    INTERNAL = 70
    INTERRUPTED = 130


class HarnessError(Exception):
    """Base class of errors the harness reports to its user."""

    exit_code = ExitCode.INTERNAL


class InvalidInputError(HarnessError):
    """A file or value given to the harness is malformed."""

    exit_code = ExitCode.INVALID_INPUT


class ChallengeError(InvalidInputError):
    """A challenge file is invalid or refers to something unknown."""


class SubmissionError(InvalidInputError):
    """A submission archive or folder cannot be used."""


class PredictionsError(InvalidInputError):
    """Predictions do not match what the challenge expects."""


class PluginError(HarnessError):
    """A plugin failed to load, clashed with another, or broke its contract."""

    exit_code = ExitCode.PLUGIN_ERROR


class UnknownNameError(HarnessError, KeyError):
    """A name that no registered plugin provides."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, what: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        message = f"unknown {what} {name!r}"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        message += f" (known: {', '.join(known) or 'none'})"
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class SandboxUnavailableError(HarnessError):
    """The requested sandbox cannot run on this machine."""

    exit_code = ExitCode.SANDBOX_UNAVAILABLE


class HarnessWarning(UserWarning):
    """Base class of the harness's warnings."""


class IsolationWarning(HarnessWarning):
    """A sandbox could not enforce part of its isolation on this machine."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest known name, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
