"""`fashionmirror replay BAG --output DIR`: play a rosbag2 camera recording into the running node
graph, record every output, and write a report (JSON, Markdown, PNG plots, mp4).

How a replay runs
-----------------
1. The graph (pose_node, cmn_node, hsg_node) starts in three processes with ``GraphSupervisor``
   (``--no-graph``: a graph already running on this ROS domain is used). Node logs go to
   DIR/logs/.
2. In this process a *player* node and a *recorder* node start in their own rclpy context; the
   recorder spins in a separate executor thread. The replay waits until /diagnostics shows all
   three nodes and the player's publishers are matched.
3. The source image, garment image (latched) and, with ``--estimator recorded``, the source's
   true keypoints (latched, stamped like the source image) are published; the replay waits for
   the first /cmn/masks (CMN's single-frame masks on the source).
4. /camera/image_raw is played with the bag's original timing scaled by ``--rate``, or at a fixed
   ``--fps``. Like a live camera, each frame is stamped with the wall-clock time it is due
   (header.stamp); with the recorded estimator its /camera/keypoints message, with the same
   stamp, goes out a few milliseconds before it. The replay keeps the map new stamp -> bag frame,
   so everything (ground truth included) is matched by header stamp.
5. The recorder keeps /tryon/image (with its receive time), /cmn/masks, /pose/keypoints,
   /fashionmirror/latency and /diagnostics until the last frame's output arrived (or nothing
   came for a while), then the graph is stopped and the report is written.

Report (DIR/report.json; DIR/summary.md is the same as tables)
-----------------------------------------------------------------
- per node, from NodeLatency: processing latency (receive to publish, ms) count/mean/min/max/
  p50/p95/p99/std, jitter (ms; as ros2_benchmark: |dt_i - dt_{i-1}| of consecutive publish
  intervals, max/min/mean/std), rate (Hz), frames dropped (the node's newest-wins counter during
  the run) and its last /diagnostics values;
- end to end: receive time of /tryon/image minus its header stamp (the camera frame's stamp), the
  same statistics, output fps, first-frame latency, a per-stage breakdown (camera -> pose_node,
  pose_node, pose -> hsg_node, hsg_node, hsg -> recorder) from the NodeLatency times;
- frames: sent, /tryon/image received, dropped (= sent - received), per node counters;
- feedback lag of CMN's masks: for each generated frame, the newest /cmn/masks published before
  hsg_node started on it (estimated from NodeLatency times: start = max(its receive time, its
  previous publish)); a mask stamped with camera frame j predicts frame j+1, so lag = k - (j+1)
  frames for frame k (0 = the paper's sequential schedule);
- metrics against ground truth (bags with /ground_truth/*): SSIM, PSNR (means over frames),
  warping error of the output itself and with the real frames' flow, mask IoU of each published
  M_c against /ground_truth/cloth_mask of the same stamp and of the frame it predicts; LPIPS and
  VFID only when ``--lpips-weights`` / ``--vfid-weights`` name local files.
Files: latency_histogram.png, latency_timeline.png, end_to_end.png, output.mp4 (the /tryon/image
stream in stamp order) and side_by_side.mp4 (camera | try-on).

Exit codes: 0 done; 1 the graph did not start or produced nothing; 2 the bag cannot be read or
the arguments are wrong (one clear line, no traceback).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionmirror_ros.evaluation.reporting import format_value, json_default

from fashionmirror_ros.evaluation.bags import BagError, ClipBag, read_clip_bag

NODE_NAMES = ("pose_node", "cmn_node", "hsg_node")
ESTIMATORS = ("recorded", "mediapipe", "mediapipe_pose")
DEFAULT_STARTUP_TIMEOUT_S = 180.0
DEFAULT_DRAIN_TIMEOUT_S = 15.0
IDLE_AFTER_LAST_S = 3.0
KEYPOINTS_LEAD_S = 0.003  # /camera/keypoints goes out this long before its frame
MASK_GRACE_S = 0.3
VFID_SEGMENT_FRAMES = 16


class ReplayError(RuntimeError):
    """The graph could not be driven (did not start, died, produced nothing)."""


# ---------------------------------------------------------------------------------------------
# Statistics helpers
# ---------------------------------------------------------------------------------------------
def summary_ms(values) -> dict:
    from fashionmirror_ros.evaluation.metrics import summarize

    return {key: (round(value, 3) if isinstance(value, float) else value)
            for key, value in summarize(values).items()}


def jitter_ms(times_ns) -> dict:
    """ros2_benchmark's jitter: |dt_i - dt_{i-1}| of consecutive event intervals, in ms."""
    times = np.sort(np.asarray(list(times_ns), np.float64))
    if times.size < 3:
        return {"max": None, "min": None, "mean": None, "std": None}
    jitters = np.abs(np.diff(np.diff(times))) / 1e6
    return {"max": round(float(jitters.max()), 3), "min": round(float(jitters.min()), 3),
            "mean": round(float(jitters.mean()), 3), "std": round(float(jitters.std()), 3)}


def rate_hz(times_ns) -> float | None:
    times = np.sort(np.asarray(list(times_ns), np.float64))
    if times.size < 2 or times[-1] <= times[0]:
        return None
    return round(float((times.size - 1) / ((times[-1] - times[0]) / 1e9)), 3)


def time_ns_of(msg_time) -> int:
    return int(msg_time.sec) * 1_000_000_000 + int(msg_time.nanosec)


def duration_ns_of(msg_duration) -> int:
    return int(msg_duration.sec) * 1_000_000_000 + int(msg_duration.nanosec)


