"""What every fashionmirror node shares: QoS, parameters, latency, diagnostics, the frame worker.

QoS follows REP-2003: camera input with the sensor-data profile (best effort, shallow), outputs
reliable so any subscriber can connect; source, garment, source pose and masks are "latched"
(transient local, depth 1) so late joiners get the last one.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Callable

from builtin_interfaces.msg import Duration as DurationMsg
from cv_bridge import CvBridge
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)
from rclpy.time import Time

from fashionmirror_ros.msg import NodeLatency
from fashionmirror_ros.pipeline.images import ImageRejected, RawImage, decode_color
from fashionmirror_ros.pipeline.latest import LatestSlot
from fashionmirror_ros.pipeline.stats import RollingStats

SENSOR_QOS = qos_profile_sensor_data
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Derived per-frame inputs (keypoints, fed-back frames): newest wins, any publisher matches.
NEWEST_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.BEST_EFFORT)

DIAGNOSTICS_PERIOD_S = 1.0
FAULT_HOLD_S = 5.0  # a rejected input keeps the status at WARN this long
WORKER_POLL_S = 0.1
LOG_THROTTLE_S = 2.0

bridge = CvBridge()


def stamp_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def duration_msg(nanoseconds: int) -> DurationMsg:
    return DurationMsg(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def image_msg(pixels, encoding: str, header):
    """sensor_msgs/Image through cv_bridge, carrying `header` (the camera stamp) unchanged."""
    msg = bridge.cv2_to_imgmsg(pixels, encoding=encoding)
    msg.header = header
    return msg


def rgb_image_msg(rgb, header):
    return image_msg(rgb, "rgb8", header)


def mono_image_msg(mask, header):
    return image_msg(mask, "mono8", header)


class MirrorNode(Node):
    """A node with declared parameters, NodeLatency per frame and a /diagnostics status."""

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self.frame_stats = RollingStats()
        self.rejected = 0
        self._fault: tuple[str, str, float] | None = None  # (level name, message, monotonic time)
        self._waiting: str | None = None
        self._error: str | None = None
        self._latency_pub = self.create_publisher(NodeLatency, "/fashionmirror/latency", OUTPUT_QOS)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self.publish_diagnostics)
        self.slots: dict[str, LatestSlot] = {}

    # ---- parameters -------------------------------------------------------------------------
    def param(self, name: str, default, description: str, *, choices=None, int_range=None,
              float_range=None):
        descriptor = ParameterDescriptor(description=description)
        if choices:
            descriptor.additional_constraints = "one of: " + ", ".join(map(str, choices))
        if int_range:
            descriptor.integer_range = [IntegerRange(from_value=int_range[0], to_value=int_range[1], step=1)]
        if float_range:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(float_range[0]),
                                                                  to_value=float(float_range[1]))]
        value = self.declare_parameter(name, default, descriptor).value
        if choices and value not in choices:
            raise StartupError(f"parameter '{name}'={value!r} is not one of {list(choices)}")
        return value

    # ---- input handling -----------------------------------------------------------------------
    def decode_color(self, msg, topic: str):
        """RGB array of a colour image message, or None after reporting why it was rejected."""
        try:
            return decode_color(RawImage.from_msg(msg))
        except ImageRejected as error:
            self.reject(topic, str(error))
            return None

    def reject(self, topic: str, reason: str) -> None:
        self.rejected += 1
        message = f"rejected input on {topic}: {reason}"
        self.get_logger().warning(message, throttle_duration_sec=LOG_THROTTLE_S)
        self._fault = ("WARN", message, time.monotonic())
        self.publish_diagnostics()

    def fail(self, message: str) -> None:
        self.get_logger().error(message, throttle_duration_sec=LOG_THROTTLE_S)
        self._fault = ("ERROR", message, time.monotonic())
        self.publish_diagnostics()

    def waiting(self, reason: str | None) -> None:
        """Mark the node as waiting for an input (WARN) or no longer waiting (None)."""
        if reason and reason != self._waiting:
            self.get_logger().info(f"waiting: {reason}")
        self._waiting = reason

    def start_worker(self, slot_name: str, handler: Callable) -> LatestSlot:
        """A newest-wins slot for one input topic, drained by a worker thread calling handler."""
        slot = LatestSlot()
        self.slots[slot_name] = slot

        def run():
            while True:
                item = slot.take(WORKER_POLL_S)
                if slot.closed:
                    return
                if item is None:
                    continue
                try:
                    handler(*item)
                except Exception as error:  # noqa: BLE001 - the node must survive any frame
                    self.fail(f"{type(error).__name__}: {error}")
                    self.get_logger().debug(traceback.format_exc())

        threading.Thread(target=run, name=f"{self.get_name()}-{slot_name}", daemon=True).start()
        return slot

    @property
    def dropped(self) -> int:
        return sum(slot.dropped for slot in self.slots.values())

    # ---- latency and diagnostics -----------------------------------------------------------
    def record_latency(self, header, receive_ns: int, publish_ns: int) -> None:
        duration = publish_ns - receive_ns
        self.frame_stats.add(duration / 1e6, publish_ns / 1e9)
        msg = NodeLatency()
        msg.header = header
        msg.node_name = self.get_name()
        msg.receive_time = Time(nanoseconds=receive_ns).to_msg()
        msg.processing_duration = duration_msg(duration)
        msg.publish_time = Time(nanoseconds=publish_ns).to_msg()
        msg.frames_dropped = self.dropped
        self._latency_pub.publish(msg)

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def status(self) -> tuple[bytes, str]:
        if self._fault and time.monotonic() - self._fault[2] > FAULT_HOLD_S:
            self._fault = None
        if self._fault:
            level = DiagnosticStatus.ERROR if self._fault[0] == "ERROR" else DiagnosticStatus.WARN
            return level, self._fault[1]
        if self._waiting:
            return DiagnosticStatus.WARN, f"waiting: {self._waiting}"
        return DiagnosticStatus.OK, "running"

    def publish_diagnostics(self) -> None:
        level, message = self.status()
        summary = self.frame_stats.summary()
        values = {
            "latency_p50_ms": f"{summary['p50_ms']:.2f}",
            "latency_p95_ms": f"{summary['p95_ms']:.2f}",
            "latency_max_ms": f"{summary['max_ms']:.2f}",
            "rate_hz": f"{summary['rate_hz']:.2f}",
            "frames_processed": str(summary["count"]),
            "frames_dropped": str(self.dropped),
            "inputs_rejected": str(self.rejected),
        }
        status = DiagnosticStatus(level=level, name=f"fashionmirror/{self.get_name()}",
                                  message=message, hardware_id="fashionmirror")
        status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def close(self) -> None:
        for slot in self.slots.values():
            slot.close()


def spin_node(node_factory: Callable[[], MirrorNode], args=None) -> int:
    """rclpy boilerplate: init, build the node (errors at start-up exit 1 with a clear line), spin."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = None
    try:
        node = node_factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as error:  # noqa: BLE001 - any start-up failure: one clear line, exit 1
        print(f"[fatal] {node_factory_name(node_factory)}: {type(error).__name__}: {error}", flush=True)
        return 1
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def node_factory_name(factory) -> str:
    return getattr(factory, "__qualname__", "node")


class StartupError(RuntimeError):
    """A configuration problem found at start-up (bad checkpoint, missing file, bad parameter)."""
