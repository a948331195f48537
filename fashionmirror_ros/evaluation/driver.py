"""Driving the node graph from outside: feed it inputs, record what it publishes, watch its memory.

Used by the robustness and graph tests (test/graph_harness.py) and the soak run
(fashionmirror_ros.evaluation.soak). The graph itself runs in its own processes (GraphSupervisor);
this is the camera, the operator and the viewer around it.

Stamps: ClipFeeder stamps each camera frame with the wall clock (ROS time) at publication, so the
end-to-end latency of a try-on frame is its receive time minus its header stamp.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def untrained_checkpoint(directory: Path, preset: str = "realtime") -> Path:
    """A checkpoint with freshly initialised weights: the nodes' plumbing and speed, not quality."""
    import torch

    from fashionmirror_ros.models.checkpoint import save_checkpoint
    from fashionmirror_ros.models.config import get_preset
    from fashionmirror_ros.models.mirror import FashionMirror

    torch.manual_seed(0)
    config = get_preset(preset)
    save_checkpoint(directory, FashionMirror(config), config, {"note": "untrained, for tests"})
    return directory


def time_ns_of(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


@dataclass(frozen=True)
class Arrival:
    """One /tryon/image frame: its camera stamp and when it arrived (wall clock, ns)."""

    stamp_ns: int
    receive_ns: int

    @property
    def latency_ms(self) -> float:
        return (self.receive_ns - self.stamp_ns) / 1e6


@dataclass(frozen=True)
class MaskRecord:
    """One /cmn/masks message without its images."""

    stamp_ns: int
    receive_ns: int
    source_crc: int
    garment_crc: int
    multi_frame: bool


class GraphDriver:
    """Publishes source, garment and camera frames (+ recorded keypoints); records the outputs.

    keep_images=False records only stamps and times of /tryon/image and /cmn/masks (arrivals,
    mask_records), which a long run needs: full messages would be about 0.3 MB per frame.
    """

    def __init__(self, name: str = "graph_driver", context=None, keep_images: bool = True,
                 namespace: str = ""):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image

        from fashionmirror_ros import topics
        from fashionmirror_ros.msg import NodeLatency, PoseKeypoints, TryOnMasks
        from fashionmirror_ros.nodes.common import LATCHED_QOS, OUTPUT_QOS

        self.keep_images = keep_images
        # In `namespace` the relative topic names resolve as the graph's nodes in it resolve them.
        self.node = rclpy.create_node(name, context=context, namespace=namespace or None)
        # The camera publishes as a camera driver does by default: reliable, keep-last 10.
        self.camera = self.node.create_publisher(Image, topics.CAMERA_IMAGE, OUTPUT_QOS)
        self.keypoints = self.node.create_publisher(PoseKeypoints, topics.CAMERA_KEYPOINTS, OUTPUT_QOS)
        self.source = self.node.create_publisher(Image, topics.SOURCE_IMAGE, LATCHED_QOS)
        self.garment = self.node.create_publisher(Image, topics.GARMENT_IMAGE, LATCHED_QOS)
        self.source_pose = self.node.create_publisher(PoseKeypoints, topics.SOURCE_KEYPOINTS, LATCHED_QOS)
        self.tryon: list[tuple[object, int]] = []  # (message, monotonic ns) when keep_images
        self.arrivals: list[Arrival] = []
        self.latency: list[object] = []
        self.diagnostics: list[object] = []
        self.masks: list[object] = []  # full messages when keep_images
        self.mask_records: list[MaskRecord] = []
        self._lock = threading.Lock()
        self.node.create_subscription(Image, topics.TRYON_IMAGE, self._on_tryon, OUTPUT_QOS)
        self.node.create_subscription(NodeLatency, topics.LATENCY,
                                      self._recorder(self.latency), OUTPUT_QOS)
        self.node.create_subscription(DiagnosticArray, topics.DIAGNOSTICS,
                                      self._recorder(self.diagnostics), OUTPUT_QOS)
        self.node.create_subscription(TryOnMasks, topics.CMN_MASKS, self._on_masks, LATCHED_QOS)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._spin, name=f"{name}-spin", daemon=True)
        self._spinner.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            return  # the context was shut down under the executor
        except Exception as error:  # noqa: BLE001 - a recorder fault must be seen, not hidden
            if self.executor.context.ok():
                print(f"graph driver: executor stopped: {type(error).__name__}: {error}", flush=True)

    def _recorder(self, into: list):
        def callback(msg):
            with self._lock:
                into.append(msg)
        return callback

    def _on_tryon(self, msg) -> None:
        arrival = Arrival(time_ns_of(msg.header.stamp), time.time_ns())
        with self._lock:
            self.arrivals.append(arrival)
            if self.keep_images:
                self.tryon.append((msg, time.monotonic_ns()))

    def _on_masks(self, msg) -> None:
        record = MaskRecord(time_ns_of(msg.header.stamp), time.time_ns(), msg.source_crc,
                            msg.garment_crc, bool(msg.multi_frame))
        with self._lock:
            self.mask_records.append(record)
            if self.keep_images:
                self.masks.append(msg)

    # ---- reading what was recorded ------------------------------------------------------------
    def snapshot(self, name: str) -> list:
        with self._lock:
            return list(getattr(self, name))

    def count(self, name: str) -> int:
        with self._lock:
            return len(getattr(self, name))

    def clear(self) -> None:
        """Forget everything recorded so far (a long test keeps memory flat)."""
        with self._lock:
            for records in (self.tryon, self.arrivals, self.latency, self.diagnostics, self.masks,
                            self.mask_records):
                records.clear()

    def statuses(self, since: int = 0) -> dict[str, object]:
        """The newest diagnostic status of each node, by node name (arrays from index `since` on)."""
        newest = {}
        for array in self.snapshot("diagnostics")[since:]:
            for status in array.status:
                newest[status.name.rsplit("/", 1)[-1]] = status
        return newest

    def status_history(self, node: str, since: int = 0) -> list[object]:
        """Every diagnostic status of `node` received from index `since` on, oldest first."""
        return [status for array in self.snapshot("diagnostics")[since:] for status in array.status
                if status.name.rsplit("/", 1)[-1] == node]

    def wait_for(self, predicate, timeout: float, poll: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll)
        return bool(predicate())

    # ---- publishing -------------------------------------------------------------------------------
    def stamp(self, index: int, fps: float, base_s: int = 1000):
        """A synthetic stamp: frame `index` of a stream at `fps` starting at base_s seconds."""
        from builtin_interfaces.msg import Time

        nanoseconds = int(round(index / fps * 1e9))
        return Time(sec=base_s + nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)

    @staticmethod
    def now_stamp():
        """The wall clock as a stamp (what a camera driver puts in its header)."""
        from builtin_interfaces.msg import Time

        now = time.time_ns()
        return Time(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000)

    def publish_inputs(self, source_rgb: np.ndarray | None, garment_rgb: np.ndarray | None,
                       source_keypoints: np.ndarray | None, stamp) -> None:
        """The operator's inputs (latched); None leaves an input unpublished."""
        from std_msgs.msg import Header

        from fashionmirror_ros.nodes.common import rgb_image_msg
        from fashionmirror_ros.nodes.pose_node import keypoints_msg

        header = Header(stamp=stamp, frame_id="camera")
        if source_rgb is not None:
            self.source.publish(rgb_image_msg(source_rgb, header))
            if source_keypoints is not None:
                height, width = source_rgb.shape[:2]
                self.source_pose.publish(keypoints_msg(source_keypoints, header, width, height, True,
                                                       "recorded"))
        if garment_rgb is not None:
            self.garment.publish(rgb_image_msg(garment_rgb, header))

    def publish_frame(self, rgb: np.ndarray, keypoints: np.ndarray | None, stamp, encoding="rgb8") -> None:
        """A camera frame and, before it, its recorded keypoints (all-zero confidence = no person)."""
        from std_msgs.msg import Header

        from fashionmirror_ros.nodes.common import image_msg
        from fashionmirror_ros.nodes.pose_node import keypoints_msg

        header = Header(stamp=stamp, frame_id="camera")
        height, width = rgb.shape[:2]
        if keypoints is not None:
            self.keypoints.publish(keypoints_msg(keypoints, header, width, height,
                                                 bool((keypoints[:, 2] > 0).any()), "recorded"))
        self.camera.publish(image_msg(rgb, encoding, header))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