# ---------------------------------------------------------------------------------------------
# What the recorder keeps
# ---------------------------------------------------------------------------------------------
@dataclass
class Capture:
    """Everything received during a run; lists of tuples, appended by the executor thread."""

    keep_images: bool = True
    tryon: list = field(default_factory=list)  # (stamp_ns, receive_ns, image or None)
    masks: list = field(default_factory=list)  # (stamp_ns, receive_ns, multi_frame, cloth, removed)
    pose: list = field(default_factory=list)  # (stamp_ns, receive_ns, person_found)
    latency: list = field(default_factory=list)  # (node, stamp, receive, duration, publish, dropped)
    diagnostics: dict = field(default_factory=dict)  # node name -> (level, message, values dict)
    source_keypoints: list = field(default_factory=list)  # (stamp_ns, person_found)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> dict:
        return {"tryon": len(self.tryon), "masks": len(self.masks), "pose": len(self.pose),
                "latency": len(self.latency)}

    def clear_streams(self, keep_masks_after_ns: int | None = None) -> None:
        """Forget what came before a run (masks received after keep_masks_after_ns stay)."""
        with self.lock:
            self.tryon.clear()
            self.pose.clear()
            self.latency.clear()
            after = keep_masks_after_ns if keep_masks_after_ns is not None else 2**63
            self.masks[:] = [mask for mask in self.masks if mask[1] >= after]


def _node_key(status_name: str) -> str:
    """'fashionmirror/hsg_node' -> 'hsg_node' (also for namespaced names)."""
    return status_name.rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------------------------
# The player + recorder harness (also used by the benchmark)
# ---------------------------------------------------------------------------------------------
class Harness:
    """A player node and a recorder node in their own rclpy context, the recorder spinning in a
    separate executor thread. Use as a context manager."""

    def __init__(self, capture: Capture, estimator: str, name: str = "fashionmirror_replay"):
        self.capture = capture
        self.estimator = estimator
        self.name = name
        self.context = None
        self.executor = None
        self.thread = None

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> "Harness":
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        self.context = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        try:
            self._make_nodes()
            self.executor = SingleThreadedExecutor(context=self.context)
            self.executor.add_node(self.recorder)
            self.thread = threading.Thread(target=self._spin, name="replay-recorder", daemon=True)
            self.thread.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            return  # ends with the context
        except Exception as error:  # noqa: BLE001 - a recorder fault must be seen, not hidden
            if self.executor.context.ok():
                print(f"fashionmirror replay: executor stopped: {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        import rclpy

        if self.executor is not None:
            self.executor.shutdown(timeout_sec=2.0)
        for node in (getattr(self, "player", None), getattr(self, "recorder", None)):
            if node is not None:
                try:
                    node.destroy_node()
                except Exception:  # noqa: BLE001
                    pass
        if self.context is not None:
            rclpy.try_shutdown(context=self.context)
        if self.thread is not None:
            self.thread.join(timeout=5.0)

    def _make_nodes(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from fashionmirror_ros.msg import NodeLatency, PoseKeypoints, TryOnMasks
        from fashionmirror_ros import topics
        from fashionmirror_ros.nodes.common import LATCHED_QOS, OUTPUT_QOS

        deep = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                          reliability=ReliabilityPolicy.RELIABLE)
        deep_latched = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                                  reliability=ReliabilityPolicy.RELIABLE,
                                  durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.player = rclpy.create_node(f"{self.name}_player", context=self.context,
                                        start_parameter_services=False)
        self.recorder = rclpy.create_node(f"{self.name}_recorder", context=self.context,
                                          start_parameter_services=False)
        # The camera is played as a camera driver publishes by default (reliable, keep-last 10).
        self.camera_pub = self.player.create_publisher(Image, topics.CAMERA_IMAGE, OUTPUT_QOS)
        self.keypoints_pub = self.player.create_publisher(PoseKeypoints, topics.CAMERA_KEYPOINTS, deep)
        self.source_pub = self.player.create_publisher(Image, topics.SOURCE_IMAGE, LATCHED_QOS)
        self.garment_pub = self.player.create_publisher(Image, topics.GARMENT_IMAGE, LATCHED_QOS)
        self.source_pose_pub = None
        if self.estimator == "recorded":
            self.source_pose_pub = self.player.create_publisher(PoseKeypoints, topics.SOURCE_KEYPOINTS,
                                                                LATCHED_QOS)
        capture = self.capture
        clock = self.recorder.get_clock()

        def on_tryon(msg):
            received = clock.now().nanoseconds
            image = None
            if capture.keep_images:
                image = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[
                    :, :msg.width * 3].reshape(msg.height, msg.width, 3).copy()
            with capture.lock:
                capture.tryon.append((time_ns_of(msg.header.stamp), received, image))

        def on_masks(msg):
            received = clock.now().nanoseconds
            cloth = removed = None
            if capture.keep_images:
                cloth = _mono(msg.cloth_mask)
                removed = _mono(msg.removed_mask)
            with capture.lock:
                capture.masks.append((time_ns_of(msg.header.stamp), received, bool(msg.multi_frame),
                                      cloth, removed))

        def on_pose(msg):
            with capture.lock:
                capture.pose.append((time_ns_of(msg.header.stamp), clock.now().nanoseconds,
                                     bool(msg.person_found)))

        def on_latency(msg):
            with capture.lock:
                capture.latency.append((msg.node_name, time_ns_of(msg.header.stamp),
                                        time_ns_of(msg.receive_time),
                                        duration_ns_of(msg.processing_duration),
                                        time_ns_of(msg.publish_time), int(msg.frames_dropped)))

        def on_diagnostics(msg):
            with capture.lock:
                for status in msg.status:
                    values = {item.key: item.value for item in status.values}
                    capture.diagnostics[_node_key(status.name)] = (int.from_bytes(status.level, "little")
                                                                   if isinstance(status.level, bytes)
                                                                   else int(status.level),
                                                                   status.message, values)

        def on_source_pose(msg):
            with capture.lock:
                capture.source_keypoints.append((time_ns_of(msg.header.stamp), bool(msg.person_found)))

        self.recorder.create_subscription(Image, topics.TRYON_IMAGE, on_tryon, deep)
        self.recorder.create_subscription(TryOnMasks, topics.CMN_MASKS, on_masks, deep_latched)
        self.recorder.create_subscription(PoseKeypoints, topics.POSE_KEYPOINTS, on_pose, deep)
        self.recorder.create_subscription(NodeLatency, topics.LATENCY, on_latency,
                                          QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                                                     reliability=ReliabilityPolicy.RELIABLE))
        self.recorder.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, on_diagnostics, deep)
        if self.estimator != "recorded":
            self.recorder.create_subscription(PoseKeypoints, topics.SOURCE_KEYPOINTS, on_source_pose,
                                              deep_latched)

    # -- helpers ----------------------------------------------------------------------------------
    def now_ns(self) -> int:
        return self.player.get_clock().now().nanoseconds

    def ok(self) -> bool:
        return self.context is not None and self.context.ok()

    def wait_until(self, predicate, timeout_s: float, what: str, check=None, poll_s: float = 0.05) -> None:
        """Wait for predicate(); check() may raise (a node died); ReplayError on time-out."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise ReplayError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(poll_s)

    def nodes_seen(self) -> set[str]:
        with self.capture.lock:
            return {name for name in self.capture.diagnostics if name in NODE_NAMES}

    def wait_for_graph(self, timeout_s: float, check=None) -> float:
        """Until /diagnostics shows the three nodes and the player's publishers are matched."""
        start = time.monotonic()
        needed_sources = 2 if self.estimator == "recorded" else 3

        def ready() -> bool:
            if self.nodes_seen() != set(NODE_NAMES):
                return False
            if self.camera_pub.get_subscription_count() < 1:
                return False
            if self.estimator == "recorded" and self.keypoints_pub.get_subscription_count() < 1:
                return False
            return (self.source_pub.get_subscription_count() >= needed_sources
                    and self.garment_pub.get_subscription_count() >= 2)

        def describe() -> str:
            missing = sorted(set(NODE_NAMES) - self.nodes_seen())
            if missing:
                return "the node graph (no /diagnostics from " + ", ".join(missing) + ")"
            unmatched = [topic for topic, publisher, needed in (
                ("/camera/image_raw", self.camera_pub, 1),
                ("/camera/keypoints (is pose_node running with estimator:=recorded?)", self.keypoints_pub,
                 1 if self.estimator == "recorded" else 0),
                ("/tryon/source_image", self.source_pub, needed_sources),
                ("/tryon/garment_image", self.garment_pub, 2)) if publisher.get_subscription_count() < needed]
            return "subscribers of " + ", ".join(unmatched)

        deadline = time.monotonic() + timeout_s
        while not ready():
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise ReplayError(f"timed out after {timeout_s:.0f} s waiting for {describe()}")
            time.sleep(0.1)
        return time.monotonic() - start

    def publish_inputs(self, source: np.ndarray, garment: np.ndarray,
                       source_keypoints: np.ndarray | None, keypoints_size: tuple[int, int] | None) -> int:
        """Source, garment (latched) and, in recorded mode, the source pose; returns their stamp."""
        from std_msgs.msg import Header

        stamp_ns = self.now_ns()
        header = Header(stamp=_time_msg(stamp_ns), frame_id="source")
        self.source_pub.publish(_image_msg(source, header))
        self.garment_pub.publish(_image_msg(garment, Header(stamp=_time_msg(stamp_ns), frame_id="garment")))
        if self.source_pose_pub is not None and source_keypoints is not None:
            width, height = keypoints_size or (source.shape[1], source.shape[0])
            self.source_pose_pub.publish(_keypoints_msg(source_keypoints, header, width, height))
        return stamp_ns

    def wait_for_masks(self, after_ns: int, timeout_s: float, check=None) -> None:
        def have() -> bool:
            with self.capture.lock:
                return any(received >= after_ns for _, received, *_ in self.capture.masks)
        self.wait_until(have, timeout_s, "the first /cmn/masks (is cmn_node loading its model?)", check)
        time.sleep(MASK_GRACE_S)


