"""Pacing pose estimation to the generator: no pose estimated for a frame nobody will generate.

On two cores pose_node, cmn_node and hsg_node share the CPU. The generator (hsg_node) is the
slowest stage and takes the newest keypoints, so when pose_node estimates every camera frame,
the poses the generator had no time for were estimated for nothing, on CPU the generator needed.
The pacer counts the frames pose_node has sent the generator and not yet seen answered (hsg_node
publishes a NodeLatency with the camera frame's stamp for each frame it generates) and holds the
next estimate back while ``max_in_flight`` are outstanding. Two in flight keep both stages busy:
the generator works on one while the pose of the next is estimated.

It only holds back while the generator answers. When none has answered for ``patience_s`` (no
hsg_node, one waiting for its source or masks, a slow start) pose_node runs free, so pose_node on
its own is never slowed. A frame the generator dropped (newest wins) is settled by the answer to a
later one; a frame whose answer never comes is forgotten after ``patience_s``. Memory is bounded:
at most ``max_in_flight`` frames wait when pacing, and at most ``MAX_TRACKED`` otherwise.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

MAX_TRACKED = 64  # sent frames remembered while the generator is silent (each a stamp and a time)


class GeneratorPacer:
    def __init__(self, max_in_flight: int, patience_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_in_flight < 0:
            raise ValueError(f"max_in_flight must be >= 0 (0 = no pacing), got {max_in_flight}")
        if patience_s <= 0:
            raise ValueError(f"patience_s must be > 0, got {patience_s}")
        self.max_in_flight = max_in_flight
        self.patience_s = patience_s
        self._clock = clock
        self._sent: deque[tuple[int, float]] = deque(maxlen=MAX_TRACKED)  # (stamp ns, sent at)
        self._last_answer = float("-inf")
        self._condition = threading.Condition()
        self.held_back = 0  # times a frame had to wait for the generator

    def sent(self, stamp_ns: int) -> None:
        """A frame with this camera stamp went to the generator."""
        with self._condition:
            self._sent.append((stamp_ns, self._clock()))

    def answered(self, stamp_ns: int) -> None:
        """The generator published the frame with this stamp: it and every frame sent before it
        are settled (generated, or dropped for a newer one)."""
        with self._condition:
            self._last_answer = self._clock()
            if any(stamp == stamp_ns for stamp, _ in self._sent):
                while self._sent:
                    stamp, _ = self._sent.popleft()
                    if stamp == stamp_ns:
                        break
            self._condition.notify_all()

    def in_flight(self) -> int:
        with self._condition:
            return self._outstanding(self._clock())

    @property
    def pacing(self) -> bool:
        """Whether the generator answers, so that frames are held back for it."""
        with self._condition:
            return self._pacing(self._clock())

    def wait_for_turn(self, timeout: float) -> bool:
        """True when the next frame may be estimated now (waits up to ``timeout`` seconds for the
        generator to answer); False when it is still held back."""
        deadline = self._clock() + timeout
        with self._condition:
            waited = False
            while True:
                now = self._clock()
                if not self._pacing(now) or self._outstanding(now) < self.max_in_flight:
                    return True
                if not waited:
                    self.held_back += 1
                    waited = True
                remaining = deadline - now
                if remaining <= 0:
                    return False
                # wake up when the oldest frame would be forgotten or the generator falls silent
                self._condition.wait(min(remaining, self._next_change(now)))

    def _pacing(self, now: float) -> bool:
        return self.max_in_flight > 0 and now - self._last_answer < self.patience_s

    def _outstanding(self, now: float) -> int:
        while self._sent and now - self._sent[0][1] >= self.patience_s:
            self._sent.popleft()
        return len(self._sent)

    def _next_change(self, now: float) -> float:
        changes = [self._last_answer + self.patience_s - now]
        if self._sent:
            changes.append(self._sent[0][1] + self.patience_s - now)
        return max(min(changes), 1e-3)
