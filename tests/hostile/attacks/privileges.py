"""Try to gain privileges: setuid(0), chmod and chown of others' files, mount."""

import ctypes
import ctypes.util
import os

import probe


def status_field(name):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def libc_call(name, *args):
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def action():
        if getattr(libc, name)(*args) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return probe.attempt(action)


class Model:
    def predict(self, x):
        inputs = probe.inputs_dir()
        mine = os.path.join(probe.output_dir(), "mine.txt")
        probe.write(mine)
        seen = {
            "uid": os.getuid(),
            "cap_eff": status_field("CapEff"),
            "no_new_privs": status_field("NoNewPrivs"),
            "setuid(0)": probe.attempt(lambda: os.setuid(0)),
            "setgid(0)": probe.attempt(lambda: os.setgid(0)),
            "chmod /etc/passwd": probe.attempt(lambda: os.chmod("/etc/passwd", 0o666)),
            "chmod input": probe.attempt(
                lambda: os.chmod(os.path.join(inputs, "manifest.json"), 0o666)
            ),
            "chown to 0": probe.attempt(lambda: os.chown(mine, 0, 0)),
            "chown to 4242": probe.attempt(lambda: os.chown(mine, 4242, 4242)),
            "setuid bit": probe.attempt(lambda: os.chmod(mine, 0o4755)),
            "mount": libc_call(
                "mount", b"none", b"/tmp", b"tmpfs", ctypes.c_ulong(0), None
            ),
        }
        seen["cap_eff_after"] = status_field("CapEff")
        seen["uid_after"] = os.getuid()
        probe.report(seen)
        return probe.zeros(x)
