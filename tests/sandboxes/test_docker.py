"""The docker sandbox: each hardening property checked from inside a container.

A stand-in runner (below) takes the runner's arguments, imports the
submission's ``model.py``, calls ``Model().predict`` on the input array and
writes ``predictions.json``. The hostile behaviour under test lives in each
submission's ``model.py``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import socket
import subprocess
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.types import Limits, SandboxJob
from harness_sandboxes.docker import (
    DEFAULT_IMAGE,
    LABEL,
    DockerSandbox,
    _extract_output,
    _owner,
    owner_labels,
    sweep,
)

docker = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]

RUNNER = """\
import argparse, importlib.util, json, sys, traceback
from pathlib import Path

import numpy as np

parser = argparse.ArgumentParser()
for name in ("--submission", "--inputs", "--output", "--protocol"):
    parser.add_argument(name, required=True)
args = parser.parse_args()
inputs, output = Path(args.inputs), Path(args.output)
try:
    manifest = json.loads((inputs / "manifest.json").read_text())
    spec = importlib.util.spec_from_file_location(
        "model", Path(args.submission) / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    values = module.Model().predict(np.load(inputs / manifest["array"]))
    (output / "predictions.json").write_text(json.dumps({
        "format_version": 1,
        "ids": manifest["ids"],
        "values": np.asarray(values, dtype=float).tolist(),
        "protocol": json.loads(args.protocol),
    }))
except Exception:
    traceback.print_exc()
    sys.exit(1)
"""

# Run inside the container by the probing model: what the code can see and do.
PROBE = """\
import errno, json, os, socket

def attempt(action):
    try:
        action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "ok"

def write(path):
    with open(path, "w") as f:
        f.write("x")

def connect():
    with socket.create_connection(("127.0.0.1", PORT), timeout=2):
        pass

status = dict(
    line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
    if ":\\t" in line
)
facts = {
    "uid": os.getuid(),
    "gid": os.getgid(),
    "cap_eff": status["CapEff"].strip(),
    "cap_bnd": status["CapBnd"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "interfaces": sorted(os.listdir("/sys/class/net")),
    "routes": open("/proc/net/route").read().splitlines()[1:],
    "host_loopback": attempt(connect),
    "write_root": attempt(lambda: write("/etc/harness-probe")),
    "write_home": attempt(lambda: write("/home/sandbox/probe")),
    "write_submission": attempt(lambda: write("/submission/probe")),
    "write_inputs": attempt(lambda: write("/inputs/probe")),
    "write_tmp": attempt(lambda: write("/tmp/probe")),
    "hidden_visible": os.path.exists(HIDDEN),
    "mountinfo": open("/proc/self/mountinfo").read().splitlines(),
}
with open("/output/facts.json", "w") as f:
    json.dump(facts, f)
"""


def model_source(predict_body: str, **constants: Any) -> str:
    """A ``model.py`` whose ``predict(X)`` runs ``predict_body``."""
    header = "".join(f"{k} = {v!r}\n" for k, v in constants.items())
    body = textwrap.indent(textwrap.dedent(predict_body), " " * 8)
    return (
        "import json, os, sys, time\nimport numpy as np\n"
        f"{header}\n"
        "class Model:\n"
        "    def predict(self, X):\n"
        f"{body}\n"
        "        return X.sum(axis=1)\n"
    )


@pytest.fixture
def make_job(tmp_path: Path) -> Any:
    """Build a job whose submission's ``predict`` runs the given code."""
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    np.save(inputs / "inputs.npy", np.arange(12, dtype=float).reshape(3, 4))
    manifest = {"format_version": 1, "kind": "array", "ids": [0, 1, 2]}
    (inputs / "manifest.json").write_text(
        json.dumps({**manifest, "array": "inputs.npy"})
    )

    def make(
        predict_body: str = "",
        *,
        limits: Limits | None = None,
        hidden: tuple[Path, ...] = (),
        **constants: Any,
    ) -> SandboxJob:
        submission = tmp_path / "submission"
        submission.mkdir(exist_ok=True)
        (submission / "model.py").write_text(model_source(predict_body, **constants))
        output = tmp_path / "output"
        output.mkdir(exist_ok=True)
        return SandboxJob(
            runner=runner,
            submission_dir=submission,
            inputs_dir=inputs,
            output_dir=output,
            protocol={"name": "batch", "options": {"output_shape": []}},
            limits=limits or Limits(wall_seconds=30, memory_bytes=512 * 1024**2),
            hidden=hidden,
            label="test",
        )

    return make


@pytest.fixture
def sandbox(docker_client: Any) -> Iterator[DockerSandbox]:
    """A docker sandbox; after the test, nothing of this process may remain."""
    yield DockerSandbox(client_factory=lambda: docker_client)
    mine = {"label": f"{LABEL}.owner={_owner()}"}
    assert docker_client.containers.list(all=True, filters=mine) == []
    assert docker_client.volumes.list(filters=mine) == []


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every container the sandbox creates, as created."""
    from docker.models.containers import ContainerCollection

    original = ContainerCollection.create
    seen: list[Any] = []

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        container = original(self, *args, **kwargs)
        seen.append(container)
        return container

    monkeypatch.setattr(ContainerCollection, "create", create)
    return seen


@docker
def test_normal_run_returns_output(sandbox: DockerSandbox, make_job: Any) -> None:
    job = make_job()
    result = sandbox.run(job)
    predictions = json.loads((job.output_dir / "predictions.json").read_text())
    assert result.exit_code == 0, result.stderr
    assert result.timed_out is False
    assert result.killed_reason is None
    assert predictions["values"] == [6.0, 22.0, 38.0]
    assert predictions["ids"] == [0, 1, 2]
    assert predictions["protocol"] == {"name": "batch", "options": {"output_shape": []}}
    assert 0 < result.wall_seconds < 10


@docker
def test_hardening_holds_inside(
    sandbox: DockerSandbox, make_job: Any, tmp_path: Path
) -> None:
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "labels.npz").write_bytes(b"secret")
    with socket.socket() as server:
        # A service on the host's loopback: the container must not reach it.
        server.bind(("127.0.0.1", 0))
        server.listen()
        job = make_job(
            PROBE, PORT=server.getsockname()[1], HIDDEN=str(truth), hidden=(truth,)
        )
        result = sandbox.run(job)
    facts = json.loads((job.output_dir / "facts.json").read_text())
    assert result.exit_code == 0, result.stderr
    assert facts["uid"] == 1000 and facts["gid"] == 1000
    assert int(facts["cap_eff"], 16) == 0
    assert int(facts["cap_bnd"], 16) == 0
    assert facts["no_new_privs"] == "1"
    assert facts["interfaces"] == ["lo"]
    assert facts["routes"] == []
    assert facts["host_loopback"] == "ECONNREFUSED"
    assert facts["write_root"] in ("EROFS", "EACCES")
    assert facts["write_home"] == "EROFS"
    assert facts["write_submission"] == "EROFS"
    assert facts["write_inputs"] == "EROFS"
    assert facts["write_tmp"] == "ok"
    assert facts["hidden_visible"] is False
    mounts = {line.split()[4]: line for line in facts["mountinfo"]}
    # Inputs are bind-mounted read-only from the host, not copied.
    assert str(job.inputs_dir) in mounts["/inputs"].split()[3]
    assert " ro," in mounts["/inputs"] or " ro " in mounts["/inputs"]
    assert " ro," in mounts["/submission"] or " ro " in mounts["/submission"]
    assert " - tmpfs " in mounts["/output"]
    assert " - tmpfs " in mounts["/tmp"]
    assert not any(str(truth) in line for line in facts["mountinfo"])


@docker
def test_image_that_defaults_to_root_still_runs_unprivileged(
    sandbox: DockerSandbox, make_job: Any, docker_client: Any
) -> None:
    draft = docker_client.containers.create(DEFAULT_IMAGE, ["true"])
    try:
        root_image = draft.commit("harness-test-root", "latest", changes=["USER 0:0"])
    finally:
        draft.remove(force=True)
    try:
        body = "open('/output/uid.txt', 'w').write(str(os.getuid()))"
        job = dataclasses.replace(make_job(body), image="harness-test-root:latest")
        result = sandbox.run(job)
        assert result.exit_code == 0, result.stderr
        assert (job.output_dir / "uid.txt").read_text() == "1000"
    finally:
        docker_client.images.remove(root_image.id, force=True)


@docker
def test_hidden_path_is_never_mounted(
    sandbox: DockerSandbox, make_job: Any, created: list[Any], tmp_path: Path
) -> None:
    inside_inputs = tmp_path / "inputs" / "truth.npz"
    inside_inputs.write_bytes(b"secret")
    with pytest.raises(ValueError, match="hidden path"):
        sandbox.run(make_job(hidden=(inside_inputs,)))
    assert created == []


@docker
def test_folder_inside_a_hidden_tree_may_be_mounted(
    sandbox: DockerSandbox, make_job: Any, tmp_path: Path
) -> None:
    # The inputs of a split live inside the hidden dataset cache; mounting
    # them exposes only them, never their siblings.
    (tmp_path / "truth.npz").write_bytes(b"secret")
    result = sandbox.run(
        make_job("import os; print(sorted(os.listdir('/inputs')))", hidden=(tmp_path,))
    )
    assert result.exit_code == 0, result.stderr
    assert "truth.npz" not in result.stdout


@docker
def test_memory_hog_is_killed(sandbox: DockerSandbox, make_job: Any) -> None:
    limits = Limits(wall_seconds=30, memory_bytes=128 * 1024**2)
    job = make_job("hog = b'x' * (1024 ** 3)", limits=limits)
    result = sandbox.run(job)
    assert result.killed_reason == "memory limit"
    assert result.exit_code == 137
    assert result.timed_out is False


@docker
def test_fork_bomb_is_contained(sandbox: DockerSandbox, make_job: Any) -> None:
    bomb = """
    count, error = 0, None
    try:
        for _ in range(10_000):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            count += 1
    except OSError as exc:
        error = exc.errno
    with open("/output/fork.json", "w") as f:
        json.dump({"count": count, "errno": error}, f)
    """
    limits = Limits(wall_seconds=30, memory_bytes=512 * 1024**2, processes=24)
    job = make_job(bomb, limits=limits)
    result = sandbox.run(job)
    facts = json.loads((job.output_dir / "fork.json").read_text())
    assert facts["errno"] == 11  # EAGAIN: the pids limit refused the fork
    assert 5 < facts["count"] < 24
    assert result.exit_code == 0, result.stderr
    # Sleeping children did not keep the container alive past the runner.
    assert result.timed_out is False and result.wall_seconds < 20


@docker
def test_deadline_kills_and_keeps_earlier_logs(
    sandbox: DockerSandbox, make_job: Any
) -> None:
    body = """
    print("started-and-waiting")
    print("to-stderr", file=sys.stderr)
    time.sleep(120)
    """
    job = make_job(body, limits=Limits(wall_seconds=3, memory_bytes=256 * 1024**2))
    started = time.monotonic()
    result = sandbox.run(job)
    assert result.timed_out is True
    assert result.killed_reason == "wall-clock deadline of 3 s"
    assert "started-and-waiting" in result.stdout
    assert "to-stderr" in result.stderr
    assert 3 <= result.wall_seconds < 6
    assert time.monotonic() - started < 10


@docker
def test_output_size_is_capped(sandbox: DockerSandbox, make_job: Any) -> None:
    cap = 1024**2
    body = """
    with open("/output/big.bin", "wb") as f:
        for _ in range(16):
            f.write(b"z" * 1024 ** 2)
    """
    limits = Limits(wall_seconds=30, memory_bytes=256 * 1024**2, output_bytes=cap)
    job = make_job(body, limits=limits)
    result = sandbox.run(job)
    size = (job.output_dir / "big.bin").stat().st_size
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert cap // 2 < size <= cap


@docker
def test_stdout_flood_is_bounded(
    sandbox: DockerSandbox, make_job: Any, created: list[Any]
) -> None:
    body = """
    line = "y" * 99 + "\\n"
    for _ in range(40):
        sys.stdout.write(line * 1000)
    print("THE-END")
    """
    limits = Limits(wall_seconds=60, memory_bytes=256 * 1024**2, log_bytes=4096)
    result = sandbox.run(make_job(body, limits=limits))
    dropped = re.match(
        r"\[\.\.\. (\d+) earlier bytes dropped \.\.\.\]\n", result.stdout
    )
    assert result.exit_code == 0
    assert result.stdout.endswith("y\nTHE-END\n")
    assert dropped is not None and int(dropped[1]) > 0
    assert len(result.stdout) - dropped.end() == 4096
    job_container = next(c for c in created if c.labels[f"{LABEL}.role"] == "job")
    log_config = job_container.attrs["HostConfig"]["LogConfig"]
    assert log_config == {
        "Type": "json-file",
        "Config": {"max-file": "2", "max-size": str(64 * 1024**2)},
    }


@docker
def test_failing_submission_reports_its_error(
    sandbox: DockerSandbox, make_job: Any
) -> None:
    result = sandbox.run(make_job("raise RuntimeError('model is broken')"))
    assert result.exit_code == 1
    assert result.killed_reason is None
    assert "RuntimeError: model is broken" in result.stderr


@docker
def test_sweep_removes_only_dead_owners(docker_client: Any) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead_owner = f"{socket.gethostname()}:{ended.pid}"
    labels = owner_labels("sweeptest", "job")
    alive = docker_client.containers.create(DEFAULT_IMAGE, ["true"], labels=labels)
    dead = docker_client.containers.create(
        DEFAULT_IMAGE, ["true"], labels={**labels, f"{LABEL}.owner": dead_owner}
    )
    try:
        removed = sweep(docker_client)
        remaining = {c.id for c in docker_client.containers.list(all=True)}
        assert removed >= 1
        assert dead.id not in remaining
        assert alive.id in remaining
    finally:
        alive.remove(force=True)
        if dead.id in {c.id for c in docker_client.containers.list(all=True)}:
            dead.remove(force=True)


@docker
def test_missing_image_is_reported(docker_client: Any) -> None:
    sandbox = DockerSandbox(
        image="harness-base:absent", client_factory=lambda: docker_client
    )
    availability = sandbox.availability()
    assert availability.ok is False
    assert "harness-base:absent" in availability.reason
    assert "build-base-image.sh" in availability.fix


@docker
def test_available_with_engine_and_image(docker_client: Any) -> None:
    availability = DockerSandbox(client_factory=lambda: docker_client).availability()
    assert availability.ok is True
    assert DEFAULT_IMAGE in availability.reason


def test_unreachable_engine_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    availability = DockerSandbox().availability()
    assert availability.ok is False
    assert f"socket {tmp_path}/absent.sock does not exist" in availability.reason
    assert "docker-engine.sh" in availability.fix


def test_engine_that_does_not_answer_is_reported(tmp_path: Path) -> None:
    import docker as sdk

    with socket.socket(socket.AF_UNIX) as mute:
        # A socket that accepts connections but never replies.
        mute.bind(str(tmp_path / "mute.sock"))
        mute.listen()
        url = f"unix://{tmp_path}/mute.sock"
        client = sdk.DockerClient(base_url=url, version="1.41", timeout=1)
        availability = DockerSandbox(client_factory=lambda: client).availability()
    assert availability.ok is False
    assert "no Docker engine answers" in availability.reason
    assert "docker-engine.sh" in availability.fix


def test_default_image_is_the_one_the_script_builds() -> None:
    script = (REPO / "scripts" / "build-base-image.sh").read_text()
    assert f'image="{DEFAULT_IMAGE}"' in script


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> Iterator[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    # In uneven chunks, as the engine's stream arrives.
    return iter([data[i : i + 777] for i in range(0, len(data), 777)])


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_extract_output_keeps_only_files_inside(tmp_path: Path) -> None:
    chunks = _tar(
        (_entry("output", tarfile.DIRTYPE), b""),
        (_entry("output/predictions.json"), b"{}"),
        (_entry("output/sub/deep.txt"), b"deep"),
        (_entry("output/../escape.txt"), b"no"),
        (_entry("output/link", tarfile.SYMTYPE, "/etc/passwd"), b""),
        (_entry("output/hard", tarfile.LNKTYPE, "output/predictions.json"), b""),
        (_entry("output/fifo", tarfile.FIFOTYPE), b""),
        (_entry("output/too-big.bin"), b"b" * 100),
    )
    destination = tmp_path / "out"
    written, skipped = _extract_output(chunks, destination, max_bytes=50)
    found = sorted(str(p.relative_to(destination)) for p in destination.rglob("*"))
    assert found == ["predictions.json", "sub", "sub/deep.txt"]
    assert (destination / "sub" / "deep.txt").read_bytes() == b"deep"
    assert (written, skipped) == (6, 5)
    assert not (tmp_path / "escape.txt").exists()
    assert os.listdir(tmp_path) == ["out"]
