"""Read a file of the host that the harness did not list as hidden."""

import probe


class Model:
    def predict(self, x):
        path = probe.params()["host_file"]
        probe.report({"host_file": probe.read(path)})
        return probe.zeros(x)