class ClipFeeder:
    """A camera on a thread: a clip's frames 1..N (frame 0 is the source), looped, at `fps`,
    stamped with the wall clock; `present=False` sends the frames with nobody in view."""

    def __init__(self, driver: GraphDriver, frames, keypoints, fps: float):
        self.driver = driver
        self.frames = list(frames)
        self.keypoints = list(keypoints)
        self.fps = fps
        self.present = True
        self.published: list[int] = []  # stamps (ns) of the frames sent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ClipFeeder":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="clip-feeder", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        period = 1.0 / self.fps
        start = time.monotonic()
        index = 0
        while not self._stop.is_set():
            frame = index % len(self.frames)
            keypoints = self.keypoints[frame]
            if not self.present:
                keypoints = np.zeros_like(keypoints)
            stamp = self.driver.now_stamp()
            self.driver.publish_frame(self.frames[frame], keypoints, stamp)
            self.published.append(time_ns_of(stamp))
            index += 1
            delay = start + index * period - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -1.0:  # fell far behind (a stalled machine): keep the rate, skip the debt
                start = time.monotonic() - index * period

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> "ClipFeeder":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class MemorySampler:
    """Resident memory (RSS, MB) of the node processes, sampled on a thread; follows restarts."""

    def __init__(self, pids, period_s: float = 1.0):
        self.pids = pids  # callable -> {name: pid}
        self.period_s = period_s
        self.samples: dict[str, list[tuple[float, float]]] = {}  # name -> [(monotonic s, MB)]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        import psutil

        now = time.monotonic()
        for name, pid in self.pids().items():
            try:
                rss = psutil.Process(pid).memory_info().rss / 2**20
            except psutil.Error:  # the process is being restarted
                continue
            self.samples.setdefault(name, []).append((now, rss))

    def start(self) -> "MemorySampler":
        def run():
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(self.period_s)

        self._thread = threading.Thread(target=run, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def quarter_medians(values: list[float]) -> tuple[float, float]:
    """Median of the first and of the last quarter of a series (growth over a run)."""
    quarter = max(1, len(values) // 4)
    return float(np.median(values[:quarter])), float(np.median(values[-quarter:]))


def percentiles_ms(latencies_ms: list[float]) -> dict[str, float]:
    if not latencies_ms:
        return {"count": 0, "p50_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
    values = np.asarray(latencies_ms, dtype=np.float64)
    return {"count": int(values.size), "p50_ms": float(np.percentile(values, 50)),
            "p95_ms": float(np.percentile(values, 95)), "max_ms": float(values.max())}
