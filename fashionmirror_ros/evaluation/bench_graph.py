"""Graph runs of `fashionmirror bench`: the node graph fed at a fixed rate, measured per trial.

A ``GraphRun`` starts pose_node, cmn_node and hsg_node (three processes, or one with
``single_process``) with ``GraphSupervisor`` and the replay's player/recorder ``Harness``; each
``trial(stream, rate, duration)`` plays a ``CameraStream`` looped at `rate` fps, stamped with the
wall clock like a live camera, and measures:
- /tryon/image fps, frames lost (sent - /tryon/image received, as ros2_benchmark counts missed
  frames), end-to-end latency (receive time - camera stamp) count/mean/min/max/p50/p95/p99,
  jitter; per node, from NodeLatency: latency summary, rate, drops;
- CPU share of each node (100 = one core) as CPU seconds / wall seconds over the trial, from the
  processes' CPU times; in one process, from the threads' CPU times grouped by the node name the
  threads carry (MirrorNode names them; ``shared`` = executor, DDS and unnamed threads); and the
  resident memory of each process, sampled every SAMPLE_PERIOD_S.
``camera_trial`` plays a video file through `fashionmirror camera` in its own process instead (the
real-video trial): sent = the count the camera prints; its own CPU is reported as "camera".
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionmirror_ros.nodes.graph_params import GRAPH_NODES

SAMPLE_PERIOD_S = 0.5
SHARED_THREADS = "shared"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Camera streams
# ---------------------------------------------------------------------------------------------
@dataclass
class CameraStream:
    """Frames a camera sends (looped), with what the try-on needs beside them."""

    label: str
    frames: list  # RGB uint8 (H, W, 3)
    keypoints: list | None  # (137, 3) per frame in frame pixels, for the recorded pose source
    source: np.ndarray  # h^s
    garment: np.ndarray  # C
    source_keypoints: np.ndarray | None = None  # pose of h^s (recorded pose source)
    fps: float = 30.0

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].shape[1], self.frames[0].shape[0]

    def bag(self):
        """A ClipBag in memory, what the replay's player takes."""
        from fashionmirror_ros.evaluation.bags import ClipBag

        bag = ClipBag(Path(f"stream:{self.label}"), {}, {"fps": str(self.fps)})
        for index, frame in enumerate(self.frames):
            stamp = int(round(index * 1e9 / self.fps))
            bag.camera_stamps.append(stamp)
            bag.camera_bag_times.append(stamp)
            bag.frames[stamp] = np.ascontiguousarray(frame)
            if self.keypoints is not None:
                bag.keypoints[stamp] = self.keypoints[index]
                bag.keypoint_sizes[stamp] = self.size
        bag.source_image, bag.garment_image = self.source, self.garment
        if self.source_keypoints is not None:
            bag.source_keypoints = self.source_keypoints
            bag.source_keypoints_size = (self.source.shape[1], self.source.shape[0])
        return bag


