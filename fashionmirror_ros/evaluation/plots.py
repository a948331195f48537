"""Report plots (PNG) for latency, end-to-end timing and training losses.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``), never
through pyplot, so nothing depends on or changes the process-wide backend and no display is needed.

- ``latency_histogram``: one panel per node; histogram of per-frame latency in ms with vertical
  lines at p50 (dashed) and p95 (dotted), their values in the legend.
- ``latency_timeline``: latency in ms of every node against time since the first sample (s).
- ``end_to_end_plot``: end-to-end latency (camera stamp to /tryon/image receipt) over time with
  its p50/p95 as horizontal lines, next to its histogram.
- ``loss_curve``: training losses against the step; from a CSV file with a header row (a column
  named step, iteration, iter or epoch is the x axis, else the row number) or a dict of series
  (name -> values, or name -> (steps, values)).

Each function returns the written path. Percentiles are numpy's linear-interpolation ones, the
same as ``pipeline.stats.summarize``.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PathLike = Union[str, os.PathLike]

FIGURE_DPI = 110
PANEL_WIDTH_IN = 8.0
PANEL_HEIGHT_IN = 2.6
TIMELINE_HEIGHT_IN = 4.5
HISTOGRAM_BINS = 50
P50_STYLE = {"color": "tab:red", "linestyle": "--", "linewidth": 1.2}
P95_STYLE = {"color": "tab:purple", "linestyle": ":", "linewidth": 1.5}
STEP_COLUMN_NAMES = ("step", "iteration", "iter", "epoch")


def _save(figure: Figure, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(str(path))
    return path


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    p50, p95 = np.percentile(values, (50, 95), method="linear")
    return float(p50), float(p95)


def _histogram_panel(axes, values_ms: Sequence[float], title: str) -> None:
    values = np.asarray(values_ms, dtype=np.float64)
    values = values[np.isfinite(values)]
    axes.set_title(title)
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("frames")
    if values.size == 0:
        axes.text(0.5, 0.5, "no samples", ha="center", va="center", transform=axes.transAxes)
        return
    axes.hist(values, bins=HISTOGRAM_BINS, color="tab:blue", alpha=0.75)
    p50, p95 = _percentiles(values)
    axes.axvline(p50, label=f"p50 {p50:.1f} ms", **P50_STYLE)
    axes.axvline(p95, label=f"p95 {p95:.1f} ms", **P95_STYLE)
    axes.legend(loc="upper right", fontsize="small")


def latency_histogram(per_node: Mapping[str, Sequence[float]], path: PathLike,
                      title: str = "Per-node latency") -> Path:
    """Histograms of per-frame latency (ms), one panel per node, with p50/p95 lines."""
    names = list(per_node) or ["(no nodes)"]
    figure = Figure(figsize=(PANEL_WIDTH_IN, PANEL_HEIGHT_IN * len(names)), dpi=FIGURE_DPI)
    figure.suptitle(title)
    for index, name in enumerate(names):
        axes = figure.add_subplot(len(names), 1, index + 1)
        samples = per_node.get(name, [])
        _histogram_panel(axes, samples, f"{name} (n={len(samples)})")
    return _save(figure, path)


def latency_timeline(per_node: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: PathLike,
                     title: str = "Per-node latency over time") -> Path:
    """Latency (ms) of each node against time (s) since the earliest sample of any node."""
    figure = Figure(figsize=(PANEL_WIDTH_IN, TIMELINE_HEIGHT_IN), dpi=FIGURE_DPI)
    axes = figure.add_subplot(1, 1, 1)
    starts = [min(times) for times, _ in per_node.values() if len(times)]
    origin = min(starts) if starts else 0.0
    for name, (times, latencies) in per_node.items():
        if len(times) != len(latencies):
            raise ValueError(f"{name}: {len(times)} times but {len(latencies)} latencies")
        if len(times):
            axes.plot(np.asarray(times, np.float64) - origin, latencies, marker=".", markersize=2,
                      linewidth=0.8, label=name)
    axes.set_title(title)
    axes.set_xlabel("time since first sample (s)")
    axes.set_ylabel("latency (ms)")
    if starts:
        axes.legend(loc="upper right", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no samples", ha="center", va="center", transform=axes.transAxes)
    axes.grid(True, alpha=0.3)
    return _save(figure, path)


def end_to_end_plot(t: Sequence[float], ms: Sequence[float], path: PathLike,
                    title: str = "End-to-end latency (camera stamp to /tryon/image)") -> Path:
    """End-to-end latency (ms) against time (s) with p50/p95 lines, and its histogram."""
    times = np.asarray(t, dtype=np.float64)
    latencies = np.asarray(ms, dtype=np.float64)
    if times.shape != latencies.shape:
        raise ValueError(f"{times.size} times but {latencies.size} latencies")
    figure = Figure(figsize=(PANEL_WIDTH_IN * 1.5, TIMELINE_HEIGHT_IN), dpi=FIGURE_DPI)
    figure.suptitle(title)
    timeline = figure.add_subplot(1, 2, 1)
    timeline.set_title(f"over time (n={latencies.size})")
    timeline.set_xlabel("time since first frame (s)")
    timeline.set_ylabel("latency (ms)")
    finite = latencies[np.isfinite(latencies)]
    if finite.size:
        timeline.plot(times - times.min(), latencies, linewidth=0.8, color="tab:blue")
        p50, p95 = _percentiles(finite)
        timeline.axhline(p50, label=f"p50 {p50:.1f} ms", **P50_STYLE)
        timeline.axhline(p95, label=f"p95 {p95:.1f} ms", **P95_STYLE)
        timeline.legend(loc="upper right", fontsize="small")
    else:
        timeline.text(0.5, 0.5, "no samples", ha="center", va="center", transform=timeline.transAxes)
    timeline.grid(True, alpha=0.3)
    _histogram_panel(figure.add_subplot(1, 2, 2), latencies, "distribution")
    return _save(figure, path)


def _read_loss_csv(csv_path: PathLike) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{csv_path}: no data rows")
    columns = list(rows[0].keys())
    step_column = next((c for c in columns if c.strip().lower() in STEP_COLUMN_NAMES), None)

    def as_float(text: str | None) -> float:
        try:
            return float(text)
        except (TypeError, ValueError):
            return math.nan  # an empty cell: that loss was not logged at this step

    steps = np.array([as_float(r[step_column]) for r in rows]) if step_column else np.arange(len(rows), dtype=float)
    series = {}
    for column in columns:
        if column == step_column:
            continue
        values = np.array([as_float(r[column]) for r in rows])
        logged = np.isfinite(values)
        if logged.any():
            series[column] = (steps[logged], values[logged])
    return series, (step_column.strip() if step_column else "row")


def _normalise_series(series: Mapping[str, object]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    normalised = {}
    for name, data in series.items():
        if isinstance(data, tuple) and len(data) == 2:
            steps, values = (np.asarray(part, dtype=np.float64) for part in data)
        else:
            values = np.asarray(data, dtype=np.float64)
            steps = np.arange(values.size, dtype=np.float64)
        if steps.shape != values.shape:
            raise ValueError(f"{name}: {steps.size} steps but {values.size} values")
        normalised[name] = (steps, values)
    return normalised


def loss_curve(source: PathLike | Mapping[str, object], path: PathLike, title: str = "Training losses",
               log_y: bool = False) -> Path:
    """Loss curves from a CSV file or a dict of series; ``log_y`` for a logarithmic loss axis."""
    if isinstance(source, Mapping):
        series, x_label = _normalise_series(source), "step"
    else:
        series, x_label = _read_loss_csv(source)
    figure = Figure(figsize=(PANEL_WIDTH_IN, TIMELINE_HEIGHT_IN), dpi=FIGURE_DPI)
    axes = figure.add_subplot(1, 1, 1)
    for name, (steps, values) in series.items():
        axes.plot(steps, values, linewidth=1.0, label=name)
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel("loss (log scale)" if log_y else "loss")
    if log_y:
        axes.set_yscale("log")
    if series:
        axes.legend(loc="upper right", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no losses logged", ha="center", va="center", transform=axes.transAxes)
    axes.grid(True, alpha=0.3)
    return _save(figure, path)
