"""What every fashionmirror node shares: QoS, parameters, latency, diagnostics, the frame worker.

QoS: the camera input is reliable and shallow (CAMERA_QOS, below: REP-2003's best-effort
sensor-data profile loses nearly every frame over 500 kB that a default, reliable camera driver
publishes through Fast DDS); outputs are reliable so any subscriber can connect; source, garment,
source pose and masks are "latched" (transient local, depth 1) so late joiners get the last one.
The camera subscription and /tryon/image take the standard qos_overrides parameters.
"""
from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.time import Time
from std_msgs.msg import Header

from fashionmirror_ros import topics
from fashionmirror_ros.messages import duration_msg
from fashionmirror_ros.msg import NodeLatency
from fashionmirror_ros.pipeline.images import ImageRejected, RawImage, decode_color
from fashionmirror_ros.pipeline.latest import LatestSlot
from fashionmirror_ros.pipeline.stats import RollingStats, suffixed

SENSOR_QOS = qos_profile_sensor_data
# Camera frames: reliable, so a camera driver with the default QoS (reliable) matches and its large
# frames arrive (measured here over Fast DDS: a best-effort reader got 1 of 150 frames at 640x480
# and at 1280x720, a reliable one 150 of 150); keep-last 20: the worker takes the newest frame
# anyway, and a deeper reader queue rides out CPU starvation (1280x720 bgr8 at 30 fps while a
# training run filled both cores: 128 of 150 delivered with depth 5, 148 of 150 with depth 10;
# with a training run, a test run and a helper's tests at once, 136 of 150 with depth 10).
# 20 frames are 2/3 s of camera, at most 55 MB at 1280x720, held only while the executor lags.
# Override per deployment with qos_overrides./<ns>/camera/image_raw.subscription.reliability etc.
CAMERA_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=20,
                        reliability=ReliabilityPolicy.RELIABLE)
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Derived per-frame inputs (keypoints, fed-back frames): newest wins, any publisher matches.
NEWEST_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.BEST_EFFORT)

DIAGNOSTICS_PERIOD_S = 1.0
FAULT_HOLD_S = 5.0  # default of fault_hold_s: a rejected input keeps the status at WARN this long
WORKER_POLL_S = 0.1
# A try-on step takes well under a second even on a starved CPU; longer means a stuck worker,
# and shutdown goes on without it.
WORKER_JOIN_TIMEOUT_S = 10.0
INPUT_TIMEOUT_S = 3.0  # default of input_timeout_s: a silent per-frame input is reported after this
LOG_THROTTLE_S = 2.0  # the same complaint about one topic is logged at most this often

