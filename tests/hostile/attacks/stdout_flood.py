"""Write tens of megabytes to standard output and error, then answer."""

import sys

import probe


class Model:
    def predict(self, x):
        megabytes = probe.params()["megabytes"]
        line = "flood " * 16 + "\n"
        chunk = line * (2**20 // len(line))
        for _ in range(megabytes):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
        sys.stdout.flush()
        probe.report({"flooded_mb": megabytes})
        return probe.zeros(x)
