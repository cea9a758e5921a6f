"""After the runner wrote its output, replace predictions.json at exit.

``mode`` says with what: a symbolic link, a file bigger than the output
limit, or JSON the harness's parser cannot take.
"""

import atexit
import os

import probe


def tamper(params, output):
    mode = params["mode"]
    target = os.path.join(output, params.get("file", "predictions.json"))
    os.remove(target)
    if mode == "symlink":
        os.symlink(params["link_to"], target)
        return "linked"
    if mode == "hardlink":
        os.link(params["link_to"], target)
        return "hard-linked"
    with open(target, "w") as fh:
        if mode == "enormous":
            fh.write('{"format_version": 1, "ids": [')
            block = ", ".join(["1234567"] * 8192)
            for _ in range(params["megabytes"] * 16):
                fh.write(block + ", ")
            fh.write('0], "values": []}')
        elif mode == "nested":
            fh.write("[" * 200_000 + "]" * 200_000)
        elif mode == "long-number":
            fh.write('{"format_version": 1, "ids": [' + "9" * 5000 + '], "values": []}')
    return "rewritten"


class Model:
    def predict(self, x):
        params = probe.params()
        output = probe.output_dir()

        def at_exit():
            probe.report({"tamper": probe.attempt(lambda: tamper(params, output))})

        atexit.register(at_exit)
        return probe.zeros(x)
