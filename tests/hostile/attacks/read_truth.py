"""Open the truth where an attacker who knows the harness would look for it."""

import os

import probe


class Model:
    def predict(self, x):
        params = probe.params()
        seen = {}
        for path in params["truth_files"]:
            seen[path] = probe.read(path)
            # Through the root of another process, in case it sees more.
            seen["/proc/1/root" + path] = probe.read("/proc/1/root" + path)
        for path in params["truth_dirs"]:
            seen[path] = probe.listing(path)
        # Next to the inputs, where a careless dataset would put the labels.
        inputs = probe.inputs_dir()
        seen["inputs"] = probe.listing(inputs)
        seen["inputs.npy"] = probe.read(os.path.join(inputs, "inputs.npy"))
        seen["beside the inputs"] = probe.read(os.path.join(inputs, "..", "truth.npz"))
        probe.report(seen)
        return probe.zeros(x)
