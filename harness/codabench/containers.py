"""Docker containers for the emulator: create, watch, kill, collect, remove.

Each step of an emulated run is one container made by
:class:`ContainerRunner`: hardened like the docker sandbox's containers (no
network, read-only root, no capabilities, caps on memory, CPUs and
processes, an unprivileged user, rotating logs), labelled with the run id,
watched against a wall-clock deadline that the harness keeps itself, killed
when the deadline passes, its logs read before it is removed, and removed in
every case.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import SandboxUnavailableError
from harness.types import Limits

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

__all__ = [
    "ContainerRunner",
    "StepLog",
    "bounded",
    "check_image",
    "connect",
    "expand_command",
]

log = logging.getLogger(__name__)

_KILL_WAIT = 10.0


@dataclasses.dataclass(frozen=True)
class StepLog:
    """One container run: its command, exit status, time and bounded logs.

    :param kind: ``submission``, ``ingestion`` or ``scoring``.
    :param exit_code: ``None`` when the container never started.
    """

    kind: str
    command: str
    exit_code: int | None
    seconds: float
    timed_out: bool = False
    killed_reason: str | None = None
    stdout: str = ""
    stderr: str = ""


def connect(client_factory: Callable[[], DockerClient] | None = None) -> DockerClient:
    """Return a connected client and sweep what dead harness runs left behind.

    :param client_factory: returns a client; ``docker.from_env()`` if ``None``.
    :raises SandboxUnavailableError: when no engine answers.
    """
    try:
        if client_factory is not None:
            client = client_factory()
        else:
            import docker

            client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        # The SDK raises bare requests/urllib3 errors for a missing socket.
        raise SandboxUnavailableError(
            f"no Docker engine answers ({exc}); start one as root with "
            "scripts/docker-engine.sh"
        ) from exc
    from harness_sandboxes.docker import sweep

    sweep(client)
    return client


def check_image(client: DockerClient, image: str) -> None:
    """Raise :class:`SandboxUnavailableError`, with a fix, if ``image`` is absent."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        from harness.codabench.export import default_image

        raise SandboxUnavailableError(
            f"image {image} is not on this Docker engine; the platform would pull "
            f"it, this emulator never does. Pass --image with a local image that "
            f"has python3 (for example {default_image()}, built by "
            "scripts/build-base-image.sh)"
        ) from None


def bounded(data: bytes, limit: int) -> str:
    """The last ``limit`` bytes as text, saying how many were dropped."""
    text = data[-limit:].decode("utf-8", errors="replace")
    if len(data) > limit:
        return f"[... {len(data) - limit} earlier bytes dropped ...]\n{text}"
    return text


def expand_command(command: str, kind: str) -> str:
    """Replace the platform's legacy ``$name`` placeholders in a command."""
    scoring = kind == "scoring"
    places = {
        "$ingestion_program": "/app/program",
        "$submission_program": "/app/ingested_program",
        "$predictions": "/app/input/res" if scoring else "/app/output",
        "$program": "/app/program",
        "$hidden": "/app/input/ref",
        "$shared": "/app/shared",
        "$output": "/app/output",
        "$input": "/app/input" if scoring else "/app/input_data",
        "$tmp": "/app/output",
    }
    # Longest names first, so no name is ever replaced inside a longer one.
    for name in sorted(places, key=len, reverse=True):
        command = command.replace(name, places[name])
    return command


class ContainerRunner:
    """Creates, watches and always removes the containers of one run.

    Containers are hardened like the docker sandbox's and labelled with the
    run id, so that :func:`harness_sandboxes.docker.sweep` finds leftovers.
    """

    def __init__(
        self,
        client: DockerClient,
        image: str,
        run_id: str,
        label: str,
        *,
        memory_mb: int = 4096,
        cpus: float = 1.0,
        processes: int = 256,
        log_bytes: int = 64 * 1024,
    ) -> None:
        self.client = client
        self.image = image
        self.run_id = run_id
        self.label = label
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.processes = processes
        self.log_bytes = log_bytes

    def limits(self, seconds: float) -> Limits:
        """The limits of a step that may last ``seconds``."""
        return Limits(
            wall_seconds=seconds,
            memory_bytes=self.memory_mb * 1024**2,
            processes=self.processes,
            cpus=self.cpus,
            log_bytes=self.log_bytes,
        )

    def run(
        self,
        kind: str,
        command: str,
        mounts: Mapping[str, tuple[Path, bool]],
        deadline: float,
        limit: float,
    ) -> StepLog:
        """Run ``command`` until it exits or the monotonic ``deadline`` passes.

        :param mounts: container path to ``(host path, writable)``.
        """
        from docker.errors import APIError, NotFound
        from docker.types import Mount

        from harness_sandboxes.docker import hardened_config, owner_labels

        command = expand_command(command, kind)
        config = hardened_config(self.limits(limit))
        binds = [
            Mount(target, str(source.resolve()), type="bind", read_only=not writable)
            for target, (source, writable) in mounts.items()
        ]
        started = time.monotonic()
        container: Container | None = None
        log.info("codabench run %s: %s step: %s", self.run_id, kind, command)
        try:
            try:
                container = self.client.containers.create(
                    self.image,
                    command,
                    mounts=binds,
                    working_dir="/app/program",
                    labels=owner_labels(self.run_id, f"codabench-{kind}", self.label),
                    **config,
                )
                container.start()
            except APIError as exc:
                return StepLog(
                    kind,
                    command,
                    None,
                    time.monotonic() - started,
                    stderr=f"the engine could not start the container: "
                    f"{exc.explanation or exc}",
                )
            timed_out = self._wait(container, deadline)
            container.reload()
            state = container.attrs["State"]
            code = state.get("ExitCode")
            reason = None
            if timed_out:
                reason = f"execution time limit of {limit:g} s"
            elif state.get("OOMKilled") or code == 137:
                reason = f"memory limit of {self.memory_mb} MB"
            limit_bytes = self.log_bytes
            return StepLog(
                kind=kind,
                command=command,
                exit_code=code,
                seconds=round(time.monotonic() - started, 3),
                timed_out=timed_out,
                killed_reason=reason,
                stdout=bounded(container.logs(stdout=True, stderr=False), limit_bytes),
                stderr=bounded(container.logs(stdout=False, stderr=True), limit_bytes),
            )
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except NotFound:
                    pass
                except APIError as exc:
                    log.warning(
                        "codabench run %s: container %s not removed (%s); "
                        "the next run sweeps it",
                        self.run_id,
                        container.id,
                        exc,
                    )

    @staticmethod
    def _wait(container: Container, deadline: float) -> bool:
        """Poll until the container exits; kill it at the deadline."""
        from docker.errors import APIError

        pause = 0.02
        while True:
            container.reload()
            if container.status not in ("created", "running", "restarting"):
                return False
            if time.monotonic() >= deadline:
                break
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 0.5)
        # It may exit between the last poll and the kill.
        with contextlib.suppress(APIError):
            container.kill()
        until = time.monotonic() + _KILL_WAIT
        while time.monotonic() < until:
            container.reload()
            if container.status not in ("running", "restarting"):
                break
            time.sleep(0.05)
        return True