def generated_stream(clip, size: tuple[int, int], label: str) -> CameraStream:
    """A generated clip as a camera of `size` (width, height): frames 1.. scaled to the height and
    widened by repeating the border columns (the person keeps her proportions), keypoints mapped."""
    import cv2

    width, height = size
    clip_size = clip.frames.shape[1]
    scale = height / clip_size
    scaled = int(round(clip_size * scale))
    pad = max(0, width - scaled)
    frames, keypoints = [], []
    for frame, points in zip(clip.frames[1:], clip.keypoints[1:]):
        image = frame if scale == 1 else cv2.resize(frame, (scaled, scaled), interpolation=cv2.INTER_LINEAR)
        if pad:
            image = cv2.copyMakeBorder(image, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)
        frames.append(np.ascontiguousarray(image[:height, :width]))
        mapped = np.array(points, np.float32)
        mapped[:, :2] = mapped[:, :2] * scale + np.array([pad // 2, 0], np.float32)
        mapped[points[:, 2] <= 0] = 0.0
        keypoints.append(mapped)
    return CameraStream(label, frames, keypoints, np.ascontiguousarray(clip.frames[0]),
                        np.ascontiguousarray(clip.garment), clip.keypoints[0], clip.fps)


# ---------------------------------------------------------------------------------------------
# CPU and memory
# ---------------------------------------------------------------------------------------------
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


# Threads a library names itself, by the node that uses that library (MediaPipe runs only in
# pose_node: its graph threads are "mediapipe/<tid>").
THREAD_OWNERS = {"mediapipe/": "pose_node"}


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


class ResourceMeter:
    """CPU share over a trial (CPU seconds / wall seconds, 100 = one core) per process, per node
    of a process holding several nodes, and resident memory sampled on a thread."""

    def __init__(self, pids: dict[str, int], grouped: set[str] = frozenset(),
                 period_s: float = SAMPLE_PERIOD_S):
        import psutil

        self.processes = {}
        for name, pid in pids.items():
            try:
                self.processes[name] = psutil.Process(pid)
            except psutil.Error:
                pass
        self.grouped = grouped  # process names whose CPU is split per node by thread names
        self.period_s = period_s
        self.rss: dict[str, list[float]] = {name: [] for name in self.processes}
        self._stop = threading.Event()
        self._thread = None

    def _cpu(self) -> dict[str, float]:
        seconds = {}
        for name, process in self.processes.items():
            try:
                times = process.cpu_times()
                seconds[name] = times.user + times.system
                if name in self.grouped:
                    for node, value in group_by_node(thread_cpu_seconds(process.pid)).items():
                        seconds[f"{name}/{node}"] = value
            except Exception:  # noqa: BLE001 - the process may have gone
                pass
        return seconds

    def __enter__(self) -> "ResourceMeter":
        self._start_cpu, self._start_time = self._cpu(), time.monotonic()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            for name, process in self.processes.items():
                try:
                    self.rss[name].append(process.memory_info().rss / 2**20)
                except Exception:  # noqa: BLE001 - the process may have gone
                    pass

    def __exit__(self, *exc) -> None:
        self._end_cpu, self._end_time = self._cpu(), time.monotonic()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def summary(self) -> dict:
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
        for name, samples in self.rss.items():
            if samples:
                result.setdefault(name, {}).update(rss_mb_mean=round(float(np.mean(samples)), 1),
                                                    rss_mb_max=round(float(np.max(samples)), 1))
        return result


def node_cpu(processes: dict) -> dict[str, float | None]:
    """CPU % of each graph node, from separate processes or the per-node split of one."""
    result = {}
    for node in GRAPH_NODES:
        if node in processes:
            result[node] = processes[node].get("cpu_percent")
            continue
        result[node] = next((entry["cpu_percent_by_node"].get(node) for entry in processes.values()
                             if "cpu_percent_by_node" in entry), None)
    return result


# ---------------------------------------------------------------------------------------------
# A started graph
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphConfig:
    """How the graph runs: pose source, processes, torch threads, CPUs and extra parameters per
    node. `variant` names what this configuration changes against the base one (bench_live)."""

    label: str
    estimator: str = "recorded"
    single_process: bool = False
    threads: dict = field(default_factory=lambda: {"cmn_node": 1, "hsg_node": 1})
    cpus: dict = field(default_factory=dict)  # node -> CPUs its process may run on
    node_parameters: dict = field(default_factory=dict)  # node -> {parameter: value}
    variant: str = "base"
    executor: str = "single"  # of the one process: SingleThreadedExecutor or "multi"

    def describe(self) -> dict:
        executor = "MultiThreadedExecutor" if self.executor == "multi" else "SingleThreadedExecutor"
        return {"label": self.label, "estimator": self.estimator, "variant": self.variant,
                "processes": f"one ({executor})" if self.single_process else "three",
                "torch_threads": dict(self.threads), "cpus": {k: list(v) for k, v in self.cpus.items()},
                "node_parameters": {k: dict(v) for k, v in self.node_parameters.items()}}


class GraphRun:
    """A started graph with a player/recorder harness, ready to play trials."""

    def __init__(self, config: GraphConfig, checkpoint: Path, preset: str, inputs: CameraStream,
                 log_dir: Path, settings: dict, device: str | None):
        self.config, self.checkpoint, self.preset, self.inputs = config, checkpoint, preset, inputs
        self.log_dir, self.settings, self.device = log_dir, settings, device
        self.supervisor = None
        self.harness = None
        self.startup_s = None
        self.exit_codes = None
        self._prepared: dict[int, list] = {}

    def specs(self) -> list:
        from fashionmirror_ros.evaluation import replay
        from fashionmirror_ros.nodes.supervisor import graph_specs, in_one_process

        parameters = replay.model_parameters(str(self.checkpoint), self.device, self.preset)
        specs = graph_specs(None, self.config.estimator, parameters)
        for spec in specs:
            if spec.name in self.config.threads:
                spec.parameters["num_threads"] = int(self.config.threads[spec.name])
            spec.parameters.update(self.config.node_parameters.get(spec.name, {}))
            spec.cpus = tuple(self.config.cpus.get(spec.name, ()))
        return in_one_process(specs, executor=self.config.executor) if self.config.single_process else specs

    def __enter__(self) -> "GraphRun":
        from fashionmirror_ros.evaluation import replay
        from fashionmirror_ros.nodes.supervisor import GraphSupervisor

        self.capture = replay.Capture(keep_images=False)
        started = time.monotonic()
        self.supervisor = GraphSupervisor(self.specs(), respawn=False, log_dir=self.log_dir).start()
        self.check = replay.death_check(self.supervisor, self.log_dir)
        try:
            self.harness = replay.Harness(self.capture, self.config.estimator, name="fashionmirror_bench").__enter__()
            self.harness.wait_for_graph(replay.DEFAULT_STARTUP_TIMEOUT_S, self.check)
            self.set_inputs(self.inputs)
            self.startup_s = round(time.monotonic() - started, 2)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def set_inputs(self, inputs: CameraStream) -> None:
        """Publish the stream's source and garment (latched) and wait until the graph has them."""
        from fashionmirror_ros.evaluation import replay

        inputs_ns = self.harness.publish_inputs(inputs.source, inputs.garment, inputs.source_keypoints,
                                                (inputs.source.shape[1], inputs.source.shape[0]))
        self.harness.wait_for_masks(inputs_ns, replay.DEFAULT_STARTUP_TIMEOUT_S, self.check)
        if self.config.estimator != "recorded":
            replay._wait_source_pose(self.harness, inputs_ns, self.check)

    def __exit__(self, *exc) -> None:
        if self.harness is not None:
            self.harness.__exit__(None, None, None)
        if self.supervisor is not None:
            self.exit_codes = self.supervisor.stop()

    def _frames(self, stream: CameraStream) -> list:
        from fashionmirror_ros.evaluation import replay

        key = id(stream)
        if key not in self._prepared:
            self._prepared[key] = replay.prepare_frames(stream.bag(), self.config.estimator == "recorded")
        return self._prepared[key]

    def _meter(self, extra_pids: dict | None = None) -> ResourceMeter:
        pids = dict(self.supervisor.pids(), **(extra_pids or {}))
        grouped = {name for name in pids if name not in GRAPH_NODES and name != "camera"}
        return ResourceMeter(pids, grouped)

    def trial(self, stream: CameraStream, rate: float, duration_s: float, label: str = "",
              record: bool = True) -> dict:
        """Play `stream` looped at `rate` fps for about `duration_s` and measure."""
        from fashionmirror_ros.evaluation import replay

        settings = self.settings
        count = int(round(rate * duration_s))
        count = max(count, settings["min_trial_frames"])
        count = min(count, max(3, int(rate * settings["max_trial_s"])))
        prepared = self._frames(stream)
        frames = [prepared[i % len(prepared)] for i in range(count)]
        offsets = [i / rate for i in range(count)]
        self.capture.clear_streams()
        load_before = os.getloadavg()
        with self._meter() as meter:
            sent = replay.play(self.harness, frames, offsets, check=self.check)
            self._drain(sent[-1].stamp_ns)
        self.check()
        result = trial_statistics(self.capture, [frame.stamp_ns for frame in sent], rate)
        self._finish(result, meter, load_before, stream, record, label, rate)
        return result

    def camera_trial(self, video: Path, rate: float, frames: int, label: str = "") -> dict:
        """Play a video file through `fashionmirror camera` (its own process) at `rate` fps."""
        command = [sys.executable, "-m", "fashionmirror_ros.cli", "camera", str(video), "--fps", f"{rate:g}",
                   "--frames", str(frames), "--wait-for-subscriber", "20", "--quiet"]
        self.capture.clear_streams()
        load_before = os.getloadavg()
        started_ns = self.harness.now_ns()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:  # measure from the first frame on, not the camera's start-up
            self.harness.wait_until(lambda: self._pose_output_since(started_ns), 60.0,
                                    "the first camera frame through pose_node", self.check)
        except BaseException:
            process.kill()
            raise
        with self._meter({"camera": process.pid}) as meter:
            output, errors = process.communicate(timeout=60 + 3 * frames / rate)
            self._drain(None)
        if process.returncode != 0:
            raise RuntimeError(f"fashionmirror camera exited {process.returncode}: {errors.strip()[-500:]}")
        match = re.search(r"sent (\d+) frames", output)
        sent = int(match.group(1)) if match else 0
        with self.capture.lock:
            stamps = sorted({stamp for _, stamp, *_ in self.capture.latency if stamp >= started_ns}
                            | {stamp for stamp, *_ in self.capture.tryon if stamp >= started_ns})
        result = trial_statistics(self.capture, stamps, rate, frames_sent=sent)
        result["camera_process"] = " ".join(command[2:])
        stream = CameraStream(label, [], None, np.zeros(1), np.zeros(1))
        self._finish(result, meter, load_before, stream, True, label, rate)
        return result

    def _pose_output_since(self, stamp_ns: int) -> bool:
        with self.capture.lock:
            return any(stamp >= stamp_ns for stamp, *_ in self.capture.pose)

    def _drain(self, last_stamp: int | None) -> None:
        from fashionmirror_ros.evaluation import replay

        with self.capture.lock:
            e2e = [(r - s) / 1e6 for s, r, _ in self.capture.tryon]
        typical = statistics.median(e2e) / 1e3 if e2e else 1.0
        replay.drain(self.harness, last_stamp if last_stamp is not None else -1,
                     timeout_s=max(5.0, 6 * typical), idle_s=max(1.0, 3 * typical))

    def _finish(self, result: dict, meter: ResourceMeter, load_before, stream: CameraStream,
                record: bool, label: str, rate: float) -> None:
        result["processes"] = meter.summary()
        result["cpu_percent_by_node"] = node_cpu(result["processes"])
        result["camera"] = {"label": stream.label, "width": stream.size[0] if stream.frames else None,
                            "height": stream.size[1] if stream.frames else None}
        result["graph"] = self.config.describe()
        result["load_average_1min_before"] = round(load_before[0], 2)
        if record:
            cpu = "/".join(f"{value or 0:.0f}" for value in result["cpu_percent_by_node"].values())
            print(f"  {self.config.label} {label}{rate:g} fps x {result['frames_sent']}: lost "
                  f"{result['frames_lost']} ({result['lost_fraction']:.1%}), /tryon/image "
                  f"{result['tryon_fps_over_input_duration'] or 0:.1f} fps, e2e p50 "
                  f"{result['end_to_end_ms']['p50'] or 0:.0f} p95 {result['end_to_end_ms']['p95'] or 0:.0f} ms, "
                  f"CPU% pose/cmn/hsg {cpu}", flush=True)


def trial_statistics(capture, sent_stamps: list[int], rate: float, frames_sent: int | None = None) -> dict:
    """The figures of one trial from what the recorder captured; frames_sent overrides the count
    of sent_stamps (a camera process that reports its own count)."""
    from fashionmirror_ros.evaluation import replay

    stamps = set(sent_stamps)
    matched = {}
    with capture.lock:
        for stamp, received, _ in capture.tryon:
            if stamp in stamps and stamp not in matched:
                matched[stamp] = received
        pose = [(stamp, found) for stamp, _, found in capture.pose if stamp in stamps]
    sent_count = frames_sent if frames_sent is not None else len(sent_stamps)
    received_times = sorted(matched.values())
    e2e = [(received - stamp) / 1e6 for stamp, received in matched.items()]
    ordered = sorted(sent_stamps)
    duration = (ordered[-1] - ordered[0]) / 1e9 if len(ordered) > 1 else 0.0
    if frames_sent is not None and rate > 0:
        duration = max(frames_sent - 1, 0) / rate
    lost = max(sent_count - len(matched), 0)
    return {
        "input_rate_hz": rate,
        "duration_s": round(duration, 3),
        "frames_sent": sent_count,
        "frames_received": len(matched),
        "frames_lost": lost,
        "lost_fraction": round(lost / sent_count, 4) if sent_count else None,
        "tryon_fps": replay.rate_hz(received_times),
        "tryon_fps_over_input_duration": round(len(matched) / duration, 3) if duration else None,
        "end_to_end_ms": replay.summary_ms(e2e),
        "end_to_end_jitter_ms": replay.jitter_ms(received_times),
        "pose_keypoints_received": len(pose),
        "pose_person_found": sum(1 for _, found in pose if found),
        "nodes": {name: {k: v for k, v in entry.items() if k != "diagnostics"}
                  for name, entry in replay.node_statistics(capture, stamps).items()},
    }
