"""Write file after file into a folder until the writes fail or a cap is hit."""

import os

import probe


class Model:
    def predict(self, x):
        params = probe.params()
        folders = {"output": probe.output_dir(), "tmp": "/tmp", "shm": "/dev/shm"}
        folder = folders[params["where"]]
        block = b"f" * 2**20
        written, error = 0, None
        while written < params["megabytes"] * 2**20 and error is None:
            path = os.path.join(folder, f"fill-{written // 2**20:04d}.bin")
            try:
                with open(path, "wb") as fh:
                    fh.write(block)
                written += len(block)
            except OSError as exc:
                error = probe.error_name(exc)
        probe.report({"folder": folder, "written": written, "error": error})
        return probe.zeros(x)
