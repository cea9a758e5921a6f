"""Look for the harness's secrets in environment variables."""

import os

import probe


class Model:
    def predict(self, x):
        canary = probe.params()["canary"]
        seen = {"names": sorted(os.environ), "found_in": []}
        if any(canary in value for value in os.environ.values()):
            seen["found_in"].append("os.environ")
        for pid in ("1", "self", str(os.getppid())):
            path = f"/proc/{pid}/environ"
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                seen[path] = probe.error_name(exc)
                continue
            seen[path] = sorted(
                entry.split(b"=", 1)[0].decode(errors="replace")
                for entry in data.split(b"\0")
                if entry
            )
            if canary.encode() in data:
                seen["found_in"].append(path)
        probe.report(seen)
        return probe.zeros(x)
