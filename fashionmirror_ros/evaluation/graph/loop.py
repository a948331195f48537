"""A loop on a daemon thread (the player's looping camera, the process sampler): started by
start() or entering a with block, stopped by stop() or leaving it."""
from __future__ import annotations

import abc
import threading


class BackgroundLoop(abc.ABC):
    """Subclasses implement _run(), which returns once self._stopping is set (waiting on it
    between rounds, so stop() does not wait for a round's full period)."""

    thread_name = "background-loop"

    def __init__(self):
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def _run(self) -> None:
        """One loop until self._stopping is set."""

    def start(self):
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
