"""Rolling latency and rate statistics over a bounded window (for NodeLatency and /diagnostics)."""
from __future__ import annotations

import threading
from collections import deque

import numpy as np

DEFAULT_WINDOW = 300  # about 10 s at 30 fps


class RollingStats:
    """Durations (ms) and event times (s) of the last `window` events; thread-safe, bounded."""

    def __init__(self, window: int = DEFAULT_WINDOW):
        self._durations_ms: deque[float] = deque(maxlen=window)
        self._times_s: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, duration_ms: float, time_s: float) -> None:
        with self._lock:
            self._durations_ms.append(float(duration_ms))
            self._times_s.append(float(time_s))
            self.count += 1

    def summary(self) -> dict[str, float]:
        with self._lock:
            durations = np.asarray(self._durations_ms, dtype=np.float64)
            times = np.asarray(self._times_s, dtype=np.float64)
        if durations.size == 0:
            return {"count": self.count, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0, "rate_hz": 0.0}
        span = times[-1] - times[0] if times.size > 1 else 0.0
        return {
            "count": self.count,
            "p50_ms": float(np.percentile(durations, 50)),
            "p95_ms": float(np.percentile(durations, 95)),
            "max_ms": float(durations.max()),
            "rate_hz": float((times.size - 1) / span) if span > 0 else 0.0,
        }
