"""Bounded capture of a child's output streams."""

from __future__ import annotations

import threading
from typing import IO


class TailBuffer:
    """Keep the last ``limit`` bytes written, and count all of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._data = bytearray()
        self._lock = threading.Lock()

    def write(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            self._data += chunk
            if len(self._data) > self.limit:
                del self._data[: len(self._data) - self.limit]

    def text(self) -> str:
        with self._lock:
            body = bytes(self._data).decode("utf-8", errors="replace")
            dropped = self.total - len(self._data)
        if dropped > 0:
            return f"[... {dropped} earlier bytes dropped ...]\n{body}"
        return body


def drain(stream: IO[bytes], buffer: TailBuffer) -> threading.Thread:
    """Read ``stream`` into ``buffer`` on a daemon thread until EOF."""

    def pump() -> None:
        try:
            while chunk := stream.read(65536):
                buffer.write(chunk)
        except (OSError, ValueError):
            pass
        finally:
            stream.close()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread
