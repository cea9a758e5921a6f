"""Hostile submissions, run through the whole pipeline in both sandboxes.

Each test runs one attack (``attacks/<name>.py``) with the ``arena`` fixture,
which has already checked what must hold after any attack (see
``conftest.py``). The test then checks how this attack ended: as a failure
whose message names the cause, or as a harmless success in which the
attack's own probe shows it was blocked. Where the process sandbox cannot
stop an attack, the test asserts the weaker behaviour that
``docs/limitations.md`` describes.
"""

from __future__ import annotations

import os
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_support import (
    MEMORY_MB,
    OUTPUT_MB,
    PROCESSES,
    WALL_SECONDS,
    Arena,
    Outcome,
)

from harness_sandboxes.process import _RunCgroups, bwrap_works

#: How an attempt on something missing or refused may fail.
BLOCKED = {"ENOENT", "EACCES", "EPERM", "EROFS", "ENOTDIR"}


def probe_of(outcome: Outcome) -> dict:
    assert outcome.probe is not None, outcome.describe()
    return outcome.probe


def succeeded_harmlessly(outcome: Outcome) -> dict:
    """The run was scored as the zeros the attack returns; give its probe."""
    assert outcome.status == "succeeded", outcome.describe()
    assert outcome.record["primary"]["value"] == pytest.approx(0.0)
    return probe_of(outcome)


def timed_out(outcome: Outcome) -> None:
    assert outcome.status == "failed", outcome.describe()
    assert outcome.failure["kind"] == "timeout", outcome.describe()
    assert f"wall-clock limit of {WALL_SECONDS} s" in outcome.message
    # Killed at the deadline, not left to run until something else gave way.
    assert outcome.record["timings"]["sandbox"] < WALL_SECONDS + 8


