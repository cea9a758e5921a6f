"""The process sandbox: the embedded default when no container engine runs.

The runner is started as a child process with a private view of the file
system, no network and resource limits, using what this machine offers:

- ``bwrap`` (bubblewrap), when it works here, gives the child new mount, PID,
  network, IPC and UTS namespaces: the root file system read-only, a private
  ``/tmp``, only the output folder writable, and every hidden path (the
  truth, the dataset cache, the raw data) covered by an empty read-only
  folder, as are ``/run`` and a container engine's socket named by
  ``DOCKER_HOST``. The private ``/tmp`` and ``/dev/shm`` hold 64 MB each
  where bubblewrap can cap a tmpfs (``--size``).
- A cgroup ``pids`` controller, when writable, caps the process count and
  lets every leftover process be killed at the end; ``memory`` and ``cpu``
  controllers, when writable, cap the memory of all the child's processes
  together and their CPU time (a quota of the challenge's ``cpus``).
- ``setrlimit`` caps the address space, the size of any file written, open
  files and core dumps.
- The output folder's total size is measured ten times a second and once
  more at the end; a child past the output limit is killed and the run fails.

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
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from harness.errors import IsolationWarning, SandboxUnavailableError
from harness.hookspecs import hookimpl
from harness.types import Availability, SandboxJob, SandboxPlugin, SandboxResult
from harness_sandboxes._logs import TailBuffer, drain

log = logging.getLogger(__name__)

_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_KILL_GRACE = 2.0
_SOCKET_DIRS = (Path("/run"), Path("/var/run"))
#: Size of the child's private ``/tmp`` and ``/dev/shm``, as in the docker
#: sandbox; neither counts towards the address-space limit.
_SCRATCH_BYTES = 64 * 1024**2
_SETUP_ATTEMPTS = 3
#: How often the output folder's total size is measured while a child runs.
_OUTPUT_POLL_SECONDS = 0.1
_BLOCK = 4096
#: How deep the output folder may nest; a deeper tree fails the run.
_MAX_OUTPUT_DEPTH = 32


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


@functools.lru_cache(maxsize=1)
def _bwrap_options() -> bytes:
    """The help text of bubblewrap, to tell which options this version has."""
    try:
        shown = subprocess.run(
            [shutil.which("bwrap") or "bwrap", "--help"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return shown.stdout + shown.stderr


def _bwrap_sizes_tmpfs() -> bool:
    """Whether this bubblewrap can cap the size of a tmpfs (``--size``)."""
    return b"--size" in _bwrap_options()


class _RunCgroups:
    """Cgroups of one run: ``pids.max`` and, where writable, a memory limit
    and a CPU quota.

    Each part is ``None`` where its controller is not writable here.
    """

    def __init__(
        self, limit: int, memory_bytes: int | None = None, cpus: float | None = None
    ) -> None:
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

        self.memory: Path | None = None
        if memory_bytes is not None:
            self.memory = _memory_cgroup(memory_bytes)
        self.cpu: Path | None = None
        if cpus is not None:
            self.cpu = _cpu_cgroup(cpus)

    def add_self(self) -> None:
        for path in (self.path, self.memory, self.cpu):
            if path is not None:
                (path / "cgroup.procs").write_text(str(os.getpid()))

    def oom_kills(self) -> int:
        """How many processes the kernel killed for the group's memory limit."""
        if self.memory is None:
            return 0
        for name in ("memory.events", "memory.oom_control"):
            for line in _read(self.memory / name).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
        return 0

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
        for path in (self.path, self.memory, self.cpu):
            if path is None:
                continue
            for _ in range(40):
                try:
                    path.rmdir()
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.05)
            else:
                log.warning("could not remove cgroup %s", path)


def _memory_cgroup(limit: int) -> Path | None:
    """Make a memory cgroup below this process's own, capped at ``limit``.

    Unlike the address-space limit, it caps the memory of all the child's
    processes together, counts what they really use, and includes tmpfs
    pages they write. ``None`` where no memory controller is writable.
    """
    return _own_cgroup(
        "memory",
        v1=[
            ("memory.limit_in_bytes", str(limit)),
            ("memory.memsw.limit_in_bytes", str(limit)),
        ],
        v2=[("memory.max", str(limit)), ("memory.swap.max", "0")],
    )


