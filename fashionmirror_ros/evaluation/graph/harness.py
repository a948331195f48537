"""GraphHarness: a player and a recorder on one node, spun by an executor thread, and the waits
that tie them to the graph's progress (the graph is up, the source's masks are there, the last
frame came through). Replay, bench, soak and the tests drive the graph through it.
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

from fashionmirror_ros import topics
from fashionmirror_ros.evaluation.graph.player import Player, now_stamp, synthetic_stamp
from fashionmirror_ros.evaluation.graph.recorder import Recorder, status_values

NODE_NAMES = ("pose_node", "cmn_node", "hsg_node")
MASK_GRACE_S = 0.3  # after the first masks: hsg_node takes them in before the first frame
IDLE_AFTER_LAST_S = 3.0
SOURCE_POSE_TIMEOUT_S = 20.0


class GraphError(RuntimeError):
    """The graph could not be driven (did not start, a node died, nothing came out)."""


class GraphTimeout(GraphError):
    """What was waited for did not come in time (the nodes were alive)."""


class GraphHarness:
    """Feeds the graph (self.player) and records what it publishes (self.recorder) from one node
    in `context` (an initialised rclpy context; None = the default one). In `namespace` the
    relative topic names resolve as the graph's nodes in it resolve them."""

    now_stamp = staticmethod(now_stamp)
    stamp = staticmethod(synthetic_stamp)

    def __init__(self, name: str = "graph_harness", context=None, keep_images: bool = True,
                 namespace: str = "", estimator: str = "recorded"):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.estimator = estimator
        self.node = rclpy.create_node(name, context=context, namespace=namespace or None,
                                      start_parameter_services=False)
        self.player = Player(self.node)
        self.recorder = Recorder(self.node, keep_images)
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
                print(f"graph harness: executor stopped: {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self._spinner.join(timeout=5.0)

    # ---- the player's and the recorder's, at hand ------------------------------------------------
    def publish_inputs(self, *args, **kwargs) -> int:
        return self.player.publish_inputs(*args, **kwargs)

    def publish_frame(self, *args, **kwargs) -> None:
        self.player.publish_frame(*args, **kwargs)

    def snapshot(self, stream: str) -> list:
        return self.recorder.snapshot(stream)

    def count(self, stream: str) -> int:
        return self.recorder.count(stream)

    def clear(self, keep_masks_after_ns: int | None = None) -> None:
        self.recorder.clear(keep_masks_after_ns)

    def statuses(self, since: int = 0) -> dict:
        return self.recorder.statuses(since)

    def status_history(self, node: str, since: int = 0) -> list:
        return self.recorder.status_history(node, since)

    # ---- waits ------------------------------------------------------------------------------------
    @staticmethod
    def wait_for(predicate, timeout: float, poll: float = 0.05) -> bool:
        """Whether predicate() came true within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll)
        return bool(predicate())

    @staticmethod
    def wait_until(predicate, timeout_s: float, what: str, check=None, poll_s: float = 0.05) -> None:
        """Wait for predicate(); check() may raise (a node died); GraphTimeout on time-out."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise GraphTimeout(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(poll_s)

    def nodes_seen(self) -> set[str]:
        return set(self.statuses()) & set(NODE_NAMES)

    def _unmatched(self) -> list[str]:
        """The player's topics that the graph does not subscribe to yet, as the graph needs them:
        all three nodes take the source (pose_node segments it in every mode, and estimates its
        pose with MediaPipe), cmn_node and hsg_node the garment."""
        recorded = self.estimator == "recorded"
        needed = ((self.player.camera, topics.CAMERA_IMAGE, 1),
                  (self.player.keypoints, f"{topics.CAMERA_KEYPOINTS} (is pose_node running with "
                                          "estimator:=recorded?)", 1 if recorded else 0),
                  (self.player.source, topics.SOURCE_IMAGE, 3),
                  (self.player.garment, topics.GARMENT_IMAGE, 2))
        return [name for publisher, name, count in needed if publisher.get_subscription_count() < count]

    def wait_for_graph(self, timeout_s: float, check=None) -> float:
        """Until /diagnostics shows the three nodes and they subscribe to the player's topics;
        returns the seconds it took."""
        start = time.monotonic()

        def describe() -> str:
            missing = sorted(set(NODE_NAMES) - self.nodes_seen())
            if missing:
                return "the node graph (no /diagnostics from " + ", ".join(missing) + ")"
            return "subscribers of " + ", ".join(self._unmatched())

        deadline = time.monotonic() + timeout_s
        while not (self.nodes_seen() == set(NODE_NAMES) and not self._unmatched()):
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise GraphTimeout(f"timed out after {timeout_s:.0f} s waiting for {describe()}")
            time.sleep(0.1)
        return time.monotonic() - start

    def wait_for_masks(self, after_ns: int, timeout_s: float, check=None) -> None:
        """Until cmn_node's first masks on inputs published at after_ns arrived."""
        self.wait_until(lambda: any(mask.receive_ns >= after_ns for mask in self.snapshot("masks")),
                        timeout_s, f"the first {topics.CMN_MASKS} (is cmn_node loading its model?)", check)
        time.sleep(MASK_GRACE_S)

    def wait_for_node_ready(self, node: str, timeout_s: float, check=None) -> None:
        """Until `node`'s /diagnostics says it waits for no input (its `waiting_for` value is
        empty). The latched inputs can arrive seconds apart: a large latched image lost in
        transit is resent at the writer's next heartbeat, and frames sent before would be lost."""
        def ready() -> bool:
            return status_values(self.statuses().get(node)).get("waiting_for") == ""
        self.wait_until(ready, timeout_s, f"{node} to have all its inputs", check)

    def wait_for_source_pose(self, after_ns: int, check=None, timeout_s: float = SOURCE_POSE_TIMEOUT_S) -> bool:
        """With MediaPipe, pose_node estimates the source pose: give hsg_node time to get it.
        Returns whether it came. Not in time is no error: hsg_node then takes the first camera
        pose as p^0. A dead node still raises (check)."""
        try:
            self.wait_until(lambda: any(pose.stamp_ns >= after_ns for pose in self.snapshot("source_pose")),
                            timeout_s, "the source pose from pose_node", check)
        except GraphTimeout:
            return False
        return True

    def drain(self, last_stamp_ns: int, timeout_s: float, idle_s: float = IDLE_AFTER_LAST_S) -> None:
        """Until the frame stamped last_stamp_ns came out, nothing came for idle_s, or timeout_s."""
        deadline = time.monotonic() + timeout_s
        last_count, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            arrivals = self.snapshot("arrivals")
            if any(arrival.stamp_ns == last_stamp_ns for arrival in arrivals[-5:]):
                time.sleep(0.2)  # the last NodeLatency messages
                return
            if len(arrivals) != last_count:
                last_count, last_change = len(arrivals), time.monotonic()
            elif time.monotonic() - last_change > idle_s:
                return
            time.sleep(0.05)


@contextmanager
def own_context_harness(name: str, keep_images: bool = True, estimator: str = "recorded"):
    """A GraphHarness in an rclpy context of its own (a CLI that owns its signals: rclpy's
    handlers are not installed), shut down on leaving."""
    import rclpy
    from rclpy.context import Context
    from rclpy.signals import SignalHandlerOptions

    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    harness = None
    try:
        harness = GraphHarness(name, context=context, keep_images=keep_images, estimator=estimator)
        yield harness
    finally:
        if harness is not None:
            harness.close()
        rclpy.try_shutdown(context=context)