def read_rgb_file(path: str):
    """RGB array of an image file, or StartupError naming the path."""
    import cv2

    image = cv2.imread(str(Path(path).expanduser()), cv2.IMREAD_COLOR)
    if image is None:
        raise StartupError(f"cannot read image file '{path}' (missing or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def file_header(path: str) -> Header:
    """The header of an image read from a file: stamped with the file's modification time, so
    pose_node's source pose and hsg_node's source image, read by two processes from one file,
    carry the same stamp and are paired (as images that came on the topic are)."""
    modified_ns = Path(path).expanduser().stat().st_mtime_ns
    return Header(stamp=Time(nanoseconds=modified_ns).to_msg(), frame_id="")


class MirrorNode(Node):
    """A node with declared parameters, NodeLatency per frame and a /diagnostics status.

    Every subscription goes through subscribe() or subscribe_newest(), so no message, however
    malformed, and no failure while handling it can raise out of rclpy's executor: the node
    reports it (log line + diagnostics WARN/ERROR naming the topic) and goes on.
    """

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self.frame_stats = RollingStats()
        self.rejected = 0
        self.failures = 0
        self._fault: tuple[bytes, str, float] | None = None  # (level, message, monotonic time)
        self._waiting: str | None = None
        self._logged: dict[str, tuple[str, float, int]] = {}  # topic -> (message, time, suppressed)
        self._latency_pub = self.create_publisher(NodeLatency, topics.LATENCY, OUTPUT_QOS)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, OUTPUT_QOS)
        self.slots: dict[str, LatestSlot] = {}
        self._workers: list[threading.Thread] = []
        self._worker_slots: list[LatestSlot] = []  # every slot a worker takes from, closed on shutdown
        self._last_input: dict[str, float] = {}  # watched per-frame topic -> monotonic time of last message
        self._started = time.monotonic()
        self.fault_hold_s = self.param("fault_hold_s", FAULT_HOLD_S, "seconds a rejected input or a "
                                       "failure keeps /diagnostics at WARN/ERROR", float_range=(0.0, 3600.0))
        self.input_timeout_s = self.param("input_timeout_s", INPUT_TIMEOUT_S, "a per-frame input silent "
                                          "this long is reported on /diagnostics (WARN waiting)",
                                          float_range=(0.1, 3600.0))
        self.create_timer(DIAGNOSTICS_PERIOD_S, self.publish_diagnostics)

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

    # ---- subscriptions ------------------------------------------------------------------------
    def subscribe(self, msg_type, topic: str, callback: Callable, qos, **options) -> None:
        """A subscription whose callback runs in the executor and can never raise out of it.
        options go to create_subscription (qos_overriding_options, event_callbacks)."""
        self.create_subscription(msg_type, topic, self.guarded(topic, callback), qos, **options)

    def subscribe_newest(self, msg_type, topic: str, handler: Callable, qos, watched: bool = False,
                         turn: Callable[[float], bool] | None = None, **options) -> LatestSlot:
        """Per-frame input: the callback only stores (msg, receive ns) in a newest-wins slot; a
        worker thread calls handler(msg, receive_ns) for the newest one (slower input is dropped).
        watched: silence on the topic for input_timeout_s is reported (a camera that stopped, or
        frames too large for the transport, would otherwise look like an idle node).
        turn(timeout) -> bool: the worker takes the next message only once it returns True (a
        downstream stage has room: pose_node's pacing), so the message it takes is the newest."""
        slot = LatestSlot()
        self.slots[topic] = slot
        if watched:
            self._last_input[topic] = self._started
        self.start_worker(f"{self.get_name()}{topic.replace('/', '-')}", slot,
                          self.guarded(topic, handler), turn)

        def on_message(msg):
            if watched:
                self._last_input[topic] = time.monotonic()
            slot.put((msg, self.now_ns()))

        self.subscribe(msg_type, topic, on_message, qos, **options)
        return slot

    def start_worker(self, name: str, slot: LatestSlot, handler: Callable,
                     turn: Callable[[float], bool] | None = None) -> None:
        """A thread that calls handler(*item) for each item taken from `slot` (waiting for
        turn(timeout) first, when given) until the slot is closed or the node shuts down."""
        def run():
            name_native_thread(self.get_name())
            self.worker_started()
            while True:
                if turn is not None and not turn(WORKER_POLL_S):
                    if slot.closed or not self.context.ok():
                        return
                    continue
                item = slot.take(WORKER_POLL_S)
                if slot.closed or not self.context.ok():
                    return
                if item is not None:
                    handler(*item)

        worker = threading.Thread(target=run, name=name, daemon=True)
        self._worker_slots.append(slot)
        self._workers.append(worker)
        worker.start()

    def worker_started(self) -> None:
        """Called first in each per-frame worker thread (ModelNode sets its torch threads there:
        in a process that holds several nodes, each node's worker keeps its own count)."""

    def overridable_qos(self, topic: str, incompatible_warning: str | None = None) -> dict:
        """create_subscription/create_publisher options: the standard qos_overrides parameters
        (history, depth, reliability) for `topic`, and for a subscription given
        incompatible_warning, a WARN naming the publisher mismatch when one appears."""
        options = {"qos_overriding_options": QoSOverridingOptions.with_default_policies()}
        if incompatible_warning is not None:
            def on_incompatible(info) -> None:
                policy = getattr(info.last_policy_kind, "name", str(info.last_policy_kind))
                self._report(DiagnosticStatus.WARN, f"incompatible QoS on {self.topic_label(topic)}: "
                             f"a publisher's {policy} policy does not match this subscription "
                             f"({info.total_count} so far), no messages from it. {incompatible_warning}",
                             topic)
            options["event_callbacks"] = SubscriptionEventCallbacks(incompatible_qos=on_incompatible)
        return options

    def topic_label(self, topic: str) -> str:
        """The topic's fully qualified name (namespace and remapping applied), for messages: an
        operator of two kiosks must see which camera a complaint is about."""
        try:
            return self.resolve_topic_name(topic)
        except Exception:  # noqa: BLE001 - a name rclpy cannot resolve is still worth naming
            return topic

    def guarded(self, topic: str, callback: Callable) -> Callable:
        """callback, with any exception reported as an ERROR on `topic` instead of raised."""
        def call(*args):
            try:
                callback(*args)
            except Exception as error:  # noqa: BLE001 - the node must survive any message
                if not self.context.ok():
                    return  # shutting down (rclpy's signal handler ended the context): not a fault
                self.fail(f"handling {self.topic_label(topic)} failed: {type(error).__name__}: {error}",
                          topic)
                self.get_logger().debug(traceback.format_exc())
        return call

    # ---- input handling -----------------------------------------------------------------------
    def decode_color(self, msg, topic: str):
        """RGB array of a colour image message, or None after reporting why it was rejected."""
        try:
            return decode_color(RawImage.from_msg(msg))
        except ImageRejected as error:
            self.reject(topic, str(error))
            return None

    def reject(self, topic: str, reason: str) -> None:
        """An input that cannot be used: WARN log line and diagnostics naming topic and reason."""
        self.rejected += 1
        self._report(DiagnosticStatus.WARN, f"rejected input on {self.topic_label(topic)}: {reason}", topic)

    def fail(self, message: str, topic: str = "") -> None:
        """Processing failed (e.g. a network produced NaN): ERROR, nothing published for it."""
        self.failures += 1
        self._report(DiagnosticStatus.ERROR, message, topic)

    def _report(self, level: bytes, message: str, topic: str) -> None:
        now = time.monotonic()
        self._log(level, message, topic, now)
        current = self._fault
        if (current is not None and current[0] == DiagnosticStatus.ERROR and level != DiagnosticStatus.ERROR
                and now - current[2] <= self.fault_hold_s):
            return  # a warning does not hide a recent error
        self._fault = (level, message, now)
        if current is None or current[1] != message:
            self.publish_diagnostics()  # a new complaint is visible at once; repeats wait for the timer

    def _log(self, level: bytes, message: str, topic: str, now: float) -> None:
        """Log a complaint unless the same one about this topic was logged < LOG_THROTTLE_S ago
        (a flood of bad frames is one line per period; a different reason is logged at once)."""
        last_message, last_time, suppressed = self._logged.get(topic, ("", -LOG_THROTTLE_S, 0))
        if message == last_message and now - last_time < LOG_THROTTLE_S:
            self._logged[topic] = (last_message, last_time, suppressed + 1)
            return
        self._logged[topic] = (message, now, 0)
        text = message + (f" ({suppressed} more since the last report)" if suppressed else "")
        log = self.get_logger().error if level == DiagnosticStatus.ERROR else self.get_logger().warning
        log(text)

    def waiting(self, reason: str | None) -> None:
        """Mark the node as waiting for an input (WARN) or no longer waiting (None)."""
        if reason and reason != self._waiting:
            self.get_logger().info(f"waiting: {reason}")
        self._waiting = reason

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
        fault = self._fault
        if fault and time.monotonic() - fault[2] > self.fault_hold_s:
            self._fault = fault = None
        if fault:
            return fault[0], fault[1]
        # a missing or refused input (no source, a source with nobody in it) is the cause to fix
        # first: it comes before a quiet camera topic
        if self._waiting:
            return DiagnosticStatus.WARN, f"waiting: {self._waiting}"
        now = time.monotonic()
        for topic, last in self._last_input.items():
            if now - last > self.input_timeout_s:
                return (DiagnosticStatus.WARN,
                        f"waiting: no messages on {self.topic_label(topic)} for {now - last:.0f} s")
        return DiagnosticStatus.OK, "running"

    def publish_diagnostics(self) -> None:
        level, message = self.status()
        summary = self.frame_stats.summary()
        values = {
            # before the first frame there is no latency yet: 0.00, as the status always showed
            **{f"latency_{key}": f"{value or 0.0:.2f}" for key, value in suffixed(summary).items()
               if key != "count"},
            "rate_hz": f"{summary['rate_hz']:.2f}",
            "frames_processed": str(summary["count"]),
            "frames_received": str(sum(slot.received for slot in self.slots.values())),
            "frames_dropped": str(self.dropped),
            "inputs_rejected": str(self.rejected),
            "processing_failures": str(self.failures),
            # the input the node cannot work without, "" when it has them all (the message may
            # show a fault or a quiet camera topic instead)
            "waiting_for": self._waiting or "",
            **self.status_values(),
        }
        status = DiagnosticStatus(level=level, name=f"fashionmirror{self.get_fully_qualified_name()}",
                                  message=message, hardware_id="fashionmirror")
        status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def status_values(self) -> dict[str, str]:
        """Extra key/values for /diagnostics (a node's current inputs, ...)."""
        return {}

    def close(self) -> None:
        """Stop the per-frame workers and wait for the frame in hand: a worker still inside a
        step when the node is destroyed would call into a dead rcl node (the process aborts)."""
        for slot in self._worker_slots:
            slot.close()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(WORKER_JOIN_TIMEOUT_S)