def _cpu_cgroup(cpus: float) -> Path | None:
    """Make a cpu cgroup below this process's own with a quota of ``cpus``.

    The quota is CPU time per scheduling period, shared by all the child's
    processes, as a container engine sets it. ``None`` where no cpu
    controller is writable.
    """
    period = 100_000
    quota = str(max(1000, round(cpus * period)))
    return _own_cgroup(
        "cpu",
        v1=[("cpu.cfs_period_us", str(period)), ("cpu.cfs_quota_us", quota)],
        v2=[("cpu.max", f"{quota} {period}")],
    )


def _own_cgroup(
    controller: str, v1: list[tuple[str, str]], v2: list[tuple[str, str]]
) -> Path | None:
    """Make a cgroup of ``controller`` below this process's own and set it up.

    Writes the ``v1`` or ``v2`` settings (file name, value) in order; the
    first file must exist, the others are written where they exist.
    """
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, relative = line.split(":", 2)
        if controller in controllers.split(","):
            base = Path("/sys/fs/cgroup") / controllers
            if not base.is_dir():
                base = Path("/sys/fs/cgroup") / controller
            settings = v1
        elif (
            controllers == ""
            and controller
            in _read(
                Path("/sys/fs/cgroup") / relative.lstrip("/") / "cgroup.subtree_control"
            ).split()
        ):
            base, settings = Path("/sys/fs/cgroup"), v2
        else:
            continue
        path = base / relative.lstrip("/") / f"harness-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            for index, (name, value) in enumerate(settings):
                if index == 0 or (path / name).exists():
                    (path / name).write_text(value)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            continue
        return path
    return None


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
                if not _bwrap_sizes_tmpfs():
                    notes.append(
                        "this bubblewrap cannot cap a tmpfs: the private /tmp "
                        "and /dev/shm may grow until the machine's memory runs out"
                    )
            else:
                notes.append(
                    f"no namespaces ({why}): the child shares the file system "
                    "view and the network of the harness"
                )
            cgroup = _RunCgroups(
                job.limits.processes, job.limits.memory_bytes, job.limits.cpus
            )
            if cgroup.path is None:
                notes.append(
                    "no writable cgroup: the process count is not limited and "
                    "processes that leave the session may outlive the run"
                )
            if cgroup.memory is None:
                notes.append(
                    "no writable memory cgroup: memory is limited per process "
                    "(address space), not for all of the child's processes"
                )
            if cgroup.cpu is None:
                notes.append(
                    "no writable cpu cgroup: CPU time is not limited; the child "
                    "may use every core until its deadline"
                )
            for note in notes:
                warnings.warn(
                    f"process sandbox: {note}", IsolationWarning, stacklevel=2
                )
            try:
                if why is None and b"--json-status-fd" in _bwrap_options():
                    return self._execute_bwrap(job, command, cgroup, tuple(notes))
                return self._execute(job, command, cgroup, tuple(notes))
            finally:
                cgroup.kill_all()
                cgroup.remove()
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _bwrap(self, job: SandboxJob, hidden: list[Path], private: Path) -> list[str]:
        # Scratch space lives in memory, outside the address-space limit, so
        # it gets a cap of its own where bubblewrap can set one.
        scratch = ["--tmpfs", "/tmp"]
        if _bwrap_sizes_tmpfs():
            size = ["--size", str(_SCRATCH_BYTES)]
            scratch = [*size, "--tmpfs", "/tmp", *size, "--tmpfs", "/dev/shm"]
        args = [
            shutil.which("bwrap") or "bwrap",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            *scratch,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
        ]
        # Only what the runner needs is shown: the system's programs and
        # libraries and the Python installation, each read-only. Anything
        # else on the host (other runs' data, service sockets, home folders)
        # does not exist inside.
        shown = _visible_system(hidden)
        for source, kind in shown:
            if kind == "symlink":
                args += ["--symlink", os.readlink(source), str(source)]
            else:
                args += ["--ro-bind", str(source), str(source)]
        bound = [path for path, kind in shown if kind == "bind"]
        covers: list[Path] = []
        for secret in [*hidden, *_socket_dirs(), *filter(None, [_engine_socket()])]:
            inside = any(secret.is_relative_to(b) for b in bound)
            covered = any(
                secret != other and secret.is_relative_to(other) for other in covers
            )
            if not inside or covered:
                continue
            if secret.is_dir():
                covers.append(secret)
            elif secret.exists():
                args += ["--ro-bind", "/dev/null", str(secret)]
        for folder in covers:
            args += ["--tmpfs", str(folder)]
        args += ["--ro-bind", str(private), str(private)]
        for path in (job.submission_dir, job.inputs_dir):
            args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(job.output_dir), str(job.output_dir)]
        # Last, once the folders above are mounted inside them: an empty
        # cover left writable would be unbounded scratch space in memory.
        for folder in covers:
            args += ["--remount-ro", str(folder)]
        # The root is bubblewrap's own tmpfs, holding the mount points made
        # above; read-only, it is no scratch space either.
        args += ["--remount-ro", "/"]
        return args

    def _execute_bwrap(
        self,
        job: SandboxJob,
        command: list[str],
        cgroup: _RunCgroups,
        notes: tuple[str, ...],
    ) -> SandboxResult:
        """Run under bubblewrap; start again if bubblewrap failed to set up.

        Setting up the mounts races with mounts that come and go on the host
        (a container engine starting or removing containers, say), and
        bubblewrap then exits before the runner starts. Its status stream
        tells the two apart: it reports an exit code only for a runner that
        ran. A failure to set up is retried, then raised, never blamed on
        the submission.

        :raises SandboxUnavailableError: bubblewrap failed every attempt.
        """
        for attempt in range(1, _SETUP_ATTEMPTS + 1):
            status_in, status_out = os.pipe()
            try:
                command_with_status = [
                    command[0],
                    "--json-status-fd",
                    str(status_out),
                    *command[1:],
                ]
                result = self._execute(
                    job, command_with_status, cgroup, notes, pass_fds=(status_out,)
                )
            finally:
                os.close(status_out)
            status = _read_available(status_in)
            if b'"exit-code"' in status or result.timed_out or result.exit_code != 1:
                return result
            log.warning(
                "process sandbox: bubblewrap failed to set up (attempt %d of %d): %s",
                attempt,
                _SETUP_ATTEMPTS,
                result.stderr.strip()[-500:],
            )
            time.sleep(0.2 * attempt)
        raise SandboxUnavailableError(
            f"bubblewrap failed to set up the sandbox {_SETUP_ATTEMPTS} times; "
            f"last error: {result.stderr.strip()[-500:]}"
        )

    def _execute(
        self,
        job: SandboxJob,
        command: list[str],
        cgroup: _RunCgroups,
        notes: tuple[str, ...],
        pass_fds: tuple[int, ...] = (),
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
            pass_fds=pass_fds,
        )
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [drain(proc.stdout, out), drain(proc.stderr, err)]
        timed_out = False
        output_excess: str | None = None
        deadline = started + limits.wall_seconds
        try:
            # Each file's size is capped by RLIMIT_FSIZE; their total is
            # watched, a few times a second.
            while True:
                left = deadline - time.monotonic()
                try:
                    proc.wait(timeout=max(0.0, min(_OUTPUT_POLL_SECONDS, left)))
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() >= deadline:
                    timed_out = True
                    self._kill(proc, cgroup)
                    break
                output_excess = _output_excess(
                    job.output_dir, limits.output_bytes, cgroup.pids() or [proc.pid]
                )
                if output_excess is not None:
                    self._kill(proc, cgroup)
                    break
        finally:
            if proc.poll() is None:
                self._kill(proc, cgroup)
        leftovers = cgroup.kill_all()
        if output_excess is None:
            # A child may fill the folder between two looks, and exit.
            output_excess = _output_excess(job.output_dir, limits.output_bytes, [])
        for pump in pumps:
            pump.join(timeout=5)
        elapsed = time.monotonic() - started
        code = proc.returncode
        killed_reason = None
        if timed_out:
            killed_reason = f"wall-clock deadline of {limits.wall_seconds:g} s"
        elif output_excess is not None:
            killed_reason = (
                f"output limit of {limits.output_bytes} bytes ({output_excess})"
            )
        elif cgroup.oom_kills():
            killed_reason = "memory limit (killed by the kernel)"
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
    def _kill(proc: subprocess.Popen[bytes], cgroup: _RunCgroups) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        cgroup.kill_all()
        try:
            proc.wait(timeout=_KILL_GRACE * 5)
        except subprocess.TimeoutExpired:
            log.error("process sandbox: child %s survived SIGKILL", proc.pid)