@pytest.fixture
def listening() -> Iterator[tuple[socket.socket, socket.socket]]:
    """TCP and UDP servers on one port of all this machine's addresses."""
    with (
        socket.socket() as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        tcp.bind(("0.0.0.0", 0))
        tcp.listen()
        udp.bind(("0.0.0.0", tcp.getsockname()[1]))
        for server in (tcp, udp):
            server.setblocking(False)
        yield tcp, udp


def received(servers: tuple[socket.socket, socket.socket]) -> int:
    """How many connections and datagrams reached the servers."""
    tcp, udp = servers
    count = 0
    while True:
        try:
            tcp.accept()[0].close()
        except BlockingIOError:
            break
        count += 1
    while True:
        try:
            udp.recv(100)
        except BlockingIOError:
            return count
        count += 1


def own_address() -> str | None:
    """This machine's address on its default route, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            # Connecting a UDP socket sends nothing; it only picks a route.
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


# -- reading the truth ------------------------------------------------------------


def test_truth_at_guessed_paths(arena: Arena) -> None:
    outcome = arena.run(arena.submission("read_truth"))

    seen = succeeded_harmlessly(outcome)
    for path in arena.params()["truth_files"]:
        assert seen[path] in BLOCKED, (path, seen[path])
        assert seen["/proc/1/root" + path] in BLOCKED, (path, seen)
    for path in arena.params()["truth_dirs"]:
        assert "truth" not in seen[path], (path, seen[path])
    assert seen["beside the inputs"] == "ENOENT"
    # The inputs themselves are readable: that is what the model is for.
    assert seen["inputs"] == "ok inputs.npy,manifest.json"
    assert seen["inputs.npy"].startswith("ok ")


def test_environment_holds_no_secrets(arena: Arena) -> None:
    outcome = arena.run(arena.submission("read_environment"))

    seen = succeeded_harmlessly(outcome)
    assert seen["found_in"] == []
    assert set(seen["names"]) <= {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "HOSTNAME",
        "PWD",
        "LC_CTYPE",
    }
    assert "/proc/1/environ" in seen


def test_mounts_lead_nowhere(arena: Arena) -> None:
    outcome = arena.run(arena.submission("read_mounts"))

    seen = succeeded_harmlessly(outcome)
    assert seen["reads"], "the probe found no file to read"
    for path, result in seen["reads"].items():
        assert arena.truth_sha not in result, path
        assert "truth" not in Path(path).name, (path, result)


def test_parent_file_descriptors(arena: Arena) -> None:
    outcome = arena.run(arena.submission("read_parent_fds"))

    seen = succeeded_harmlessly(outcome)
    assert seen["fds"], "the probe saw no descriptor at all"
    for path, result in seen["fds"].items():
        target = result.split(" -> ")[0]
        assert "truth" not in target, (path, result)
        if target.startswith(str(arena.cache)):
            assert target.startswith(str(arena.inputs)), (path, result)


def test_other_runs_results(arena: Arena) -> None:
    outcome = arena.run(arena.submission("read_results"))

    seen = succeeded_harmlessly(outcome)
    assert seen["results"] in BLOCKED or seen["results"] == "ok ", seen
    for name in ("record.json", "predictions.json", "scores.json"):
        assert seen[str(arena.results.earlier / name)] in BLOCKED, seen


def test_host_files_outside_the_hidden_list(arena: Arena) -> None:
    secret = arena.outside_tmp / f"secret-{arena.marker}.txt"
    secret.write_text(arena.canary)
    outcome = arena.run(arena.submission("read_host_file", host_file=str(secret)))

    # Neither sandbox shows the host's files beyond the system folders and
    # the Python installation.
    seen = succeeded_harmlessly(outcome)
    assert seen["host_file"] == "ENOENT"


# -- network and engine -----------------------------------------------------------


def test_network_is_unreachable(
    arena: Arena, listening: tuple[socket.socket, socket.socket]
) -> None:
    port = listening[0].getsockname()[1]
    targets = [["127.0.0.1", port], ["1.1.1.1", 53], ["10.255.255.1", 80]]
    address = own_address()
    if address is not None:
        targets.append([address, port])
    outcome = arena.run(arena.submission("network", targets=targets))

    seen = succeeded_harmlessly(outcome)
    assert received(listening) == 0
    # The sandbox's own loopback may carry a datagram; it reaches no one.
    own_loopback = {f"udp 127.0.0.1:{port}"}
    for key, result in seen.items():
        assert key in own_loopback or not result.startswith("ok"), (key, result)
    assert seen[f"tcp 127.0.0.1:{port}"] in ("ECONNREFUSED", "ENETUNREACH")
    assert seen["tcp 1.1.1.1:53"] == "ENETUNREACH"
    assert seen["dns"] == "gaierror"


def test_container_engine_socket(arena: Arena) -> None:
    sockets = ["/var/run/docker.sock", "/run/docker.sock"]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        sockets.append(host[len("unix://") :])
    outcome = arena.run(arena.submission("docker_socket", sockets=sockets))

    seen = succeeded_harmlessly(outcome)
    for path in sockets:
        assert seen[path] in BLOCKED | {"ECONNREFUSED"}, (path, seen[path])


# -- resources ----------------------------------------------------------------------


def process_count_is_capped() -> bool:
    """Whether the process sandbox can cap the process count here."""
    cgroup = _RunCgroups(1)
    try:
        return cgroup.path is not None or os.getuid() != 0
    finally:
        cgroup.remove()


def test_fork_bomb(arena: Arena) -> None:
    if arena.sandbox == "process" and not process_count_is_capped():
        pytest.skip(
            "without a pids cgroup, as root, a fork bomb would fill the machine"
        )
    outcome = arena.run(arena.submission("fork_bomb"))

    timed_out(outcome)
    seen = probe_of(outcome)
    assert seen["refused"] == "EAGAIN"
    assert seen["forked"] < PROCESSES


def test_memory_past_the_limit(arena: Arena) -> None:
    outcome = arena.run(arena.submission("memory_hog", megabytes=4 * MEMORY_MB))

    assert outcome.status == "failed", outcome.describe()
    assert outcome.probe is None
    assert f"the memory limit is {MEMORY_MB} MB" in outcome.message
    if arena.sandbox == "docker":
        assert outcome.failure["kind"] == "killed"
    else:
        assert outcome.failure["kind"] == "MemoryError"


def test_memory_spread_over_processes(arena: Arena) -> None:
    submission = arena.submission("memory_split", children=3, megabytes=MEMORY_MB // 2)
    outcome = arena.run(submission)

    # Both sandboxes cap the memory of all the submission's processes
    # together (the process sandbox through a memory cgroup, which the
    # hostile suite requires as it requires the pids cgroup).
    assert outcome.status == "failed", outcome.describe()
    assert f"the memory limit is {MEMORY_MB} MB" in outcome.message


#: The private scratch folders of both sandboxes hold 64 MB.
SCRATCH_MB = 64


@pytest.mark.parametrize("where", ["output", "tmp", "shm"])
def test_filling_a_folder(arena: Arena, where: str) -> None:
    cap = 16 * OUTPUT_MB if where == "output" else SCRATCH_MB + 16
    outcome = arena.run(arena.submission("fill_disk", where=where, megabytes=cap))

    if arena.sandbox == "process" and where == "output":
        # The total is watched a few times a second, not capped by a file
        # system: the run fails once it is seen, however far the child got.
        assert outcome.status == "failed", outcome.describe()
        assert f"output limit of {OUTPUT_MB * 2**20} bytes" in outcome.message
        assert not list(arena.results.path.rglob("fill-*"))
        return
    if where == "output":
        assert outcome.status == "failed", outcome.describe()
        assert "No space left on device" in outcome.message
        limit = OUTPUT_MB
    else:
        # Filling scratch space is the model's own problem as long as it is
        # capped; the model still answers.
        succeeded_harmlessly(outcome)
        limit = SCRATCH_MB
    seen = probe_of(outcome)
    assert seen["error"] == "ENOSPC"
    assert (limit - 1) * 2**20 <= seen["written"] <= limit * 2**20


def test_endless_busy_loop(arena: Arena) -> None:
    outcome = arena.run(arena.submission("busy_cpu"))

    timed_out(outcome)
    seen = probe_of(outcome)
    if arena.sandbox == "docker":
        assert seen["quota"] == pytest.approx(1.0)
        assert seen["cpu_per_wall"] < 1.2
    else:
        # The child cannot see the host's cgroup files to find its quota,
        # but it gets no more than one CPU where a cpu cgroup is writable.
        assert seen["quota"] in (None, "unknown")
        notes = outcome.record["sandbox"].get("notes") or []
        if not any("no writable cpu cgroup" in note for note in notes):
            assert seen["cpu_per_wall"] < 1.2


def test_stdout_flood(arena: Arena) -> None:
    outcome = arena.run(arena.submission("stdout_flood", megabytes=20))

    seen = succeeded_harmlessly(outcome)
    assert seen["flooded_mb"] == 20
    limit = arena.challenge.limits.log_bytes
    for text in (outcome.stdout, outcome.stderr):
        assert text.startswith("[... ")
        assert len(text.encode()) < limit + 100
    assert outcome.stdout.rstrip().endswith("}")
    folder = arena.results.path / outcome.record["run_id"]
    assert (folder / "record.json").stat().st_size < 4 * limit


# -- writing where it must not ---------------------------------------------------


def test_writing_inputs_and_code(arena: Arena) -> None:
    before = {p.name: p.read_bytes() for p in arena.inputs.iterdir()}
    submission = arena.submission("write_inputs")
    model = (submission / "model.py").read_bytes()
    outcome = arena.run(submission)

    seen = succeeded_harmlessly(outcome)
    for action, result in seen.items():
        assert result in BLOCKED, (action, result)
    assert {p.name: p.read_bytes() for p in arena.inputs.iterdir()} == before
    assert (submission / "model.py").read_bytes() == model


def test_privilege_tricks(arena: Arena) -> None:
    outcome = arena.run(arena.submission("privileges"))

    seen = succeeded_harmlessly(outcome)
    assert int(seen["cap_eff"], 16) == 0
    assert int(seen["cap_eff_after"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert seen["mount"] == "EPERM"
    assert seen["chmod /etc/passwd"] in ("EPERM", "EROFS")
    assert seen["chmod input"] in ("EPERM", "EROFS")
    # EINVAL: in a user namespace, the id does not even exist.
    assert seen["chown to 4242"] in ("EPERM", "EINVAL")
    if arena.sandbox == "docker":
        assert seen["uid"] == 1000 and seen["uid_after"] == 1000
        assert seen["setuid(0)"] == "EPERM"
        assert seen["chown to 0"] == "EPERM"
    else:
        # Known limit: the child keeps the harness's own user id, so as
        # root the calls below change nothing but do not fail.
        assert seen["uid"] == seen["uid_after"] == os.getuid()
        expected = "ok" if os.getuid() == 0 else "EPERM"
        assert seen["setuid(0)"] == expected


# -- signals and processes ------------------------------------------------------------


@pytest.mark.parametrize("target", ["parent", "everyone"])
def test_killing_others(arena: Arena, target: str) -> None:
    if arena.sandbox == "process" and bwrap_works() is not None:
        pytest.skip(
            "without namespaces this attack would kill the harness (and, as "
            "root, every process of the machine)"
        )
    outcome = arena.run(arena.submission("kill_others", target=target))

    seen = succeeded_harmlessly(outcome)
    # The parent is the namespace's init, which ignores signals from inside;
    # ESRCH: nothing else in the namespace could be signalled.
    assert seen["parent"] == 1
    assert seen["kill"] in ("ok", "ESRCH")


def test_ignoring_sigterm(arena: Arena) -> None:
    outcome = arena.run(arena.submission("ignore_sigterm"))

    timed_out(outcome)
    assert probe_of(outcome)["ignoring"] is True


def test_background_processes(arena: Arena) -> None:
    submission = arena.submission("background", link_to="/etc/passwd")
    outcome = arena.run(submission)

    # The detached helper never got to swap the predictions for a link.
    seen = succeeded_harmlessly(outcome)
    assert seen["detached"] == 2


# -- the output folder ---------------------------------------------------------------


@pytest.mark.parametrize("link_to", ["truth", "/etc/passwd"])
def test_predictions_as_a_symlink(arena: Arena, link_to: str) -> None:
    target = str(arena.truth) if link_to == "truth" else link_to
    submission = arena.submission("tamper_output", mode="symlink", link_to=target)
    outcome = arena.run(submission)

    assert outcome.status == "failed", outcome.describe()
    assert outcome.failure["stage"] == "validation"
    if arena.sandbox == "docker":
        # Links are never copied out of the container.
        assert "no predictions file" in outcome.message
        assert any("links" in n for n in outcome.record["sandbox"]["notes"])
    else:
        assert "predictions.json is a symbolic link" in outcome.message
    assert probe_of(outcome)["tamper"] == "ok linked"


def test_predictions_as_a_hard_link(arena: Arena) -> None:
    submission = arena.submission(
        "tamper_output", mode="hardlink", link_to="/etc/passwd"
    )
    outcome = arena.run(submission)

    assert outcome.status == "failed", outcome.describe()
    assert "no predictions file" in outcome.message
    assert probe_of(outcome)["tamper"] in ("EXDEV", "EPERM", "ENOENT")


def test_enormous_predictions(arena: Arena) -> None:
    submission = arena.submission(
        "tamper_output", mode="enormous", megabytes=4 * OUTPUT_MB
    )
    outcome = arena.run(submission)

    assert outcome.status == "failed", outcome.describe()
    if arena.sandbox == "docker":
        assert outcome.failure["kind"] == "invalid-predictions"
        assert "predictions.json is not valid JSON" in outcome.message
        assert probe_of(outcome)["tamper"] == "ENOSPC"
    else:
        # The file stops at the limit (EFBIG); with the runner's report
        # beside it the folder holds more than the limit.
        assert outcome.failure["kind"] == "killed", outcome.describe()
        assert f"output limit of {OUTPUT_MB * 2**20} bytes" in outcome.message
        assert probe_of(outcome)["tamper"] == "EFBIG"


@pytest.mark.parametrize("mode", ["nested", "long-number"])
def test_predictions_the_parser_chokes_on(arena: Arena, mode: str) -> None:
    """JSON nested past the parser's recursion limit, or an integer longer
    than Python converts, is the submission's fault: a validation failure
    naming the file, not an error of the harness."""
    outcome = arena.run(arena.submission("tamper_output", mode=mode))

    assert probe_of(outcome)["tamper"] == "ok rewritten"
    assert outcome.status == "failed", outcome.describe()
    assert outcome.failure["stage"] == "validation", outcome.describe()
    assert outcome.failure["kind"] == "invalid-predictions"
    assert "predictions.json" in outcome.message


def test_runner_report_the_parser_chokes_on(arena: Arena) -> None:
    submission = arena.submission("tamper_output", mode="nested", file="runner.json")
    outcome = arena.run(submission)

    assert probe_of(outcome)["tamper"] == "ok rewritten"
    assert outcome.status == "failed", outcome.describe()
    assert outcome.failure["stage"] == "sandbox", outcome.describe()
    assert "without a valid report" in outcome.message


# -- the submission archive itself ------------------------------------------------


def _zip(path: Path, members: dict[str, bytes], **links: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return path


@pytest.mark.parametrize(
    ("member", "fragment"),
    [
        ("../../escaped-{marker}.py", "climbs out of the archive with '..'"),
        ("/tmp/escaped-{marker}.py", "has an absolute path"),
        ("link-{marker}", "is a symbolic link"),
    ],
)
def test_zip_slip(arena: Arena, member: str, fragment: str) -> None:
    name = member.format(marker=arena.marker)
    archive = arena.tmp_path / "deep" / "down" / "slip.zip"
    archive.parent.mkdir(parents=True)
    members = {"model.py": b"class Model:\n    pass\n"}
    if name.startswith("link"):
        _zip(archive, members, **{name: "/etc/passwd"})
    else:
        _zip(archive, {**members, name: b"print('escaped')\n"})
    outcome = arena.run(archive)

    assert outcome.failure["stage"] == "submission", outcome.describe()
    assert fragment in outcome.message
    assert not (arena.tmp_path / f"escaped-{arena.marker}.py").exists()
    assert not Path(f"/tmp/escaped-{arena.marker}.py").exists()


@pytest.mark.parametrize("kind", ["ratio", "count"])
def test_zip_bomb(arena: Arena, kind: str) -> None:
    archive = arena.tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("model.py", "class Model:\n    pass\n")
        if kind == "ratio":
            with bomb.open("weights.bin", "w", force_zip64=True) as member:
                for _ in range(64):
                    member.write(bytes(2**20))
        else:
            for index in range(2500):
                bomb.writestr(f"w/{index}.txt", b"")
    outcome = arena.run(archive)

    assert outcome.failure["stage"] == "submission", outcome.describe()
    assert archive.stat().st_size < 2**20
    if kind == "ratio":
        assert "refusing a likely zip bomb" in outcome.message
    else:
        assert "holds 2501 files; at most 2000 are accepted" in outcome.message
