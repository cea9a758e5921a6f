"""Helpers every attack model imports: its parameters in, one PROBE line out.

Copied next to each attack's ``model.py``. Runs inside the sandbox, so it
uses only the standard library.
"""

import errno
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def params():
    """The values the test baked into this submission (paths, ports, marker)."""
    with open(os.path.join(HERE, "params.json"), encoding="utf-8") as fh:
        return json.load(fh)


def error_name(exc):
    """``ENOENT`` and the like for an OSError, else the exception's type."""
    code = getattr(exc, "errno", None)
    if code is not None and code in errno.errorcode:
        return errno.errorcode[code]
    return type(exc).__name__


def attempt(action):
    """Run ``action()``; return ``"ok"``, ``"ok <what it returned>"`` or why not."""
    try:
        result = action()
    except OSError as exc:
        return error_name(exc)
    return "ok" if result is None else "ok " + str(result)


def read(path, limit=1 << 20):
    """Try to read a file; on success say how much and the hash of what came."""

    def action():
        with open(path, "rb") as fh:
            data = fh.read(limit)
        return f"{len(data)} bytes sha256 {hashlib.sha256(data).hexdigest()}"

    return attempt(action)


def listing(path):
    """Try to list a folder."""
    return attempt(lambda: ",".join(sorted(os.listdir(path))))


def write(path, data=b"x"):
    """Try to create or overwrite a file."""

    def action():
        with open(path, "wb") as fh:
            fh.write(data)

    return attempt(action)


def mark_process(marker):
    """Name this process after the marker so that a survivor can be found.

    The name is inherited by forks; the test scans for it after the run.
    """
    try:
        with open("/proc/self/comm", "w") as fh:
            fh.write(marker[:15])
    except OSError:
        pass


def runner_argument(name):
    """A folder the runner was given on its command line, as seen inside."""
    return sys.argv[sys.argv.index("--" + name) + 1]


def output_dir():
    """The output folder, where the runner writes its results."""
    return runner_argument("output")


def inputs_dir():
    """The inputs folder, where the runner reads the items."""
    return runner_argument("inputs")


def report(facts):
    """Print what the attack observed, for the test to read from the record.

    Every report also says whether the truth could be opened at the moment
    of the attack, from wherever the attack ran.
    """
    facts = dict(facts, truth=read(params()["truth_files"][0]))
    sys.stdout.write("PROBE " + json.dumps(facts, sort_keys=True) + "\n")
    sys.stdout.flush()


def zeros(x):
    """Harmless predictions: one zero per item."""
    import numpy

    return numpy.zeros(len(x))