def _output_excess(folder: Path, limit: int, pids: list[int]) -> str | None:
    """Why the child's output is past ``limit`` bytes, or ``None`` if it is not.

    Counts the files under ``folder`` and the files the child's processes
    (``pids``) still hold open after deleting them, whose space the disk
    keeps until they are closed.
    """
    total, why = _tree_bytes(folder, limit)
    if why is None and total <= limit:
        total += _deleted_open_bytes(folder, pids)
    if why is None and total > limit:
        why = f"the output folder held more than {total} bytes"
    return why


def _tree_bytes(folder: Path, stop_above: int) -> tuple[int, str | None]:
    """Disk space the files under ``folder`` take, counted until ``stop_above``.

    Every entry counts at least one block, so a flood of empty files is
    caught too; a file counts its apparent size where that is larger than
    what it occupies (a sparse file reads back in full). Folders are opened
    relative to their parent, so no path length limits the walk. Returns the
    total and, for a tree that cannot be measured (nested too deep, or a
    folder that cannot be read), the reason.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        top = os.open(folder, flags)
    except FileNotFoundError:
        return 0, None
    except OSError as exc:
        return 0, f"the output folder could not be read ({exc.strerror})"
    total, why = 0, None
    stack: list[tuple[int, Any]] = []  # an open folder and its scandir
    try:
        stack.append((top, os.scandir(top)))
        while stack and total <= stop_above and why is None:
            fd, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                entries.close()
                os.close(fd)
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            total += max(_BLOCK, info.st_size, info.st_blocks * 512)
            if not stat.S_ISDIR(info.st_mode):
                continue
            if len(stack) >= _MAX_OUTPUT_DEPTH:
                why = f"the output folder nested more than {_MAX_OUTPUT_DEPTH} deep"
                break
            try:
                child = os.open(entry.name, flags, dir_fd=fd)
            except FileNotFoundError:
                continue
            stack.append((child, os.scandir(child)))
    except OSError as exc:
        why = f"the output folder could not be read ({exc.strerror})"
    finally:
        for fd, entries in stack:
            entries.close()
            os.close(fd)
    return total, why


def _deleted_open_bytes(folder: Path, pids: list[int]) -> int:
    """Bytes of files under ``folder`` that ``pids`` deleted but still hold,
    open or mapped into memory; each file counted once."""
    prefix = os.fspath(Path(folder).resolve()) + os.sep
    held: dict[tuple[int, int], int] = {}
    for pid in pids:
        for table in (f"/proc/{pid}/fd", f"/proc/{pid}/map_files"):
            try:
                names = os.listdir(table)
            except OSError:
                continue
            for name in names:
                try:
                    target = os.readlink(f"{table}/{name}")
                    if not (
                        target.startswith(prefix) and target.endswith(" (deleted)")
                    ):
                        continue
                    info = os.stat(f"{table}/{name}")
                except OSError:
                    continue
                size = max(_BLOCK, info.st_size, info.st_blocks * 512)
                held[(info.st_dev, info.st_ino)] = size
    return sum(held.values())


def _read_available(fd: int) -> bytes:
    """Read what a pipe holds now, then close it; never wait for more."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)


