"""Limits of the process sandbox that need no submission to check."""

from __future__ import annotations

import pytest

from harness_sandboxes import process


def test_output_size_counts_blocks_and_stops_once_over(tmp_path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 10_000)
    (tmp_path / "deeper" / "still").mkdir(parents=True)
    (tmp_path / "deeper" / "still" / "b.bin").write_bytes(b"y" * 20_000)
    for i in range(10):
        (tmp_path / f"empty-{i}").touch()
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(1_000_000)  # no block written, read back in full
    measured = process._folder_bytes(tmp_path, 10**9)
    # Two folders and ten empty files count a block each.
    at_least = 10_000 + 20_000 + 12 * 4096 + 1_000_000
    assert at_least <= measured <= at_least + 4 * 4096
    assert process._folder_bytes(tmp_path, 5_000) <= 1_000_000 + 20_000 + 4096
    assert process._folder_bytes(tmp_path / "missing", 10) == 0


def test_cpu_cgroup_holds_the_quota_where_writable() -> None:
    path = process._cpu_cgroup(1.5)
    if path is None:
        pytest.skip("no writable cpu cgroup here")
    try:
        if (path / "cpu.max").exists():
            assert (path / "cpu.max").read_text().split() == ["150000", "100000"]
        else:
            assert (path / "cpu.cfs_quota_us").read_text().strip() == "150000"
            assert (path / "cpu.cfs_period_us").read_text().strip() == "100000"
    finally:
        path.rmdir()
