"""The process sampler: CPU share and resident memory of the graph's processes during a run.

- CPU: CPU seconds (user + system) / wall seconds between start() and stop(), 100 = one core, per
  process; for a process holding several nodes ("grouped"), also per node, from its threads' CPU
  times grouped by the node name the threads carry (MirrorNode names them; SHARED_THREADS =
  executor, DDS and unnamed threads).
- memory: resident set size (MB) of each process every `period_s` on a thread. The processes are
  looked up again at every sample, so a node the supervisor restarted is followed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from fashionmirror_ros.evaluation.graph.loop import BackgroundLoop
from fashionmirror_ros.nodes.graph_params import GRAPH_NODES

SHARED_THREADS = "shared"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Threads a library names itself, by the node that uses that library (MediaPipe runs only in
# pose_node: its graph threads are "mediapipe/<tid>").
THREAD_OWNERS = {"mediapipe/": "pose_node"}


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of `pid`, summed by thread name."""
    totals: dict[str, float] = {}
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.iterdir() if task_dir.exists() else []:
        try:
            stat = (task / "stat").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        totals[name] = totals.get(name, 0.0) + seconds
    return totals


def group_by_node(thread_seconds: dict[str, float], nodes=GRAPH_NODES) -> dict[str, float]:
    """Thread CPU seconds -> per node (threads named after it, or THREAD_OWNERS) and
    SHARED_THREADS for the rest."""
    groups = {node: 0.0 for node in nodes}
    groups[SHARED_THREADS] = 0.0
    for name, seconds in thread_seconds.items():
        node = next((node for node in nodes if name.startswith(node[:15])), None)
        node = node or next((owner for prefix, owner in THREAD_OWNERS.items() if name.startswith(prefix)),
                            SHARED_THREADS)
        groups[node] += seconds
    return groups


class ProcessSampler(BackgroundLoop):
    """pids: {name: pid}, or a callable returning it (a supervisor's pids, which change on a
    restart). Use start()/stop() or as a context manager; then summary() and samples."""

    thread_name = "process-sampler"

    def __init__(self, pids, period_s: float = 1.0, grouped: set[str] = frozenset()):
        super().__init__()
        self._pids = pids if callable(pids) else (lambda: dict(pids))
        self.period_s = period_s
        self.grouped = grouped  # process names whose CPU is split per node by thread names
        self.samples: dict[str, list[tuple[float, float]]] = {}  # name -> [(monotonic s, RSS MB)]
        self._processes: dict[int, object] = {}  # pid -> psutil.Process (keeps CPU times consistent)
        self._start_cpu: dict[str, float] = {}
        self._end_cpu: dict[str, float] = {}
        self._start_time = self._end_time = 0.0

    def _process(self, pid: int):
        import psutil

        if pid not in self._processes:
            self._processes[pid] = psutil.Process(pid)
        return self._processes[pid]

    def _cpu_seconds(self) -> dict[str, float]:
        import psutil

        seconds = {}
        for name, pid in self._pids().items():
            try:
                times = self._process(pid).cpu_times()
                seconds[name] = times.user + times.system
                if name in self.grouped:
                    for node, value in group_by_node(thread_cpu_seconds(pid)).items():
                        seconds[f"{name}/{node}"] = value
            except (psutil.NoSuchProcess, psutil.ZombieProcess, ProcessLookupError, FileNotFoundError):
                continue  # the process ended between listing and reading: no sample for it
        return seconds

    def sample_memory(self) -> None:
        now = time.monotonic()
        for name, pid in self._pids().items():
            try:
                rss = self._process(pid).memory_info().rss / 2**20
            except Exception:  # noqa: BLE001 - the process is being restarted or has gone
                continue
            self.samples.setdefault(name, []).append((now, rss))

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.sample_memory()
            self._stopping.wait(self.period_s)

    def start(self) -> "ProcessSampler":
        self._start_cpu, self._start_time = self._cpu_seconds(), time.monotonic()
        return super().start()

    def stop(self) -> None:
        self._end_cpu, self._end_time = self._cpu_seconds(), time.monotonic()
        super().stop()

    def summary(self) -> dict:
        """Per process: cpu_percent, cpu_percent_by_node (grouped ones), rss_mb_mean, rss_mb_max."""
        wall = max(self._end_time - self._start_time, 1e-6)
        result: dict = {}
        for name, end in self._end_cpu.items():
            share = round(100.0 * (end - self._start_cpu.get(name, end)) / wall, 1)
            process, _, node = name.partition("/")
            entry = result.setdefault(process, {})
            if node:
                entry.setdefault("cpu_percent_by_node", {})[node] = share
            else:
                entry["cpu_percent"] = share
        for name, series in self.samples.items():
            values = [rss for _, rss in series]
            result.setdefault(name, {}).update(rss_mb_mean=round(float(np.mean(values)), 1),
                                                rss_mb_max=round(float(np.max(values)), 1))
        return result


def quarter_medians(values: list[float]) -> tuple[float, float]:
    """Median of the first and of the last quarter of a series (growth over a run)."""
    quarter = max(1, len(values) // 4)
    return float(np.median(values[:quarter])), float(np.median(values[-quarter:]))
