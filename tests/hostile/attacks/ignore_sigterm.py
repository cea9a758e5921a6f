"""Ignore every polite signal and sleep past the deadline, in two processes."""

import os
import signal
import time

import probe


class Model:
    def predict(self, x):
        probe.mark_process(probe.params()["marker"])
        for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        os.fork()
        probe.report({"ignoring": True, "pid": os.getpid()})
        while True:
            time.sleep(0.2)
