"""Kill the parent, or every process in reach, then answer normally."""

import os
import signal
import time

import probe


class Model:
    def predict(self, x):
        target = probe.params()["target"]
        parent = os.getppid()
        if target == "parent":
            result = probe.attempt(lambda: os.kill(parent, signal.SIGKILL))
        else:
            result = probe.attempt(lambda: os.kill(-1, signal.SIGKILL))
        time.sleep(0.3)
        probe.report({"target": target, "parent": parent, "kill": result})
        return probe.zeros(x)
