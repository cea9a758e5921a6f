"""The process sandbox: the embedded default when no container engine runs.

The runner is started as a child process with a private view of the file
system, no network and resource limits, using what this machine offers:

- ``bwrap`` (bubblewrap), when it works here, gives the child new mount, PID,
  network, IPC and UTS namespaces: the root file system read-only, a private
  ``/tmp``, only the output folder writable, and every hidden path (the
  truth, the dataset cache, the raw data) covered by an empty folder.
- A cgroup ``pids`` controller, when writable, caps the process count and
  lets every leftover process be killed at the end.
- ``setrlimit`` caps the address space, the size of any file written, open
  files and core dumps.

Whatever of this is missing is reported in :attr:`SandboxResult.notes` on
every run, and as an :class:`~harness.errors.IsolationWarning`.

Known limits: memory is capped as address space (``RLIMIT_AS``), which counts
reservations as well as use; without bubblewrap the child shares the host's
file system view and network; without a writable cgroup a child that starts
a new session can outlive the run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from harness.errors import IsolationWarning
from harness.hookspecs import hookimpl
from harness.types import Availability, SandboxJob, SandboxPlugin, SandboxResult
from harness_sandboxes._logs import TailBuffer, drain

log = logging.getLogger(__name__)

_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_KILL_GRACE = 2.0


@functools.lru_cache(maxsize=1)
def bwrap_works() -> str | None:
    """Return why bubblewrap cannot be used here, or ``None`` when it can."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(
            [
                exe,
                "--ro-bind",
                "/",
                "/",
                "--unshare-all",
                "--die-with-parent",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "true",
            ],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        return (
            "bwrap cannot create namespaces here: "
            + probe.stderr.decode(errors="replace").strip()
        )
    return None


