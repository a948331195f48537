"""Test harness: a checkpoint for the nodes, and a driver node that feeds and watches the graph."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

REALTIME = "realtime"


def untrained_checkpoint(directory: Path) -> Path:
    """A realtime-preset checkpoint with freshly initialised weights (the nodes' plumbing only)."""
    import torch

    from fashionmirror_ros.models.checkpoint import save_checkpoint
    from fashionmirror_ros.models.config import get_preset
    from fashionmirror_ros.models.mirror import FashionMirror

    torch.manual_seed(0)
    config = get_preset(REALTIME)
    save_checkpoint(directory, FashionMirror(config), config, {"note": "untrained, for tests"})
    return directory


class GraphDriver:
    """Publishes source, garment and camera frames (+ recorded keypoints); records the outputs."""

    def __init__(self, name: str = "graph_driver"):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image

        from fashionmirror_ros.msg import NodeLatency, PoseKeypoints, TryOnMasks
        from fashionmirror_ros.nodes.common import LATCHED_QOS, OUTPUT_QOS, SENSOR_QOS

        self.node = rclpy.create_node(name)
        self.camera = self.node.create_publisher(Image, "/camera/image_raw", SENSOR_QOS)
        self.keypoints = self.node.create_publisher(PoseKeypoints, "/camera/keypoints", OUTPUT_QOS)
        self.source = self.node.create_publisher(Image, "/tryon/source_image", LATCHED_QOS)
        self.garment = self.node.create_publisher(Image, "/tryon/garment_image", LATCHED_QOS)
        self.source_pose = self.node.create_publisher(PoseKeypoints, "/tryon/source_keypoints", LATCHED_QOS)
        self.tryon: list[tuple[object, int]] = []
        self.latency: list[object] = []
        self.diagnostics: list[object] = []
        self.masks: list[object] = []
        self._lock = threading.Lock()
        record = self._recorder
        self.node.create_subscription(Image, "/tryon/image", record(self.tryon, with_time=True), OUTPUT_QOS)
        self.node.create_subscription(NodeLatency, "/fashionmirror/latency", record(self.latency), OUTPUT_QOS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", record(self.diagnostics), OUTPUT_QOS)
        self.node.create_subscription(TryOnMasks, "/cmn/masks", record(self.masks), LATCHED_QOS)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def _recorder(self, into: list, with_time: bool = False):
        def callback(msg):
            with self._lock:
                into.append((msg, time.monotonic_ns()) if with_time else msg)
        return callback

    def snapshot(self, name: str) -> list:
        with self._lock:
            return list(getattr(self, name))

    def statuses(self) -> dict[str, object]:
        """The newest diagnostic status of each node, by node name."""
        newest = {}
        for array in self.snapshot("diagnostics"):
            for status in array.status:
                newest[status.name.rsplit("/", 1)[-1]] = status
        return newest

    def wait_for(self, predicate, timeout: float, poll: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll)
        return predicate()

    def stamp(self, index: int, fps: float, base_s: int = 1000):
        from builtin_interfaces.msg import Time

        nanoseconds = int(round(index / fps * 1e9))
        return Time(sec=base_s + nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)

    def publish_inputs(self, source_rgb: np.ndarray, garment_rgb: np.ndarray,
                       source_keypoints: np.ndarray | None, stamp) -> None:
        from std_msgs.msg import Header

        from fashionmirror_ros.nodes.common import rgb_image_msg
        from fashionmirror_ros.nodes.pose_node import keypoints_msg

        header = Header(stamp=stamp, frame_id="camera")
        self.source.publish(rgb_image_msg(source_rgb, header))
        self.garment.publish(rgb_image_msg(garment_rgb, header))
        if source_keypoints is not None:
            height, width = source_rgb.shape[:2]
            self.source_pose.publish(keypoints_msg(source_keypoints, header, width, height, True, "recorded"))

    def publish_frame(self, rgb: np.ndarray, keypoints: np.ndarray | None, stamp, encoding="rgb8") -> None:
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
