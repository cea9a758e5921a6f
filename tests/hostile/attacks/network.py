"""Open connections: to a server of the test, to other hosts, and to DNS."""

import socket

import probe


def connect(host, port):
    def action():
        with socket.create_connection((host, port), timeout=2):
            pass

    try:
        return probe.attempt(action)
    except TimeoutError:
        return "timeout"


def send_udp(host, port):
    def action():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"leak", (host, port))

    return probe.attempt(action)


def resolve(name):
    try:
        return "ok " + socket.gethostbyname(name)
    except OSError as exc:
        return type(exc).__name__


class Model:
    def predict(self, x):
        seen = {}
        for host, port in probe.params()["targets"]:
            seen[f"tcp {host}:{port}"] = connect(host, port)
            seen[f"udp {host}:{port}"] = send_udp(host, port)
        seen["dns"] = resolve("example.com")
        probe.report(seen)
        return probe.zeros(x)
