"""A one-slot, newest-wins hand-off from a subscription callback to a worker thread.

When a node is slower than its input, only the newest message matters: a new item replaces an
unprocessed one, which is counted as dropped. Memory is bounded by construction (one item).
"""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

Item = TypeVar("Item")


class LatestSlot(Generic[Item]):
    def __init__(self) -> None:
        self._item: Item | None = None
        self._condition = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.received = 0

    def put(self, item: Item) -> bool:
        """Store `item`; returns True when it replaced one that was never taken (a drop)."""
        with self._condition:
            replaced = self._item is not None
            self.dropped += int(replaced)
            self.received += 1
            self._item = item
            self._condition.notify_all()
        return replaced

    def take(self, timeout: float | None = None) -> Item | None:
        """The newest item, waiting up to `timeout` seconds; None on time-out or after close()."""
        with self._condition:
            if self._item is None and not self._closed:
                self._condition.wait(timeout)
            item, self._item = self._item, None
            self._condition.notify_all()  # a producer may wait for the room (wait_until_empty)
            return item

    def wait_until_empty(self, timeout: float | None = None) -> bool:
        """Whether the slot is empty (its item taken), waiting up to `timeout` seconds for it: a
        producer that waits for room before it takes new work hands over nothing stale."""
        with self._condition:
            if self._item is not None and not self._closed:
                self._condition.wait_for(lambda: self._item is None or self._closed, timeout)
            return self._item is None and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
