"""The one summary of a series of samples (latency in ms, a metric per frame), and a rolling
window of it for the nodes' /diagnostics.

summarize: count, mean, min, max, p50, p95, p99 (numpy linear-interpolation percentiles) and the
population standard deviation (ddof 0); NaN values are left out; with no values count is 0 and
every statistic None. Every report of the package (replay, bench, soak, demo, quality) and the
nodes' diagnostics use it, so a "p95" means the same thing everywhere.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Iterable

import numpy as np

DEFAULT_WINDOW = 300  # about 10 s at 30 fps
SUMMARY_PERCENTILES = (50, 95, 99)


def summarize(values: Iterable[float], digits: int | None = None) -> dict:
    """count, mean, min, max, p50, p95, p99, std of `values`; floats rounded to `digits` if given."""
    array = np.asarray(list(values), dtype=np.float64).ravel()
    array = array[~np.isnan(array)]
    keys = ("mean", "min", "max") + tuple(f"p{p}" for p in SUMMARY_PERCENTILES) + ("std",)
    if array.size == 0:
        return {"count": 0, **{key: None for key in keys}}
    percentiles = np.percentile(array, SUMMARY_PERCENTILES, method="linear")
    summary = {"count": int(array.size), "mean": float(array.mean()), "min": float(array.min()),
               "max": float(array.max())}
    summary.update({f"p{p}": float(v) for p, v in zip(SUMMARY_PERCENTILES, percentiles)})
    summary["std"] = float(array.std(ddof=0))
    if digits is not None:
        summary = {key: round(value, digits) if isinstance(value, float) else value
                   for key, value in summary.items()}
    return summary


def suffixed(summary: dict, keys: Iterable[str] = ("count", "p50", "p95", "max"),
             unit: str = "ms") -> dict:
    """Some of a summary's entries named with their unit (p95 -> p95_ms; count stays), the keys
    the soak report and the nodes' diagnostics have always carried."""
    return {(key if key == "count" else f"{key}_{unit}"): summary[key] for key in keys}


def rate_hz(times_s: Iterable[float]) -> float | None:
    """Events per second over the span of their times (None for fewer than two, or no span)."""
    times = np.sort(np.asarray(list(times_s), np.float64))
    if times.size < 2 or times[-1] <= times[0]:
        return None
    return float((times.size - 1) / (times[-1] - times[0]))


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

    def summary(self) -> dict:
        """summarize() of the window's durations, with count = all events ever and the window's
        rate_hz (0.0 when not yet defined)."""
        with self._lock:
            durations, times = list(self._durations_ms), list(self._times_s)
        return {**summarize(durations), "count": self.count, "rate_hz": rate_hz(times) or 0.0}
