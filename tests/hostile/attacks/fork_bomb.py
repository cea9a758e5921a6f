"""Fork without end; every child forks too."""

import errno
import os
import time

import probe


def multiply():
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)


class Model:
    def predict(self, x):
        probe.mark_process(probe.params()["marker"])
        count, refused = 0, None
        while refused is None:
            try:
                pid = os.fork()
            except OSError as exc:
                refused = errno.errorcode.get(exc.errno, str(exc.errno))
                break
            if pid == 0:
                multiply()
            count += 1
        probe.report({"forked": count, "refused": refused})
        multiply()
