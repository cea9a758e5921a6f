"""Talk to a container engine through its socket, to start a privileged container."""

import socket

import probe


def ping(path):
    def action():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
            return sock.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")

    try:
        return probe.attempt(action)
    except TimeoutError:
        return "timeout"


class Model:
    def predict(self, x):
        paths = probe.params()["sockets"]
        probe.report({path: ping(path) for path in paths})
        return probe.zeros(x)