_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def _visible_system(hidden: list[Path]) -> list[tuple[Path, str]]:
    """The host paths the child sees: system folders and the Python in use.

    Returns ``(path, "bind")`` for folders mounted read-only and
    ``(path, "symlink")`` for top-level links (``/bin`` on a merged-usr
    system). Python's prefixes and the site folders on ``sys.path`` are
    included even where they lie under ``/tmp``; a folder inside a hidden
    path is left out.
    """
    shown: list[tuple[Path, str]] = []
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            shown.append((path, "symlink"))
        elif path.is_dir():
            shown.append((path, "bind"))
    candidates = [
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        str(Path(os.path.realpath(sys.executable)).parent.parent),
        *(p for p in sys.path if "-packages" in p),
    ]
    for raw in candidates:
        path = Path(os.path.realpath(raw))
        if not path.is_dir() or any(path.is_relative_to(h) for h in hidden):
            continue
        if any(path.is_relative_to(p) for p, kind in shown if kind == "bind"):
            continue
        shown = [(p, k) for p, k in shown if k != "bind" or not p.is_relative_to(path)]
        shown.append((path, "bind"))
    return shown


def _socket_dirs() -> list[Path]:
    """The folders where the host's services keep their sockets."""
    found: list[Path] = []
    for folder in _SOCKET_DIRS:
        resolved = folder.resolve()
        if resolved.is_dir() and resolved not in found:
            found.append(resolved)
    return found


def _engine_socket() -> Path | None:
    """The container engine's socket named by ``DOCKER_HOST``, when elsewhere."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host.startswith("unix://"):
        return None
    path = Path(host[len("unix://") :]).resolve()
    if not path.exists() or any(path.is_relative_to(d) for d in _socket_dirs()):
        return None
    return path


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