class _PidsCgroup:
    """A cgroup with a ``pids.max`` limit, or nothing where none is writable."""

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        for root in _CGROUP_ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            if root == Path("/sys/fs/cgroup") and "pids" not in _read(
                root / "cgroup.subtree_control"
            ):
                continue
            path = root / f"harness-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(limit))
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
                continue
            self.path = path
            break

    def add_self(self) -> None:
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> list[int]:
        if self.path is None:
            return []
        return [int(p) for p in _read(self.path / "cgroup.procs").split()]

    def kill_all(self) -> int:
        """Kill every process left in the group; return how many there were."""
        if self.path is None:
            return 0
        left = 0
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            left = max(left, len(pids))
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        return left

    def remove(self) -> None:
        if self.path is None:
            return
        for _ in range(40):
            try:
                self.path.rmdir()
                return
            except OSError:
                self.kill_all()
                time.sleep(0.05)
        log.warning("could not remove cgroup %s", self.path)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _child_env(job: SandboxJob) -> dict[str, str]:
    threads = str(max(1, int(job.limits.cpus)))
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    # Some processors need these for OpenBLAS to compute correctly.
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class ProcessSandbox(SandboxPlugin):
    """Runs the runner as a limited child process (see the module docstring)."""

    name = "process"
    version = "1"
    priority = 10
    description = "child process with namespaces (bubblewrap) and limits"

    def availability(self) -> Availability:
        if os.name != "posix":
            return Availability(
                False,
                "the process sandbox needs a POSIX system",
                "run on Linux, or use the docker sandbox",
            )
        return Availability(True, self._isolation_summary())

    def _isolation_summary(self) -> str:
        why = bwrap_works()
        if why is None:
            return "namespaces via bubblewrap"
        return f"limits only, no namespaces ({why})"

    def run(self, job: SandboxJob) -> SandboxResult:
        notes: list[str] = []
        hidden = [Path(p).resolve() for p in job.hidden]
        for mounted in (job.submission_dir, job.inputs_dir, job.output_dir):
            for secret in hidden:
                if secret.is_relative_to(Path(mounted).resolve()):
                    raise ValueError(
                        f"refusing to expose {mounted}: hidden path {secret} "
                        "lies inside it"
                    )
        private = Path(tempfile.mkdtemp(prefix="harness-proc-"))
        try:
            runner = private / "runner.py"
            shutil.copyfile(job.runner, runner)
            runner.chmod(0o444)
            command = [
                sys.executable,
                "-I",
                "-B",
                str(runner),
                "--submission",
                str(job.submission_dir),
                "--inputs",
                str(job.inputs_dir),
                "--output",
                str(job.output_dir),
                "--protocol",
                json.dumps(dict(job.protocol)),
            ]
            why = bwrap_works()
            if why is None:
                command = self._bwrap(job, hidden, private) + command
            else:
                notes.append(
                    f"no namespaces ({why}): the child shares the file system "
                    "view and the network of the harness"
                )
            cgroup = _PidsCgroup(job.limits.processes)
            if cgroup.path is None:
                notes.append(
                    "no writable cgroup: the process count is not limited and "
                    "processes that leave the session may outlive the run"
                )
            for note in notes:
                warnings.warn(
                    f"process sandbox: {note}", IsolationWarning, stacklevel=2
                )
            try:
                return self._execute(job, command, cgroup, tuple(notes))
            finally:
                cgroup.kill_all()
                cgroup.remove()
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _bwrap(self, job: SandboxJob, hidden: list[Path], private: Path) -> list[str]:
        args = [
            shutil.which("bwrap") or "bwrap",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
        ]
        for secret in hidden:
            if any(
                secret != other and secret.is_relative_to(other) for other in hidden
            ):
                continue  # already covered by a hidden folder above it
            if secret.is_dir():
                args += ["--tmpfs", str(secret)]
            elif secret.exists():
                args += ["--ro-bind", "/dev/null", str(secret)]
        # The runner copy and the output folder are re-exposed after /tmp is
        # replaced, since either may live under it.
        args += ["--ro-bind", str(private), str(private)]
        for path in (job.submission_dir, job.inputs_dir):
            args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(job.output_dir), str(job.output_dir)]
        return args

    def _execute(
        self,
        job: SandboxJob,
        command: list[str],
        cgroup: _PidsCgroup,
        notes: tuple[str, ...],
    ) -> SandboxResult:
        limits = job.limits

        def prepare_child() -> None:
            os.setsid()
            cgroup.add_self()
            resource.setrlimit(
                resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)
            )
            resource.setrlimit(
                resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes)
            )
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            if os.getuid() != 0:
                resource.setrlimit(
                    resource.RLIMIT_NPROC, (limits.processes, limits.processes)
                )

        out, err = TailBuffer(limits.log_bytes), TailBuffer(limits.log_bytes)
        started = time.monotonic()
        log.info("process sandbox: starting %s", job.label or job.submission_dir)
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(job),
            cwd=str(job.output_dir),
            preexec_fn=prepare_child,
        )
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [drain(proc.stdout, out), drain(proc.stderr, err)]
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill(proc, cgroup)
        finally:
            if proc.poll() is None:
                self._kill(proc, cgroup)
        leftovers = cgroup.kill_all()
        for pump in pumps:
            pump.join(timeout=5)
        elapsed = time.monotonic() - started
        code = proc.returncode
        killed_reason = None
        if timed_out:
            killed_reason = f"wall-clock deadline of {limits.wall_seconds:g} s"
        elif code is not None and code < 0:
            killed_reason = _signal_reason(-code)
        if leftovers:
            notes = (*notes, f"killed {leftovers} process(es) left running")
        log.info("process sandbox: exit %s after %.2f s", code, elapsed)
        return SandboxResult(
            exit_code=code,
            wall_seconds=elapsed,
            timed_out=timed_out,
            killed_reason=killed_reason,
            stdout=out.text(),
            stderr=err.text(),
            notes=notes,
        )

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], cgroup: _PidsCgroup) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        cgroup.kill_all()
        try:
            proc.wait(timeout=_KILL_GRACE * 5)
        except subprocess.TimeoutExpired:
            log.error("process sandbox: child %s survived SIGKILL", proc.pid)


def _signal_reason(signum: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if signum == signal.SIGXFSZ:
        return f"{name}: a file grew past the output size limit"
    if signum == signal.SIGKILL:
        return f"{name}: killed (memory or process limit, or from outside)"
    return f"{name}"


@hookimpl
def harness_register_sandboxes() -> list[SandboxPlugin]:
    return [ProcessSandbox()]
