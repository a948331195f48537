"""Graph runs of `fashionmirror bench`: the node graph fed at a fixed rate, measured per trial.

A ``GraphRun`` starts pose_node, cmn_node and hsg_node (three processes, or one with
``single_process``) with ``GraphSupervisor`` and the graph harness (evaluation/graph); each
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
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionmirror_ros.evaluation.graph import death_check, model_parameters, own_context_harness
from fashionmirror_ros.evaluation.graph.latency import trial_statistics
from fashionmirror_ros.evaluation.graph.sampler import ProcessSampler
from fashionmirror_ros.evaluation.replay import DEFAULT_STARTUP_TIMEOUT_S, prepare_frames
from fashionmirror_ros.nodes.graph_params import GRAPH_NODES

SAMPLE_PERIOD_S = 0.5


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
# CPU of the nodes
# ---------------------------------------------------------------------------------------------
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
        from fashionmirror_ros.nodes.supervisor import graph_specs, in_one_process

        parameters = model_parameters(str(self.checkpoint), self.device, self.preset)
        specs = graph_specs(None, self.config.estimator, parameters)
        for spec in specs:
            if spec.name in self.config.threads:
                spec.parameters["num_threads"] = int(self.config.threads[spec.name])
            spec.parameters.update(self.config.node_parameters.get(spec.name, {}))
            spec.cpus = tuple(self.config.cpus.get(spec.name, ()))
        return in_one_process(specs, executor=self.config.executor) if self.config.single_process else specs

    def __enter__(self) -> "GraphRun":
        from fashionmirror_ros.nodes.supervisor import GraphSupervisor

        started = time.monotonic()
        self.supervisor = GraphSupervisor(self.specs(), respawn=False, log_dir=self.log_dir).start()
        self.check = death_check(self.supervisor, self.log_dir)
        try:
            self._harness_context = own_context_harness("fashionmirror_bench", keep_images=False,
                                                        estimator=self.config.estimator)
            self.harness = self._harness_context.__enter__()
            self.harness.wait_for_graph(DEFAULT_STARTUP_TIMEOUT_S, self.check)
            self.set_inputs(self.inputs)
            self.startup_s = round(time.monotonic() - started, 2)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def set_inputs(self, inputs: CameraStream) -> None:
        """Publish the stream's source and garment (latched) and wait until the graph has them."""
        recorded = self.config.estimator == "recorded"
        inputs_ns = self.harness.publish_inputs(inputs.source, inputs.garment,
                                                inputs.source_keypoints if recorded else None)
        self.harness.wait_for_masks(inputs_ns, DEFAULT_STARTUP_TIMEOUT_S, self.check)
        if not recorded:
            self.harness.wait_for_source_pose(inputs_ns, self.check)

    def __exit__(self, *exc) -> None:
        if self.harness is not None:
            self._harness_context.__exit__(None, None, None)
            self.harness = None
        if self.supervisor is not None:
            self.exit_codes = self.supervisor.stop()

    def _frames(self, stream: CameraStream) -> list:
        key = id(stream)
        if key not in self._prepared:
            self._prepared[key] = prepare_frames(stream.bag(), self.config.estimator == "recorded")
        return self._prepared[key]

    def _meter(self, extra_pids: dict | None = None) -> ProcessSampler:
        pids = dict(self.supervisor.pids(), **(extra_pids or {}))
        grouped = {name for name in pids if name not in GRAPH_NODES and name != "camera"}
        return ProcessSampler(pids, SAMPLE_PERIOD_S, grouped)

    def trial(self, stream: CameraStream, rate: float, duration_s: float, label: str = "",
              record: bool = True) -> dict:
        """Play `stream` looped at `rate` fps for about `duration_s` and measure."""
        settings = self.settings
        count = int(round(rate * duration_s))
        count = max(count, settings["min_trial_frames"])
        count = min(count, max(3, int(rate * settings["max_trial_s"])))
        prepared = self._frames(stream)
        frames = [prepared[i % len(prepared)] for i in range(count)]
        offsets = [i / rate for i in range(count)]
        self.harness.clear()
        load_before = os.getloadavg()
        with self._meter() as meter:
            sent = self.harness.player.play(frames, offsets, check=self.check)
            self._drain(sent[-1].stamp_ns)
        self.check()
        result = trial_statistics(self.harness.recorder, [frame.stamp_ns for frame in sent], rate)
        self._finish(result, meter, load_before, stream, record, label, rate)
        return result

    def camera_trial(self, video: Path, rate: float, frames: int, label: str = "") -> dict:
        """Play a video file through `fashionmirror camera` (its own process) at `rate` fps."""
        command = [sys.executable, "-m", "fashionmirror_ros.cli", "camera", str(video), "--fps", f"{rate:g}",
                   "--frames", str(frames), "--wait-for-subscriber", "20", "--quiet"]
        self.harness.clear()
        load_before = os.getloadavg()
        started_ns = time.time_ns()
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
        stamps = sorted({record.stamp_ns for record in self.harness.snapshot("latency")
                         if record.stamp_ns >= started_ns}
                        | {arrival.stamp_ns for arrival in self.harness.snapshot("arrivals")
                           if arrival.stamp_ns >= started_ns})
        result = trial_statistics(self.harness.recorder, stamps, rate, frames_sent=sent)
        result["camera_process"] = " ".join(command[2:])
        stream = CameraStream(label, [], None, np.zeros(1), np.zeros(1))
        self._finish(result, meter, load_before, stream, True, label, rate)
        return result

    def _pose_output_since(self, stamp_ns: int) -> bool:
        return any(pose.stamp_ns >= stamp_ns for pose in self.harness.snapshot("pose"))

    def _drain(self, last_stamp: int | None) -> None:
        """Until the trial's frames came through; the waits scale with the graph's latency (a
        paper-preset graph on a CPU takes seconds per frame)."""
        e2e = [arrival.latency_ms for arrival in self.harness.snapshot("arrivals")]
        typical = statistics.median(e2e) / 1e3 if e2e else 1.0
        self.harness.drain(last_stamp if last_stamp is not None else -1,
                           timeout_s=max(5.0, 6 * typical), idle_s=max(1.0, 3 * typical))

    def _finish(self, result: dict, meter: ProcessSampler, load_before, stream: CameraStream,
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
