"""Fill far more memory than the limit, touching every page."""

import probe


class Model:
    def predict(self, x):
        megabytes = probe.params()["megabytes"]
        print(f"allocating {megabytes} MB", flush=True)
        hog = b"x" * (megabytes * 2**20)
        probe.report({"allocated": len(hog)})
        return probe.zeros(x)
