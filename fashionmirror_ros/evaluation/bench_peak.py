"""The peak rate of the graph: the highest input rate with at most 5 % of frames lost.

ros2_benchmark's definition (NVIDIA): frames lost = frames sent - outputs received. The search
starts from the rates already measured: between the highest passing and the lowest failing rate
it bisects; if every rate passed it doubles upwards; if none did it starts below the saturated
output rate and halves. It stops at 10 % resolution or after ``settings["peak_iterations"]``
trials.
"""
from __future__ import annotations

from typing import Callable

LOSS_THRESHOLD = 0.05


def peak_search(trial: Callable[[float], dict], results: dict[float, dict], settings: dict) -> dict:
    """Highest input rate with <= 5 % frames lost; trial(rate) plays one trial and returns its
    figures (lost_fraction, tryon_fps, end_to_end_ms); results: rate -> figures measured already."""
    lost = {rate: r["lost_fraction"] for rate, r in results.items()}
    trials = []

    def attempt(rate: float) -> bool:
        rate = round(rate, 3)
        result = trial(rate)
        trials.append({"rate_hz": rate, "lost_fraction": result["lost_fraction"],
                       "tryon_fps": result["tryon_fps"], "end_to_end_p95_ms": result["end_to_end_ms"]["p95"]})
        lost[rate] = result["lost_fraction"]
        return result["lost_fraction"] <= LOSS_THRESHOLD

    passing = [r for r, value in lost.items() if value <= LOSS_THRESHOLD]
    lo = max(passing) if passing else None
    failing = [r for r, value in lost.items() if value > LOSS_THRESHOLD and (lo is None or r > lo)]
    hi = min(failing) if failing else None
    budget = settings["peak_iterations"]
    if hi is None and lo is not None:  # everything passed: probe upwards
        while budget > 0 and hi is None:
            budget -= 1
            candidate = lo * 2
            if attempt(candidate):
                lo = candidate
            else:
                hi = candidate
    if lo is None and hi is not None:  # nothing passed: start below the saturated output rate
        saturated = max((r["tryon_fps"] or 0.0) for r in results.values()) if results else 0.0
        candidate = min(hi / 2, saturated * 0.9) if saturated > 0 else hi / 4
        while budget > 0 and lo is None and candidate > 0.05:
            budget -= 1
            if attempt(candidate):
                lo = candidate
            else:
                hi = candidate
                candidate = candidate / 2
    while budget > 0 and lo is not None and hi is not None and (hi - lo) > 0.1 * hi:
        budget -= 1
        middle = (lo + hi) / 2
        if attempt(middle):
            lo = middle
        else:
            hi = middle
    return {"peak_rate_hz": round(lo, 3) if lo is not None else None,
            "lowest_failing_rate_hz": round(hi, 3) if hi is not None else None,
            "criterion": f"<= {LOSS_THRESHOLD:.0%} of frames lost (sent - /tryon/image received)",
            "resolution": "bisection to 10 % or the trial budget", "trials": trials}
