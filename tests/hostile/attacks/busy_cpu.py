"""Spin on two processes until killed, after noting the CPU quota in force."""

import os
import time

import probe


def quota():
    """The CPU quota of this process's cgroup, in CPUs; None when unlimited."""
    for name in ("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):
        try:
            with open(name) as fh:
                text = fh.read().split()
        except OSError:
            continue
        if name.endswith("cpu.max"):
            limit, period = text[0], text[1]
        else:
            limit = text[0]
            with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fh:
                period = fh.read().strip()
        if limit in ("max", "-1"):
            return None
        return int(limit) / int(period)
    return "unknown"


def spin(until):
    while time.monotonic() < until:
        pass


class Model:
    def predict(self, x):
        probe.mark_process(probe.params()["marker"])
        started = time.monotonic()
        cpu_before = os.times()
        pid = os.fork()
        if pid == 0:
            spin(started + 1.5)
            os._exit(0)
        spin(started + 1.5)
        os.waitpid(pid, 0)
        cpu_after = os.times()
        used = sum(cpu_after[:4]) - sum(cpu_before[:4])
        wall = time.monotonic() - started
        probe.report(
            {
                "quota": quota(),
                "affinity": len(os.sched_getaffinity(0)),
                "cpu_per_wall": round(used / wall, 3),
            }
        )
        while True:
            pass
