"""Limits of the process sandbox that need no submission to check."""

from __future__ import annotations

import ctypes
import mmap
import os
import shutil

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
    measured, why = process._tree_bytes(tmp_path, 10**9)
    # Two folders and ten empty files count a block each.
    at_least = 10_000 + 20_000 + 12 * 4096 + 1_000_000
    assert why is None and at_least <= measured <= at_least + 4 * 4096
    assert process._tree_bytes(tmp_path, 5_000)[0] <= 1_000_000 + 20_000 + 4096
    assert process._tree_bytes(tmp_path / "missing", 10) == (0, None)
    assert process._output_excess(tmp_path, 10**9, []) is None
    assert "held more than" in (process._output_excess(tmp_path, 50_000, []) or "")


def test_output_below_a_path_too_long_to_name_is_counted(tmp_path) -> None:
    before = os.getcwd()
    try:
        os.chdir(tmp_path)
        for _ in range(20):  # about 5,000 characters deep
            os.mkdir("d" * 250)
            os.chdir("d" * 250)
        with open("deep.bin", "wb") as fh:
            fh.write(b"z" * 300_000)
    finally:
        os.chdir(before)
    total, why = process._tree_bytes(tmp_path, 10**9)
    assert why is None and total >= 300_000 + 20 * 4096
    try:
        os.chdir(tmp_path)
        for _ in range(20):
            os.chdir("d" * 250)
        for _ in range(process._MAX_OUTPUT_DEPTH):
            os.mkdir("e")
            os.chdir("e")
    finally:
        os.chdir(before)
    assert "nested more than" in (process._output_excess(tmp_path, 10**9, []) or "")
    shutil.rmtree(tmp_path / ("d" * 250))


def test_files_deleted_while_open_still_count(tmp_path) -> None:
    path = tmp_path / "gone.bin"
    with open(path, "wb") as fh:
        fh.write(b"q" * 200_000)
        fh.flush()
        path.unlink()
        assert process._tree_bytes(tmp_path, 10**9)[0] < 200_000
        why = process._output_excess(tmp_path, 100_000, [os.getpid()])
        assert why is not None and "held more than" in why
    assert process._output_excess(tmp_path, 100_000, [os.getpid()]) is None
    # Space reserved without growing the file, and a mapping whose
    # descriptor was closed, still count.
    with open(path, "wb") as fh:
        path.unlink()
        os.posix_fallocate(fh.fileno(), 0, 300_000)
        assert process._deleted_open_bytes(tmp_path, [os.getpid()]) >= 300_000
    # A mapping outlives its descriptor, which is closed here.
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"m" * 200_000)
    libc = ctypes.CDLL(None)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3
    libc.mmap.argtypes += [ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    address = libc.mmap(None, 200_000, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    os.close(fd)
    path.unlink()
    try:
        assert process._deleted_open_bytes(tmp_path, [os.getpid()]) >= 200_000
    finally:
        libc.munmap(address, 200_000)
    assert process._deleted_open_bytes(tmp_path, [os.getpid()]) == 0


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