def _mono(image_msg) -> np.ndarray:
    rows = np.frombuffer(image_msg.data, np.uint8).reshape(image_msg.height, image_msg.step)
    return rows[:, :image_msg.width].copy()


def _time_msg(stamp_ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def _image_msg(rgb: np.ndarray, header):
    from sensor_msgs.msg import Image

    rgb = np.ascontiguousarray(rgb, np.uint8)
    mono = rgb.ndim == 2
    msg = Image(header=header, height=rgb.shape[0], width=rgb.shape[1],
                encoding="mono8" if mono else "rgb8", is_bigendian=0,
                step=rgb.shape[1] * (1 if mono else 3))
    msg.data = rgb.tobytes()
    return msg


def _keypoints_msg(keypoints: np.ndarray, header, width: int, height: int):
    from fashionmirror_ros.msg import PoseKeypoints

    keypoints = np.asarray(keypoints, np.float32)
    msg = PoseKeypoints(header=header, image_width=int(width), image_height=int(height),
                        person_found=bool((keypoints[:, 2] > 0).any()), estimator="recorded")
    msg.x, msg.y, msg.confidence = (np.ascontiguousarray(keypoints[:, i]) for i in range(3))
    return msg


@dataclass
class PreparedFrame:
    index: int
    image_msg: object
    keypoints_msg: object | None


def prepare_frames(bag: ClipBag, with_keypoints: bool) -> list[PreparedFrame]:
    """rclpy messages for every camera frame, built before playing (stamps are set at play time)."""
    from std_msgs.msg import Header

    prepared = []
    for index, stamp in enumerate(bag.camera_stamps):
        header = Header(frame_id="camera")
        keypoints = None
        if with_keypoints:
            if stamp not in bag.keypoints:
                raise BagError(bag.path, f"/camera/keypoints has no message for camera frame {index} "
                                         f"(stamp {stamp}); use --estimator mediapipe")
            width, height = bag.keypoint_sizes.get(stamp, (bag.frames[stamp].shape[1],
                                                           bag.frames[stamp].shape[0]))
            keypoints = _keypoints_msg(bag.keypoints[stamp], Header(frame_id="camera"), width, height)
        prepared.append(PreparedFrame(index, _image_msg(bag.frames[stamp], header), keypoints))
    return prepared


@dataclass
class SentFrame:
    stamp_ns: int  # header stamp given at play time
    index: int  # camera frame of the bag
    published_ns: int  # when the frame message actually went out


def play(harness: Harness, frames: list[PreparedFrame], offsets_s: list[float], progress=None,
         check=None, stop_at: float | None = None) -> list[SentFrame]:
    """Publish frames[i] at start + offsets_s[i] (wall clock), stamped with its due time."""
    sent: list[SentFrame] = []
    lead = KEYPOINTS_LEAD_S if any(f.keypoints_msg is not None for f in frames) else 0.0
    start_mono = time.perf_counter() + 0.05 + lead
    start_wall = harness.now_ns() + int((start_mono - time.perf_counter()) * 1e9)
    last_check = time.monotonic()
    for frame, offset in zip(frames, offsets_s):
        due = start_mono + offset
        stamp_ns = start_wall + int(round(offset * 1e9))
        stamp = _time_msg(stamp_ns)
        if frame.keypoints_msg is not None:
            _sleep_until(due - lead)
            frame.keypoints_msg.header.stamp = stamp
            harness.keypoints_pub.publish(frame.keypoints_msg)
        _sleep_until(due)
        frame.image_msg.header.stamp = stamp
        harness.camera_pub.publish(frame.image_msg)
        sent.append(SentFrame(stamp_ns, frame.index, harness.now_ns()))
        if progress is not None:
            progress(len(sent))
        if check is not None and time.monotonic() - last_check > 0.5:
            check()
            last_check = time.monotonic()
        if stop_at is not None and time.perf_counter() > stop_at:
            break
    return sent


def _sleep_until(due_perf: float) -> None:
    while True:
        remaining = due_perf - time.perf_counter()
        if remaining <= 0:
            return
        time.sleep(remaining - 0.0005 if remaining > 0.002 else remaining)


def drain(harness: Harness, last_stamp: int, timeout_s: float, idle_s: float = IDLE_AFTER_LAST_S) -> None:
    """Until the last frame's /tryon/image arrived, nothing came for idle_s, or timeout_s."""
    capture = harness.capture
    deadline = time.monotonic() + timeout_s
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        with capture.lock:
            count = len(capture.tryon)
            done = any(stamp == last_stamp for stamp, _, _ in capture.tryon[-5:])
        if done:
            time.sleep(0.2)  # the last NodeLatency messages
            return
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > idle_s:
            return
        time.sleep(0.05)


def schedule(bag: ClipBag, rate: float | None, fps: float | None) -> list[float]:
    """Play offsets (s) of the bag's frames: original timing / rate, or i / fps."""
    if fps:
        return [index / fps for index in range(bag.num_frames)]
    times = np.asarray(bag.camera_bag_times, np.float64)
    return list((times - times[0]) / 1e9 / (rate or 1.0))


# ---------------------------------------------------------------------------------------------
# Graph process management
# ---------------------------------------------------------------------------------------------
def model_parameters(checkpoint: str | None, device: str | None, preset: str | None = None,
                     threads: int | None = None, bf16: bool | None = None) -> dict:
    chosen = {"checkpoint": checkpoint, "device": device, "preset": preset, "num_threads": threads,
              "bf16_autocast": bf16}
    return {key: value for key, value in chosen.items() if value is not None}


def start_graph(estimator: str, parameters: dict, log_dir: Path, params_file=None,
                extra_pose: dict | None = None):
    from fashionmirror_ros.nodes.supervisor import GraphSupervisor, graph_specs

    specs = graph_specs(None, estimator, parameters)
    if extra_pose:
        specs[0].parameters.update(extra_pose)
    supervisor = GraphSupervisor(specs, params_file, respawn=False, log_dir=log_dir)
    return supervisor.start()


def death_check(supervisor, log_dir: Path | None):
    """A check() for waits: raises ReplayError naming the node that died and its last log lines."""
    def check() -> None:
        if supervisor is None:
            return
        dead = supervisor.dead()
        if dead:
            name, code = next(iter(dead.items()))
            tail = log_tail(log_dir / f"{name}.log") if log_dir else ""
            raise ReplayError(f"{name} exited with code {code}" + (f":\n{tail}" if tail else ""))
    return check


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


# ---------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------
def node_statistics(capture: Capture, stamps: set[int] | None) -> dict:
    """Per node: latency summary, jitter, rate, drops during the run, last diagnostics."""
    per_node = defaultdict(list)
    for record in capture.latency:
        if stamps is None or record[1] in stamps:
            per_node[record[0]].append(record)
    result = {}
    for name in sorted(set(per_node) | set(NODE_NAMES)):
        records = sorted(per_node.get(name, []), key=lambda r: r[4])
        durations = [r[3] / 1e6 for r in records]
        publishes = [r[4] for r in records]
        dropped = [r[5] for r in records]
        entry = {
            "frames": len(records),
            "latency_ms": summary_ms(durations),
            "jitter_ms": jitter_ms(publishes),
            "rate_hz": rate_hz(publishes),
            "frames_dropped": (dropped[-1] - dropped[0]) if dropped else None,
        }
        diagnostics = capture.diagnostics.get(name)
        if diagnostics:
            entry["diagnostics"] = {"level": diagnostics[0], "message": diagnostics[1], **diagnostics[2]}
        result[name] = entry
    return result


def stage_breakdown(capture: Capture, sent_by_stamp: dict[int, SentFrame]) -> dict:
    """Median/p95 of the hops of a frame: camera -> pose_node -> hsg_node -> recorder (ms).

    The nodes take NodeLatency.publish_time after publish() returned, so a hop that starts at a
    publish (pose_node_to_hsg_node, hsg_node_to_recorder) is the delivery time minus the rest of
    the publish call, and can be slightly negative when delivery beats the return."""
    by_node = defaultdict(dict)
    for name, stamp, receive, duration, publish, _ in capture.latency:
        by_node[name][stamp] = (receive, publish)
    tryon_receive = {stamp: received for stamp, received, _ in capture.tryon}
    hops = defaultdict(list)
    for stamp, sent in sent_by_stamp.items():
        pose = by_node["pose_node"].get(stamp)
        hsg = by_node["hsg_node"].get(stamp)
        if pose:
            hops["camera_to_pose_node"].append((pose[0] - stamp) / 1e6)
            hops["pose_node_processing"].append((pose[1] - pose[0]) / 1e6)
        if pose and hsg:
            hops["pose_node_to_hsg_node"].append((hsg[0] - pose[1]) / 1e6)
        if hsg:
            hops["hsg_node_processing"].append((hsg[1] - hsg[0]) / 1e6)
            if stamp in tryon_receive:
                hops["hsg_node_to_recorder"].append((tryon_receive[stamp] - hsg[1]) / 1e6)
        hops["stamp_to_publish"].append((sent.published_ns - stamp) / 1e6)
    return {name: {"p50": _round(np.percentile(values, 50)), "p95": _round(np.percentile(values, 95)),
                   "mean": _round(np.mean(values)), "count": len(values)}
            for name, values in hops.items() if values}


def _round(value, digits: int = 3):
    return None if value is None or not math.isfinite(float(value)) else round(float(value), digits)


def feedback_lag(capture: Capture, index_of: dict[int, int]) -> dict:
    """Frames between the camera frame a used mask was predicted for and the frame it served."""
    cmn_publish = {stamp: publish for name, stamp, _, _, publish, _ in capture.latency
                   if name == "cmn_node"}
    masks = sorted(((cmn_publish.get(stamp, received), stamp, multi)
                    for stamp, received, multi, *_ in capture.masks), key=lambda m: m[0])
    hsg = sorted(((publish, receive, stamp) for name, stamp, receive, _, publish, _ in capture.latency
                  if name == "hsg_node" and stamp in index_of), key=lambda r: r[0])
    if not hsg or not masks:
        return {"frames": 0, "note": "no generated frames or masks to compare"}
    mask_times = np.asarray([m[0] for m in masks], np.int64)
    lags, from_source, multi_used = [], 0, 0
    previous_publish = None
    for publish, receive, stamp in hsg:
        start = receive if previous_publish is None else max(receive, previous_publish)
        previous_publish = publish
        position = int(np.searchsorted(mask_times, start, side="right")) - 1
        if position < 0:
            continue
        _, mask_stamp, multi = masks[position]
        multi_used += int(multi)
        if mask_stamp not in index_of:
            from_source += 1
            continue
        lags.append(index_of[stamp] - (index_of[mask_stamp] + 1))
    values, counts = np.unique(np.asarray(lags, np.int64), return_counts=True) if lags else ([], [])
    return {
        "frames": len(hsg),
        "frames_using_source_masks": from_source,
        "frames_using_multi_frame_masks": multi_used,
        "lag_frames": summary_ms(lags) if lags else None,
        "lag_histogram": {str(int(v)): int(c) for v, c in zip(values, counts)},
        "fraction_lag_0": round(float(np.mean(np.asarray(lags) <= 0)), 4) if lags else None,
        "definition": "lag = k - (j + 1) for generated frame k using the newest mask (stamped with "
                      "camera frame j, predicting j+1) that cmn_node had published when hsg_node "
                      "started on frame k (estimated from NodeLatency times); 0 = sequential "
                      "schedule of the paper",
    }


def fit_square(image: np.ndarray, size: int) -> np.ndarray:
    from fashionmirror_ros.pipeline.framing import Letterbox

    if image.ndim == 2:
        return fit_square(np.repeat(image[:, :, None], 3, axis=2), size)[:, :, 0]
    return Letterbox.fit(image.shape[1], image.shape[0], size).image(image)


def quality_metrics(bag: ClipBag, capture: Capture, index_of: dict[int, int],
                    lpips_weights=None, vfid_weights=None) -> dict:
    """Metrics of the received frames/masks against the bag's ground truth (matched by stamp)."""
    from fashionmirror_ros.evaluation import metrics

    if not bag.has_ground_truth:
        return {"available": False, "note": "no ground truth: the bag has no /ground_truth/* topics, "
                                            "or --source-image/--garment-image replaced its inputs"}
    frames = sorted(((index_of[stamp], image) for stamp, _, image in capture.tryon
                     if stamp in index_of and image is not None), key=lambda item: item[0])
    result: dict = {"available": True, "frames_compared": len(frames)}
    generated, real = [], []
    for index, image in frames:
        truth = bag.gt_images.get(bag.camera_stamps[index])
        if truth is None:
            continue
        generated.append(image)
        real.append(fit_square(truth, image.shape[0]))
    if generated:
        ssim = [metrics.ssim(g, r) for g, r in zip(generated, real)]
        psnr = [metrics.psnr(g, r) for g, r in zip(generated, real)]
        result["ssim"] = _round(np.mean(ssim), 4)
        result["psnr_db"] = _round(np.mean(psnr), 3)
        result["ssim_per_frame"] = summary_ms(ssim)
        result["psnr_per_frame_db"] = summary_ms(psnr)
        video, truth_video = np.stack(generated), np.stack(real)
        if len(generated) >= 2:
            result["warping_error_self"] = _round(metrics.warping_error(video), 4)
            result["warping_error_real_flow"] = _round(metrics.warping_error_against(video, truth_video), 4)
            result["warping_error_ground_truth"] = _round(metrics.warping_error(truth_video), 4)
        result["lpips"] = (_round(metrics.lpips(video, truth_video, lpips_weights), 4)
                           if lpips_weights else None)
        result["vfid"] = None
        if vfid_weights:
            segments = len(generated) // VFID_SEGMENT_FRAMES
            if segments >= 2:
                cut = segments * VFID_SEGMENT_FRAMES
                result["vfid"] = _round(metrics.vfid(
                    list(truth_video[:cut].reshape(segments, VFID_SEGMENT_FRAMES, *video.shape[1:])),
                    list(video[:cut].reshape(segments, VFID_SEGMENT_FRAMES, *video.shape[1:])),
                    vfid_weights), 4)
                result["vfid_segments"] = segments
            else:
                result["vfid_note"] = f"needs >= {2 * VFID_SEGMENT_FRAMES} received frames"
    same, following, removed = [], [], []
    source_index = int(bag.custom.get("source_index", 0)) if bag.custom.get("source_index", "").isdigit() else 0
    for stamp, _, _, cloth, removed_mask in capture.masks:
        if cloth is None:
            continue
        if stamp in index_of:
            index = index_of[stamp]
            truth = bag.gt_cloth_masks.get(bag.camera_stamps[index])
            if truth is not None:
                same.append(metrics.mask_iou(cloth, fit_square(truth, cloth.shape[0])))
            if index + 1 < bag.num_frames:
                truth = bag.gt_cloth_masks.get(bag.camera_stamps[index + 1])
                if truth is not None:
                    following.append(metrics.mask_iou(cloth, fit_square(truth, cloth.shape[0])))
        elif (removed_mask is not None and 0 <= source_index < bag.num_frames and not removed
              and bag.custom.get("protocol", "reconstruction") == "reconstruction"):
            # M_r is the source's own garment: ground truth only when the bag's garment is it
            truth = bag.gt_cloth_masks.get(bag.camera_stamps[source_index])
            if truth is not None:
                removed.append(metrics.mask_iou(removed_mask, fit_square(truth, removed_mask.shape[0])))
    result["mask_iou"] = _round(np.mean(same), 4) if same else None
    result["mask_iou_next_frame"] = _round(np.mean(following), 4) if following else None
    result["masks_compared"] = len(same)
    result["removed_mask_iou_source"] = _round(removed[0], 4) if removed else None
    return result


def analyse(bag: ClipBag, capture: Capture, sent: list[SentFrame], run_info: dict,
            lpips_weights=None, vfid_weights=None) -> dict:
    sent_by_stamp = {frame.stamp_ns: frame for frame in sent}
    index_of = {frame.stamp_ns: frame.index for frame in sent}
    stamps = set(sent_by_stamp)
    tryon = [(stamp, received) for stamp, received, _ in capture.tryon]
    matched = [(stamp, received) for stamp, received in tryon if stamp in stamps]
    unmatched = len(tryon) - len(matched)
    unique_received = {stamp for stamp, _ in matched}
    end_to_end = [(received - stamp) / 1e6 for stamp, received in matched]
    receive_times = [received for _, received in matched]
    first_latency = None
    if matched and sent:
        first_latency = _round((min(receive_times) - sent[0].stamp_ns) / 1e6)
    duration_s = ((sent[-1].stamp_ns - sent[0].stamp_ns) / 1e9) if len(sent) > 1 else 0.0
    frames = {
        "sent": len(sent),
        "tryon_received": len(unique_received),
        "dropped": len(sent) - len(unique_received),
        "drop_fraction": _round((len(sent) - len(unique_received)) / len(sent), 4) if sent else None,
        "pose_keypoints_received": sum(1 for stamp, _, _ in capture.pose if stamp in stamps),
        "pose_person_found": sum(1 for stamp, _, found in capture.pose if stamp in stamps and found),
        "masks_received": len(capture.masks),
        "tryon_with_unknown_stamp": unmatched,
    }
    report = {
        "bag": {"path": str(bag.path), "frames": bag.num_frames, "fps": _round(bag.fps),
                "topics": {name: {"type": t, "count": c} for name, (t, c) in sorted(bag.topics.items())},
                "custom": bag.custom, "ground_truth": bag.has_ground_truth},
        "run": run_info,
        "frames": frames,
        "input_fps": rate_hz(frame.stamp_ns for frame in sent),
        "output_fps": rate_hz(receive_times),
        "output_fps_over_input_duration": _round(len(unique_received) / duration_s) if duration_s else None,
        "end_to_end_latency_ms": summary_ms(end_to_end),
        "end_to_end_jitter_ms": jitter_ms(receive_times),
        "first_frame_latency_ms": first_latency,
        "stages_ms": stage_breakdown(capture, sent_by_stamp),
        "nodes": node_statistics(capture, stamps),
        "stamps": {"tryon_stamps_equal_camera_stamps": unmatched == 0 and bool(matched),
                   "tryon_in_stamp_order": [s for s, _ in tryon] == sorted(s for s, _ in tryon)},
        "feedback_lag": feedback_lag(capture, index_of),
        "metrics": quality_metrics(bag, capture, index_of, lpips_weights, vfid_weights),
    }
    return report


# ---------------------------------------------------------------------------------------------
# Report files
# ---------------------------------------------------------------------------------------------
def write_outputs(output: Path, bag: ClipBag, capture: Capture, sent: list[SentFrame], report: dict,
                  video: bool = True) -> dict:
    from fashionmirror_ros.evaluation import plots
    from fashionmirror_ros.evaluation.video import write_mp4

    files = {}
    index_of = {frame.stamp_ns: frame.index for frame in sent}
    stamps = set(index_of)
    per_node_ms, per_node_timeline = defaultdict(list), defaultdict(lambda: ([], []))
    for name, stamp, _, duration, publish, _ in capture.latency:
        if stamp in stamps:
            per_node_ms[name].append(duration / 1e6)
            per_node_timeline[name][0].append(publish / 1e9)
            per_node_timeline[name][1].append(duration / 1e6)
    ordered = {name: per_node_ms.get(name, []) for name in NODE_NAMES}
    files["latency_histogram"] = plots.latency_histogram(ordered, output / "latency_histogram.png").name
    files["latency_timeline"] = plots.latency_timeline(
        {name: per_node_timeline[name] for name in NODE_NAMES}, output / "latency_timeline.png").name
    matched = sorted((received, (received - stamp) / 1e6) for stamp, received, _ in capture.tryon
                     if stamp in stamps)
    files["end_to_end"] = plots.end_to_end_plot([r / 1e9 for r, _ in matched], [ms for _, ms in matched],
                                                output / "end_to_end.png").name
    frames = sorted(((stamp, image) for stamp, _, image in capture.tryon
                     if stamp in stamps and image is not None), key=lambda item: item[0])
    seen = set()
    frames = [(s, i) for s, i in frames if not (s in seen or seen.add(s))]
    fps = report.get("input_fps") or bag.fps or 30.0
    if video and frames:
        files["output_video"] = write_mp4(output / "output.mp4", (image for _, image in frames), fps) and "output.mp4"

        def side_by_side():
            for stamp, image in frames:
                camera = fit_square(bag.frames[bag.camera_stamps[index_of[stamp]]], image.shape[0])
                yield np.concatenate([camera, image], axis=1)

        files["side_by_side_video"] = write_mp4(output / "side_by_side.mp4", side_by_side(), fps) and "side_by_side.mp4"
    files["report"] = "report.json"
    files["summary"] = "summary.md"
    report["files"] = files
    (output / "report.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    (output / "summary.md").write_text(summary_markdown(report))
    return files






def summary_markdown(report: dict) -> str:
    run, frames = report["run"], report["frames"]
    e2e = report["end_to_end_latency_ms"]
    lines = [
        "# fashionmirror replay report", "",
        f"- bag: `{report['bag']['path']}` ({report['bag']['frames']} frames at "
        f"{format_value(report['bag']['fps'])} fps)",
        f"- estimator: **{run.get('estimator')}**, playback: {run.get('playback')}, "
        f"graph: {run.get('graph')}, checkpoint: `{run.get('checkpoint') or 'shipped'}`",
        f"- input {format_value(report['input_fps'])} fps -> /tryon/image **{format_value(report['output_fps'])} fps**; "
        f"frames sent {frames['sent']}, received {frames['tryon_received']}, dropped "
        f"{frames['dropped']} ({format_value((frames['drop_fraction'] or 0) * 100)} %)",
        f"- end-to-end latency (camera stamp -> /tryon/image received): p50 "
        f"**{format_value(e2e.get('p50'))} ms**, p95 **{format_value(e2e.get('p95'))} ms**, p99 {format_value(e2e.get('p99'))} ms, "
        f"max {format_value(e2e.get('max'))} ms; first frame {format_value(report['first_frame_latency_ms'])} ms",
        f"- /tryon/image stamps equal camera stamps: {report['stamps']['tryon_stamps_equal_camera_stamps']}",
        "", "## Per-node latency (receive -> publish, ms)", "",
        "| node | frames | p50 | p95 | p99 | max | mean | min | jitter mean | rate Hz | dropped |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, node in report["nodes"].items():
        lat = node["latency_ms"]
        lines.append(f"| {name} | {node['frames']} | {format_value(lat.get('p50'))} | {format_value(lat.get('p95'))} | "
                     f"{format_value(lat.get('p99'))} | {format_value(lat.get('max'))} | {format_value(lat.get('mean'))} | "
                     f"{format_value(lat.get('min'))} | {format_value(node['jitter_ms'].get('mean'))} | "
                     f"{format_value(node['rate_hz'])} | {format_value(node['frames_dropped'])} |")
    lines += ["", "## Where a frame's time goes (ms)", "", "| hop | p50 | p95 | mean |", "|---|---|---|---|"]
    for name, hop in report["stages_ms"].items():
        lines.append(f"| {name} | {format_value(hop['p50'])} | {format_value(hop['p95'])} | {format_value(hop['mean'])} |")
    lag = report["feedback_lag"]
    if lag.get("lag_frames"):
        lines += ["", "## Mask feedback lag", "",
                  f"- frames with masks of the current schedule (lag 0): {format_value((lag['fraction_lag_0'] or 0) * 100)} %; "
                  f"mean lag {format_value(lag['lag_frames']['mean'], 2)} frames, max {format_value(lag['lag_frames']['max'], 0)}; "
                  f"histogram {lag['lag_histogram']}; frames on the source's masks: "
                  f"{lag['frames_using_source_masks']}"]
    quality = report["metrics"]
    lines += ["", "## Quality against ground truth", ""]
    if quality.get("available"):
        lines += ["| metric | value |", "|---|---|"]
        for key in ("frames_compared", "ssim", "psnr_db", "warping_error_self", "warping_error_real_flow",
                    "warping_error_ground_truth", "mask_iou", "mask_iou_next_frame",
                    "removed_mask_iou_source", "lpips", "vfid"):
            if key in quality:
                lines.append(f"| {key} | {format_value(quality[key], 4)} |")
    else:
        lines.append(quality.get("note", "not available"))
    files = report.get("files", {})
    lines += ["", "## Files", ""] + [f"- {name}: `{path}`" for name, path in files.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 directory (or its .mcap / .db3 file) with /camera/image_raw")
    parser.add_argument("--output", default="out/replay", help="report folder (default out/replay)")
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument("--rate", type=float, default=None,
                        help="play at the bag's original timing times this factor (default 1.0)")
    timing.add_argument("--fps", type=float, default=None, help="play at this fixed frame rate instead")
    parser.add_argument("--estimator", choices=ESTIMATORS, default=None,
                        help="pose source: recorded (/camera/keypoints of the bag; default when "
                             "the bag has it), mediapipe (Holistic) or mediapipe_pose (body only)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint directory (default: shipped)")
    parser.add_argument("--preset", choices=("realtime", "paper"), default=None)
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per model node")
    parser.add_argument("--bf16", action="store_true", default=None, help="bf16 autocast in the model nodes")
    parser.add_argument("--params-file", default=None, help="parameters YAML (default config/mirror.yaml)")
    parser.add_argument("--source-image", default=None,
                        help="image file of the source human (instead of the bag's /tryon/source_image)")
    parser.add_argument("--garment-image", default=None,
                        help="image file of the garment (instead of the bag's /tryon/garment_image)")
    parser.add_argument("--no-graph", action="store_true",
                        help="do not start the graph: use one already running on this ROS domain")
    parser.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT_S)
    parser.add_argument("--drain-timeout", type=float, default=DEFAULT_DRAIN_TIMEOUT_S)
    parser.add_argument("--lpips-weights", nargs="+", default=None, help="local LPIPS weight file(s)")
    parser.add_argument("--vfid-weights", default=None, help="local R3D-18 weight file for VFID")
    parser.add_argument("--no-video", action="store_true", help="skip output.mp4 and side_by_side.mp4")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _error(message: str) -> None:
    print(f"fashionmirror replay: error: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.rate is not None and not args.rate > 0:
        _error("--rate must be positive")
        return 2
    if args.fps is not None and not args.fps > 0:
        _error("--fps must be positive")
        return 2
    for weights in (args.lpips_weights or []) + ([args.vfid_weights] if args.vfid_weights else []):
        if not Path(weights).is_file():
            _error(f"weight file '{weights}' does not exist")
            return 2
    for option in ("source_image", "garment_image"):
        path = getattr(args, option, None)
        if path:
            try:
                read_rgb(path)
            except ReplayError as error:
                _error(str(error))
                return 2
    try:
        result = replay(args)
    except BagError as error:
        _error(str(error))
        return 2
    except ReplayError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    output = Path(args.output)
    print(f"fashionmirror replay: report {output / 'summary.md'}, {output / 'report.json'}")
    if "output_video" in result["files"]:
        print(f"fashionmirror replay: video {output / 'output.mp4'}, {output / 'side_by_side.mp4'}")
    return 0


def replay(args: argparse.Namespace) -> dict:
    """Run a replay as `args` say; returns the report (also written to args.output)."""
    from tqdm import tqdm

    bag_path = Path(args.bag)
    quiet = getattr(args, "quiet", False)
    bag = read_clip_bag(bag_path)
    estimator = args.estimator or ("recorded" if bag.keypoints else "mediapipe")
    if estimator == "recorded" and not bag.keypoints:
        raise BagError(bag_path, "has no /camera/keypoints; use --estimator mediapipe")
    for attribute, option in (("source_image", "source_image"), ("garment_image", "garment_image")):
        path = getattr(args, option, None)
        if path:
            setattr(bag, attribute, read_rgb(path))
            if attribute == "source_image":  # the bag's source pose belongs to the bag's source
                bag.source_keypoints = None
    if getattr(args, "source_image", None) or getattr(args, "garment_image", None):
        # the bag's ground truth shows its own source and garment, not these files
        bag.gt_images.clear()
        bag.gt_cloth_masks.clear()
    if bag.source_image is None or bag.garment_image is None:
        raise BagError(bag_path, "has no /tryon/source_image or /tryon/garment_image to start the "
                                 "try-on; give --source-image and --garment-image files")
    if estimator == "recorded" and bag.source_keypoints is None:
        raise BagError(bag_path, "has no /tryon/source_keypoints for this source (needed with the "
                                 "recorded estimator); use --estimator mediapipe")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    log_dir = output / "logs"
    offsets = schedule(bag, args.rate, args.fps)
    prepared = prepare_frames(bag, with_keypoints=estimator == "recorded")
    playback = (f"fixed {args.fps:g} fps" if args.fps else f"original timing x{args.rate or 1.0:g}")
    parameters = model_parameters(args.checkpoint, args.device, getattr(args, "preset", None),
                                  getattr(args, "threads", None), getattr(args, "bf16", None))
    run_info = {"estimator": estimator, "playback": playback,
                "graph": "external (--no-graph)" if args.no_graph else "3 processes (GraphSupervisor)",
                "checkpoint": args.checkpoint, "device": args.device or "auto",
                "model_parameters": parameters, "ros_domain_id": os.environ.get("ROS_DOMAIN_ID", "0"),
                "rmw": os.environ.get("RMW_IMPLEMENTATION"), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")}

    supervisor = None
    capture = Capture(keep_images=True)
    try:
        if not args.no_graph:
            supervisor = start_graph(estimator, parameters, log_dir, args.params_file)
            run_info["node_pids"] = supervisor.pids()
        check = death_check(supervisor, log_dir)
        with Harness(capture, estimator) as harness:
            if not quiet:
                print(f"fashionmirror replay: waiting for the node graph (logs in {log_dir})", flush=True)
            run_info["startup_s"] = round(harness.wait_for_graph(args.startup_timeout, check), 2)
            inputs_ns = harness.publish_inputs(bag.source_image, bag.garment_image, bag.source_keypoints,
                                               bag.source_keypoints_size)
            harness.wait_for_masks(inputs_ns, args.startup_timeout, check)
            if estimator != "recorded":
                _wait_source_pose(harness, inputs_ns, check)
            capture.clear_streams(keep_masks_after_ns=inputs_ns)
            bar = tqdm(total=len(prepared), desc="replay", unit="frame", disable=quiet, leave=False)

            def progress(count: int) -> None:
                bar.n = count
                bar.set_postfix(received=len(capture.tryon), refresh=False)
                bar.refresh()

            sent = play(harness, prepared, offsets, progress, check)
            drain(harness, sent[-1].stamp_ns, args.drain_timeout)
            bar.close()
            check()
    finally:
        if supervisor is not None:
            run_info["exit_codes"] = supervisor.stop()
    if not capture.tryon:
        raise ReplayError(f"no /tryon/image received for {len(sent)} frames sent; see the node logs "
                          f"in {log_dir}")
    run_info["duration_s"] = round((sent[-1].stamp_ns - sent[0].stamp_ns) / 1e9, 3)
    report = analyse(bag, capture, sent, run_info, args.lpips_weights, args.vfid_weights)
    write_outputs(output, bag, capture, sent, report, video=not getattr(args, "no_video", False))
    return report


def read_rgb(path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ReplayError(f"cannot read image file '{path}'")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _wait_source_pose(harness: Harness, after_ns: int, check, timeout_s: float = 20.0) -> None:
    """With MediaPipe pose_node estimates the source pose: give hsg_node time to get it."""
    def have() -> bool:
        with harness.capture.lock:
            return any(stamp >= after_ns for stamp, _ in harness.capture.source_keypoints)
    try:
        harness.wait_until(have, timeout_s, "the source pose from pose_node", check)
    except ReplayError:
        pass  # hsg_node then takes the first camera pose as p^0
