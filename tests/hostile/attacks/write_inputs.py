"""Overwrite the inputs, the runner and its own code; then answer normally."""

import os
import sys

import probe


class Model:
    def predict(self, x):
        params = probe.params()
        inputs = probe.inputs_dir()
        own = os.path.abspath(__file__)
        seen = {
            "manifest": probe.write(os.path.join(inputs, "manifest.json"), b"{}"),
            "inputs.npy": probe.write(os.path.join(inputs, "inputs.npy"), b"\0"),
            "new input": probe.write(os.path.join(inputs, "extra.npy")),
            "remove input": probe.attempt(
                lambda: os.remove(os.path.join(inputs, "inputs.npy"))
            ),
            "chmod inputs": probe.attempt(lambda: os.chmod(inputs, 0o777)),
            "own code": probe.write(own, b"raise SystemExit('replaced')\n"),
            "new code": probe.write(os.path.join(os.path.dirname(own), "evil.py")),
            "runner": probe.write(os.path.abspath(sys.argv[0]), b"pass\n"),
            "hidden cache": probe.write(os.path.join(params["truth_dirs"][0], "x")),
            "engine sockets": probe.write("/run/x"),
        }
        probe.report(seen)
        return probe.zeros(x)
