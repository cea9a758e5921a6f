"""The docker sandbox: each run in a fresh, hardened container.

Needs a reachable Docker engine and the base image made by
``scripts/build-base-image.sh`` (or any image with ``python3`` and numpy given
as :attr:`SandboxJob.image`). A run uses two containers and one volume:

- the **job container** runs ``python3 /harness/runner.py`` as uid 1000 with
  no network, a read-only root file system, a size-capped ``/tmp``, every
  capability dropped, ``no-new-privileges``, and limits on memory (swap
  included), CPUs and processes. The submission, the inputs folder and the
  runner are bind-mounted read-only; nothing else of the host is visible;
- ``/output`` is a tmpfs **volume** whose size is the output limit, so a
  write past the cap fails with "no space left on device";
- a tiny **holder container** keeps that volume mounted after the job
  container exits (the engine unmounts a tmpfs volume, losing its files, as
  soon as no running container uses it), so its content can be copied into
  :attr:`SandboxJob.output_dir` with the archive API. Only regular files and
  folders are copied out.

The harness keeps its own wall-clock deadline by polling and kills the job
container when it passes; logs are read before anything is removed, and
everything a run created is removed in every case, exceptions included.
Every container and volume carries labels naming the process that made it,
so :func:`sweep` can remove what a crashed harness left behind.

Known limits: the output folder's tmpfs pages and ``/tmp`` count towards the
memory limit, like any tmpfs; the log driver rotates files at a size well
above :attr:`Limits.log_bytes`, so the count of dropped bytes reported at the
top of a truncated stream is a lower bound; a trivial run takes about 0.8 s
here, against 0.1 s in the process sandbox, a third of it to start the holder.

The docker SDK is imported only when the sandbox is used, so that discovering
plugins stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import logging
import os
import socket
import tarfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from harness.errors import (
    IsolationWarning,
    SandboxUnavailableError,
    SubmissionError,
)
from harness.hookspecs import hookimpl
from harness.types import (
    Availability,
    Limits,
    SandboxJob,
    SandboxPlugin,
    SandboxResult,
)
from harness_sandboxes._logs import TailBuffer

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

__all__ = [
    "DEFAULT_IMAGE",
    "LABEL",
    "DockerSandbox",
    "hardened_config",
    "owner_labels",
    "sweep",
]

log = logging.getLogger(__name__)

#: The image ``scripts/build-base-image.sh`` builds; keep the two in step.
DEFAULT_IMAGE = "harness-base:bookworm-r1"
#: Prefix of every label this sandbox puts on containers and volumes.
LABEL = "org.harness"
#: The unprivileged user code runs as; the base image names it ``sandbox``.
SANDBOX_UID = 1000

_DEFAULT_HOST = "unix:///var/run/docker.sock"
_ENGINE_FIX = "start an engine as root with scripts/docker-engine.sh"
_IMAGE_FIX = "build it as root with scripts/build-base-image.sh"
_TMP_BYTES = 64 * 1024**2
_OUTPUT_INODES = 10_000
_KILL_WAIT = 10.0


# -- labels and leftovers -----------------------------------------------------------


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_labels(run_id: str, role: str, job: str = "") -> dict[str, str]:
    """Labels that tie a container or volume to this process and run.

    :param run_id: identifier shared by everything one run creates.
    :param role: what the object is for (``job``, ``output-holder``, ...).
    :param job: the job's own label, for people reading ``docker ps``.
    """
    return {
        f"{LABEL}.sandbox": "docker",
        f"{LABEL}.run": run_id,
        f"{LABEL}.owner": _owner(),
        f"{LABEL}.role": role,
        f"{LABEL}.job": job[:200],
    }


def _owner_gone(owner: str) -> bool:
    """Whether the harness process named by an owner label has ended.

    Objects made on another host are never judged gone: their owner may be
    alive there.
    """
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep(client: DockerClient, *, everything: bool = False) -> int:
    """Remove containers and volumes left by harness processes that died.

    Only objects labelled by this sandbox are considered, and of those only
    the ones whose owning process (same host) no longer exists, so runs of a
    harness still working on the same engine are left alone.

    :param client: a connected docker client.
    :param everything: remove every labelled object, whoever made it.
    :returns: how many containers and volumes were removed.
    """
    from docker.errors import APIError, NotFound

    removed = 0
    selector = {"label": f"{LABEL}.sandbox=docker"}
    # Sparse listing reads one summary instead of inspecting each container,
    # which fails when another run removes one in between.
    for container in client.containers.list(all=True, filters=selector, sparse=True):
        owner = (container.attrs.get("Labels") or {}).get(f"{LABEL}.owner", "")
        if everything or _owner_gone(owner):
            try:
                container.remove(force=True)
                removed += 1
            except NotFound:
                pass
    for volume in client.volumes.list(filters=selector):
        labels = volume.attrs.get("Labels") or {}
        if everything or _owner_gone(labels.get(f"{LABEL}.owner", "")):
            try:
                volume.remove(force=True)
                removed += 1
            except (NotFound, APIError) as exc:
                log.debug("sweep: volume %s kept: %s", volume.name, exc)
    if removed:
        log.info("docker sandbox: swept %d leftover object(s)", removed)
    return removed


# -- container settings ---------------------------------------------------------


def hardened_config(
    limits: Limits, *, tmp_bytes: int = _TMP_BYTES, user: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` that confine a container.

    No network, read-only root with a ``tmp_bytes`` tmpfs at ``/tmp``, no
    capabilities, ``no-new-privileges``, memory equal to memory plus swap (so
    no swap), CPU and process caps, a private IPC namespace, an init process
    that reaps orphans, no core dumps, and a log driver that rotates.

    :param limits: the run's limits.
    :param tmp_bytes: size of the ``/tmp`` tmpfs, counted in the memory limit.
    :param user: ``uid:gid`` to run as; the unprivileged sandbox user if
        ``None``.
    """
    from docker.types import LogConfig, Ulimit

    # Rotation must keep much more than what is returned: the json-file
    # driver stores each line with its own framing, which can be several
    # times the line itself.
    # Large enough that ordinary floods never rotate it: reading a log back
    # across a rotation can lose its last lines.
    log_file_bytes = max(64 * 1024**2, 16 * limits.log_bytes)
    threads = str(max(1, int(limits.cpus)))
    return {
        "user": user or f"{SANDBOX_UID}:{SANDBOX_UID}",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={tmp_bytes},mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.processes,
        "ipc_mode": "private",
        "init": True,
        "oom_score_adj": 500,
        "ulimits": [
            Ulimit(name="core", soft=0, hard=0),
            Ulimit(name="nofile", soft=1024, hard=1024),
        ],
        "log_config": LogConfig(
            type="json-file",
            config={"max-size": str(log_file_bytes), "max-file": "2"},
        ),
        "environment": {
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        },
    }