EXECUTORS = ("single", "multi")
# a node's clean-up taking longer than this prints every thread's stack (the supervisor sends
# SIGKILL at 10 s)
CLEANUP_TRACE_AFTER_S = 6.0


def spin_node(name: str, node_factory: Callable[[], MirrorNode], args=None) -> int:
    """rclpy boilerplate for one node in its process: init, build the node, spin, clean up."""
    return spin_nodes({name: node_factory}, args)


def spin_nodes(factories: dict[str, Callable[[], MirrorNode]], args=None, executor_kind: str = "single") -> int:
    """Init, build the nodes in order, spin them in one executor, clean up.

    The executor runs the nodes' subscription callbacks, which only hand messages to the nodes'
    worker threads (the per-frame work) or take the rare new source or garment. "single": a
    SingleThreadedExecutor (what rclpy.spin does); "multi": a MultiThreadedExecutor, whose
    threads cost more than they save here (`fashionmirror bench`: its threads took most of the
    process's CPU and the try-on rate fell with three nodes in it). The OS name of
    the main thread is set to each node's name while that node is built, so the threads its
    libraries start then (MediaPipe's graph) carry the node's name and a profiler can tell the
    nodes of one process apart (`fashionmirror bench` sums CPU time per thread name).

    A start-up failure (bad checkpoint, missing file, bad parameter) is one line on stderr,
    "[fatal] <node>: <problem>", and exit code 1: no traceback for a configuration mistake.
    Ctrl-C or SIGTERM is a normal shutdown, exit 0, however many times SIGINT arrives (see
    interrupts.py): the clean-up runs with SIGINT ignored.
    """
    import rclpy
    from rclpy.executors import (ExternalShutdownException, MultiThreadedExecutor,
                                 SingleThreadedExecutor)

    from fashionmirror_ros.nodes.interrupts import ignore_interrupts, install_interrupt_guard

    install_interrupt_guard()
    nodes: list[MirrorNode] = []
    executor = None
    name = next(iter(factories))
    code = 0
    try:
        rclpy.init(args=args)
        if executor_kind not in EXECUTORS:
            raise StartupError(f"executor '{executor_kind}' is not one of {list(EXECUTORS)}")
        executor = MultiThreadedExecutor() if executor_kind == "multi" else SingleThreadedExecutor()
        for name, factory in factories.items():
            name_native_thread(name)
            nodes.append(factory())
            executor.add_node(nodes[-1])
        name_native_thread("executor" if len(factories) > 1 else name)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C or SIGTERM: a normal shutdown, exit 0
    except StartupError as error:
        print(f"[fatal] {name}: {error}", file=sys.stderr, flush=True)
        code = 1
    except Exception as error:  # noqa: BLE001 - anything else: still one clear line, exit 1
        print(f"[fatal] {name}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        ignore_interrupts()
        # A shutdown has begun: a SIGTERM now (a supervisor's grace period ran out while a worker
        # finished its frame) would kill the process mid clean-up; SIGKILL stays the last resort.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # A clean-up that hangs (seen once in CI: hsg_node, idle, killed after 10 s) leaves every
        # thread's stack on stderr before the supervisor's SIGKILL, so the next one can be read
        faulthandler.dump_traceback_later(CLEANUP_TRACE_AFTER_S)
        for node in reversed(nodes):
            try:
                node.close()
                node.destroy_node()
            except Exception as error:  # noqa: BLE001 - a clean-up fault must not hide the exit code
                print(f"[{node.get_name()}] clean-up: {type(error).__name__}: {error}", file=sys.stderr,
                      flush=True)
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
        faulthandler.cancel_dump_traceback_later()
    return code


def name_native_thread(name: str) -> None:
    """Set the calling thread's OS name (Linux keeps 15 bytes), as /proc/<pid>/task/*/comm, top -H
    and py-spy show it; threads started from this thread inherit it. No-op where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_name = 15
        libc.prctl(pr_set_name, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl (not Linux): threads keep their inherited names, nothing else changes


class StartupError(RuntimeError):
    """A configuration problem found at start-up (bad checkpoint, missing file, bad parameter)."""
