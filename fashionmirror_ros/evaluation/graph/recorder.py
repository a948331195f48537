"""The recorder role: subscribes to what the graph publishes and keeps it, with arrival times.

Records are small named tuples in arrival order, appended by the harness's executor thread and
read under the recorder's lock (snapshot, count). Arrival times are the wall clock (ns), the clock
the camera stamps its frames with, so end-to-end latency = receive_ns - stamp_ns.
keep_images=False keeps stamps and times only (a soak or bench trial of thousands of frames: full
messages would be about 0.3 MB each); True keeps the /tryon/image and /cmn/masks messages too.
"""
from __future__ import annotations

import threading
import time
from typing import NamedTuple

from fashionmirror_ros import topics
from fashionmirror_ros.messages import stamp_ns

# Deep reader queues: a recorder that falls behind for a moment (a loaded machine) must not lose
# what the graph published, or the measurement would count the recorder's drops as the graph's.
RECORDER_DEPTH = 200
LATENCY_DEPTH = 1000


class Arrival(NamedTuple):
    """One /tryon/image: its camera stamp, its arrival (wall clock ns), the message if kept."""

    stamp_ns: int
    receive_ns: int
    msg: object = None

    @property
    def latency_ms(self) -> float:
        return (self.receive_ns - self.stamp_ns) / 1e6


class MaskRecord(NamedTuple):
    """One /cmn/masks: stamp, arrival, the identities of its inputs, the message if kept."""

    stamp_ns: int
    receive_ns: int
    multi_frame: bool
    source_crc: int
    garment_crc: int
    msg: object = None


class PoseRecord(NamedTuple):
    """One PoseKeypoints (pose/keypoints or tryon/source_keypoints)."""

    stamp_ns: int
    receive_ns: int
    person_found: bool


class LatencyRecord(NamedTuple):
    """One NodeLatency: which node, the frame's stamp, and the node's own times (ns)."""

    node: str
    stamp_ns: int
    receive_ns: int
    duration_ns: int
    publish_ns: int
    frames_dropped: int

    @property
    def duration_ms(self) -> float:
        return self.duration_ns / 1e6


STREAMS = ("arrivals", "masks", "pose", "source_pose", "latency", "diagnostics")


def node_key(status_name: str, namespace: str = "/") -> str | None:
    """'fashionmirror/kiosk1/hsg_node' -> 'hsg_node' for namespace '/kiosk1'; None for a node of
    another namespace (/diagnostics is one topic for every mirror on the machine)."""
    prefix = "fashionmirror" + namespace.rstrip("/") + "/"
    name = status_name[len(prefix):] if status_name.startswith(prefix) else ""
    return name if name and "/" not in name else None


def diagnostic_level(status) -> int:
    """A DiagnosticStatus level as an int (rclpy gives it as one byte)."""
    level = status.level
    return int.from_bytes(level, "little") if isinstance(level, bytes) else int(level)


def status_values(status) -> dict[str, str]:
    """A DiagnosticStatus's key/value pairs as a dict (missing status: empty)."""
    return {} if status is None else {item.key: item.value for item in status.values}


class Recorder:
    """Subscriptions on `node` to the graph's outputs; records every message as it arrives."""

    def __init__(self, node, keep_images: bool = True):
        self.keep_images = keep_images
        self.lock = threading.Lock()
        self.records: dict[str, list] = {stream: [] for stream in STREAMS}
        self.namespace = node.get_namespace()  # statuses of this mirror's nodes only
        self._subscribe(node)

    def _subscribe(self, node) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from fashionmirror_ros.msg import NodeLatency, PoseKeypoints, TryOnMasks

        def reliable(depth: int, latched: bool = False) -> QoSProfile:
            durability = DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE
            return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                              reliability=ReliabilityPolicy.RELIABLE, durability=durability)

        deep = reliable(RECORDER_DEPTH)
        node.create_subscription(Image, topics.TRYON_IMAGE, self._on_tryon, deep)
        # latched: masks published before the recorder joined (the source's) still arrive
        node.create_subscription(TryOnMasks, topics.CMN_MASKS, self._on_masks, reliable(RECORDER_DEPTH, True))
        node.create_subscription(PoseKeypoints, topics.POSE_KEYPOINTS, self._pose_into("pose"), deep)
        node.create_subscription(PoseKeypoints, topics.SOURCE_KEYPOINTS, self._pose_into("source_pose"),
                                 reliable(RECORDER_DEPTH, True))
        node.create_subscription(NodeLatency, topics.LATENCY, self._on_latency, reliable(LATENCY_DEPTH))
        node.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, deep)

    def _append(self, stream: str, record) -> None:
        with self.lock:
            self.records[stream].append(record)

    def _on_tryon(self, msg) -> None:
        self._append("arrivals", Arrival(stamp_ns(msg.header.stamp), time.time_ns(),
                                         msg if self.keep_images else None))

    def _on_masks(self, msg) -> None:
        self._append("masks", MaskRecord(stamp_ns(msg.header.stamp), time.time_ns(), bool(msg.multi_frame),
                                         int(msg.source_crc), int(msg.garment_crc),
                                         msg if self.keep_images else None))

    def _pose_into(self, stream: str):
        def on_pose(msg) -> None:
            self._append(stream, PoseRecord(stamp_ns(msg.header.stamp), time.time_ns(),
                                            bool(msg.person_found)))
        return on_pose

    def _on_latency(self, msg) -> None:
        self._append("latency", LatencyRecord(msg.node_name, stamp_ns(msg.header.stamp),
                                              stamp_ns(msg.receive_time), stamp_ns(msg.processing_duration),
                                              stamp_ns(msg.publish_time), int(msg.frames_dropped)))

    def _on_diagnostics(self, msg) -> None:
        self._append("diagnostics", msg)

    # ---- reading --------------------------------------------------------------------------------
    def snapshot(self, stream: str) -> list:
        with self.lock:
            return list(self.records[stream])

    def count(self, stream: str) -> int:
        with self.lock:
            return len(self.records[stream])

    def clear(self, keep_masks_after_ns: int | None = None) -> None:
        """Forget what came before a run; masks received after keep_masks_after_ns stay (the
        source's masks the next frames are generated with)."""
        with self.lock:
            for stream, records in self.records.items():
                if stream == "masks" and keep_masks_after_ns is not None:
                    records[:] = [mask for mask in records if mask.receive_ns >= keep_masks_after_ns]
                else:
                    records.clear()

    def statuses(self, since: int = 0) -> dict[str, object]:
        """The newest diagnostic status of each node, by node name (arrays from index `since` on)."""
        newest = {}
        for array in self.snapshot("diagnostics")[since:]:
            for status in array.status:
                node = node_key(status.name, self.namespace)
                if node is not None:
                    newest[node] = status
        return newest

    def status_history(self, node: str, since: int = 0) -> list[object]:
        """Every diagnostic status of `node` received from index `since` on, oldest first."""
        return [status for array in self.snapshot("diagnostics")[since:] for status in array.status
                if node_key(status.name, self.namespace) == node]