def _check_hidden(mounted: Mapping[str, Path], hidden: tuple[Path, ...]) -> None:
    """Refuse a mount that is, or would reveal, a hidden path.

    A folder inside a hidden tree may be mounted (the inputs of a split live
    in the dataset cache); only that folder is then visible.
    """
    for target, source in mounted.items():
        for secret in hidden:
            secret = Path(secret).resolve()
            if secret.is_relative_to(source):
                raise ValueError(
                    f"refusing to mount {source} at {target}: it overlaps the "
                    f"hidden path {secret}"
                )


# -- copying the output folder out ------------------------------------------------


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (for ``tarfile``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def _extract_output(
    chunks: Iterator[bytes], destination: Path, *, max_bytes: int
) -> tuple[int, int]:
    """Write the regular files and folders of a tar stream into ``destination``.

    The archive comes from a folder the submission controlled, so names are
    confined to ``destination``, links and special files are skipped, modes
    are not copied and at most ``max_bytes`` are written.

    :returns: bytes written and entries skipped.
    """
    written = skipped = 0
    destination.mkdir(parents=True, exist_ok=True)
    stream = io.BufferedReader(_ChunkReader(chunks), buffer_size=1024**2)
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            # The archive of /output names its entries output/...
            parts = PurePosixPath(member.name).parts[1:]
            if not parts:
                continue
            if any(p in ("", ".", "..") for p in parts) or "\\" in member.name:
                skipped += 1
                continue
            target = destination.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile() and written + member.size <= max_bytes:
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                with open(target, "wb") as sink:
                    while block := source.read(1024**2):
                        sink.write(block)
                written += member.size
            else:
                skipped += 1
    return written, skipped


def _probe_socket(path: str) -> None:
    """Fail fast, and without leaking a socket, when nothing listens at ``path``.

    The SDK leaves its socket open when the connection is refused, which
    surfaces later as a resource warning; an engine that is simply not
    running is the common case, so it is checked here first.
    """
    if not Path(path).exists():
        raise SandboxUnavailableError(
            f"no Docker engine: socket {path} does not exist; {_ENGINE_FIX}"
        )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(path)
        except OSError as exc:
            raise SandboxUnavailableError(
                f"no Docker engine answers at {path}: {exc}; {_ENGINE_FIX}"
            ) from exc


# -- the sandbox ---------------------------------------------------------------------


class DockerSandbox(SandboxPlugin):
    """Runs each job in a fresh hardened container (see the module docstring).

    :param image: image used when a job names none.
    :param client_factory: returns a connected docker client; defaults to
        ``docker.from_env()``, which honours ``DOCKER_HOST``.
    :param tmp_bytes: size of the ``/tmp`` tmpfs of a job container.
    """

    name = "docker"
    version = "1"
    priority = 20
    description = "hardened Docker container without network"

    def __init__(
        self,
        *,
        image: str = DEFAULT_IMAGE,
        client_factory: Callable[[], DockerClient] | None = None,
        tmp_bytes: int = _TMP_BYTES,
    ) -> None:
        self.image = image
        self.tmp_bytes = tmp_bytes
        self._client_factory = client_factory
        self._client: DockerClient | None = None
        self._swept = False

    # -- engine ---------------------------------------------------------------

    def client(self) -> DockerClient:
        """Return a connected client, sweeping leftovers on first contact.

        :raises SandboxUnavailableError: when no engine answers.
        """
        if self._client is None:
            self._client = self._connect()
        if not self._swept:
            sweep(self._client)
            self._swept = True
        return self._client

    def _connect(self) -> DockerClient:
        if self._client_factory is None:
            host = os.environ.get("DOCKER_HOST", _DEFAULT_HOST)
            if host.startswith("unix://"):
                _probe_socket(host[len("unix://") :])
        client = None
        try:
            if self._client_factory is not None:
                client = self._client_factory()
            else:
                import docker

                client = docker.from_env(timeout=60)
            client.ping()
        except Exception as exc:
            # The SDK raises bare requests or urllib3 errors when the engine
            # is away, so nothing narrower catches every way of failing.
            if client is not None:
                client.close()
            where = os.environ.get("DOCKER_HOST", _DEFAULT_HOST)
            raise SandboxUnavailableError(
                f"no Docker engine answers at {where}: {exc}; {_ENGINE_FIX}"
            ) from exc
        return client

    def availability(self) -> Availability:
        try:
            import docker  # noqa: F401
        except ImportError:
            return Availability(
                False, "the docker Python package is missing", "pip install docker"
            )
        try:
            client = self.client()
        except SandboxUnavailableError as exc:
            return Availability(False, str(exc), _ENGINE_FIX)
        from docker.errors import ImageNotFound

        try:
            client.images.get(self.image)
        except ImageNotFound:
            return Availability(False, f"image {self.image} is missing", _IMAGE_FIX)
        version = client.version().get("Version", "?")
        return Availability(True, f"engine {version}, image {self.image}")

    @functools.cached_property
    def _unenforced(self) -> tuple[str, ...]:
        """Limits this engine reports it cannot apply, as notes."""
        info = self.client().info()
        checks = {
            "MemoryLimit": "memory limit",
            "SwapLimit": "swap limit (memory plus swap)",
            "PidsLimit": "process limit",
            "CpuCfsQuota": "CPU limit",
        }
        return tuple(
            f"the engine cannot enforce the {what} on this kernel"
            for key, what in checks.items()
            if info.get(key) is False
        )

    # -- a run ----------------------------------------------------------------

    def prepare_requirements(
        self,
        job: SandboxJob,
        requirements: str,
        *,
        allowed: Mapping[str, str],
        wheels: Path | None,
    ) -> SandboxJob:
        """Check the pins against ``allowed`` and build a derived image."""
        from harness_sandboxes._requirements import (
            build_requirements_image,
            parse_requirements,
        )

        pins = parse_requirements(requirements, allowed)
        if wheels is None or not Path(wheels).is_dir():
            raise SubmissionError(
                "requirements.txt is accepted by this challenge, but no wheel "
                f"folder is available to install from (got {wheels}); the host "
                "sets submission.requirements.wheels or --wheels"
            )
        tag = build_requirements_image(
            self.client(),
            pins,
            base_image=job.image or self.image,
            wheels_dir=Path(wheels),
        )
        return dataclasses.replace(job, image=tag)

    def run(self, job: SandboxJob) -> SandboxResult:
        from docker.errors import ImageNotFound
        from docker.types import Mount

        mounted = {
            "/submission": Path(job.submission_dir).resolve(),
            "/inputs": Path(job.inputs_dir).resolve(),
            "/harness/runner.py": Path(job.runner).resolve(),
        }
        _check_hidden(
            {**mounted, "/output": Path(job.output_dir).resolve()}, job.hidden
        )
        client = self.client()
        image = job.image or self.image
        try:
            client.images.get(image)
        except ImageNotFound as exc:
            raise SandboxUnavailableError(
                f"image {image} is missing; {_IMAGE_FIX}"
            ) from exc
        notes = list(self._unenforced)
        for note in notes:
            warnings.warn(f"docker sandbox: {note}", IsolationWarning, stacklevel=2)

        limits = job.limits
        run_id = uuid.uuid4().hex[:12]
        volume_name = f"harness-output-{run_id}"
        output_mount = Mount("/output", volume_name, type="volume", no_copy=True)
        mounts = [output_mount] + [
            Mount(target, str(source), type="bind", read_only=True)
            for target, source in mounted.items()
        ]
        command = ["python3", "-I", "-B", "-u", "/harness/runner.py"]
        for name in ("submission", "inputs", "output"):
            command += [f"--{name}", f"/{name}"]
        command += ["--protocol", json.dumps(dict(job.protocol))]
        created: list[Container] = []
        volume = None
        log.info(
            "docker sandbox: run %s of %s in %s",
            run_id,
            job.label or job.submission_dir,
            image,
        )
        try:
            volume = client.volumes.create(
                name=volume_name,
                driver="local",
                driver_opts={
                    "type": "tmpfs",
                    "device": "tmpfs",
                    "o": f"size={limits.output_bytes},uid={SANDBOX_UID},"
                    f"gid={SANDBOX_UID},mode=0700,nr_inodes={_OUTPUT_INODES}",
                },
                labels=owner_labels(run_id, "output", job.label),
            )
            holder = self._start_holder(client, image, output_mount, run_id, job)
            created.append(holder)
            container = client.containers.create(
                image,
                command,
                mounts=mounts,
                working_dir="/submission",
                labels=owner_labels(run_id, "job", job.label),
                **hardened_config(limits, tmp_bytes=self.tmp_bytes),
            )
            created.append(container)
            result = self._execute(container, limits, notes)
            written, skipped = _extract_output(
                holder.get_archive("/output")[0],
                Path(job.output_dir),
                max_bytes=limits.output_bytes,
            )
            if skipped:
                notes.append(
                    f"{skipped} output entries not copied out (links, special "
                    "files, unsafe names, or past the output size limit)"
                )
            log.info(
                "docker sandbox: run %s exit %s after %.2f s, %d output bytes",
                run_id,
                result.exit_code,
                result.wall_seconds,
                written,
            )
            return dataclasses.replace(result, notes=tuple(notes))
        finally:
            self._remove(created, volume)

    def _start_holder(
        self,
        client: DockerClient,
        image: str,
        output_mount: Any,
        run_id: str,
        job: SandboxJob,
    ) -> Container:
        """Start the container that keeps the output volume mounted."""
        small = Limits(memory_bytes=64 * 1024**2, processes=8, cpus=0.1, log_bytes=1024)
        config = hardened_config(small, tmp_bytes=1024**2)
        holder = client.containers.create(
            image,
            ["python3", "-c", "import signal; signal.pause()"],
            mounts=[output_mount],
            labels=owner_labels(run_id, "output-holder", job.label),
            **config,
        )
        try:
            holder.start()
        except Exception:
            holder.remove(force=True)
            raise
        return holder

    def _execute(
        self, container: Container, limits: Limits, notes: list[str]
    ) -> SandboxResult:
        """Start ``container``, enforce the deadline and collect what it left."""
        started = time.monotonic()
        container.start()
        deadline = started + limits.wall_seconds
        pause = 0.02
        timed_out = False
        while True:
            container.reload()
            if container.status not in ("created", "running", "restarting"):
                break
            if time.monotonic() >= deadline:
                timed_out = True
                self._kill(container)
                break
            # Short polls first, so quick runs return quickly; long runs are
            # checked twice a second at most.
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 0.5)
        elapsed = time.monotonic() - started
        state = container.attrs["State"]
        code = state.get("ExitCode")
        killed_reason = None
        if timed_out:
            killed_reason = f"wall-clock deadline of {limits.wall_seconds:g} s"
        elif state.get("OOMKilled"):
            killed_reason = "memory limit"
        elif code == 137:
            killed_reason = "memory limit"
            notes.append(
                "exit status 137 (SIGKILL) without an out-of-memory event from "
                "the engine; reported as the memory limit"
            )
        out, err = TailBuffer(limits.log_bytes), TailBuffer(limits.log_bytes)
        for stream, buffer in (("stdout", out), ("stderr", err)):
            chunks = container.logs(
                stdout=stream == "stdout", stderr=stream == "stderr", stream=True
            )
            for chunk in chunks:
                buffer.write(chunk)
        return SandboxResult(
            exit_code=code,
            wall_seconds=elapsed,
            timed_out=timed_out,
            killed_reason=killed_reason,
            stdout=out.text(),
            stderr=err.text(),
        )

    @staticmethod
    def _kill(container: Container) -> None:
        from docker.errors import APIError

        try:
            container.kill()
        except APIError as exc:
            # It may have exited between the last poll and the kill.
            log.debug("docker sandbox: kill: %s", exc)
        until = time.monotonic() + _KILL_WAIT
        while time.monotonic() < until:
            container.reload()
            if container.status not in ("running", "restarting"):
                return
            time.sleep(0.05)
        log.error("docker sandbox: container %s still runs after kill", container.id)

    @staticmethod
    def _remove(containers: list[Container], volume: Any) -> None:
        """Remove what a run created; failures are left to :func:`sweep`."""
        from docker.errors import APIError, NotFound

        for container in reversed(containers):
            try:
                container.remove(force=True)
            except NotFound:
                pass
            except APIError as exc:
                log.warning(
                    "docker sandbox: could not remove container %s: %s",
                    container.id,
                    exc,
                )
        if volume is not None:
            try:
                volume.remove(force=True)
            except NotFound:
                pass
            except APIError as exc:
                log.warning(
                    "docker sandbox: could not remove volume %s: %s", volume.name, exc
                )


@hookimpl
def harness_register_sandboxes() -> list[SandboxPlugin]:
    return [DockerSandbox()]
