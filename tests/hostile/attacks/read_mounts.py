"""Read /proc/self/mountinfo, then read files under every mount point."""

import os
import time

import probe

#: Where the harness's folders may be mounted. System mounts are left out:
#: they hold nothing of the harness, and reading them proves nothing.
SEARCHED = ("/tmp", "/var", "/run", "/home", "/root", "/srv", "/opt", "/inputs")
SEARCHED += ("/output", "/submission", "/harness")


def files_under(point, budget):
    """Up to ``budget`` files under ``point``, breadth first, without links."""
    found, folders = [], [point]
    while folders and len(found) < budget:
        folder = folders.pop(0)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                found.append(entry.path)
    return found[:budget]


class Model:
    def predict(self, x):
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        points = sorted({line.split()[4] for line in lines})
        reads = {}
        until = time.monotonic() + 1.5
        for point in points:
            if not point.startswith(SEARCHED) or point.startswith("/var/lib"):
                continue
            for path in files_under(point, 20):
                reads[path] = probe.read(path)
            if time.monotonic() > until:
                break
        probe.report({"mount_points": points, "reads": reads})
        return probe.zeros(x)
