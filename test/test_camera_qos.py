"""Real camera frames reach pose_node out of the box; an incompatible camera QoS is reported.

pose_node runs with the shipped params file and its default estimator (MediaPipe), in its own
process; the camera is test/big_frame_publisher.py in another process, with the default
(reliable, keep-last 10) QoS of a camera driver. Delivery is read from pose_node's own count of
frames its camera subscription received (frames_received on /diagnostics), not from what it
managed to process (it processes the newest frame and drops the rest by design).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import requires_ros
from graph_harness import GraphHarness
from node_process import NodeProcess

from fashionmirror_ros.evaluation.graph.recorder import status_values

pytestmark = requires_ros

FRAMES = 90  # 3 s at 30 fps
FPS = 30.0
REQUIRED_DELIVERY = 0.95
STARTUP_TIMEOUT_S = 90
PUBLISHER = Path(__file__).with_name("big_frame_publisher.py")
CASES = [(640, 480, "rgb8"), (640, 480, "bgr8"), (1280, 720, "rgb8"), (1280, 720, "bgr8")]


@pytest.fixture(scope="module")
def pose_node(tmp_path_factory):
    import rclpy

    node = NodeProcess("pose_node", tmp_path_factory.mktemp("camera_qos"))
    rclpy.init()
    driver = GraphHarness("camera_qos_watcher")
    try:
        assert node.wait_for_text("pose_node ready", STARTUP_TIMEOUT_S), node.output
        assert driver.wait_for(lambda: "pose_node" in driver.statuses(), 10), node.output
        # frames_received once settled; each case starts from the previous case's settled count
        # (nothing else publishes to pose_node), which saves a settling wait per case
        driver.settled_frames = settled_count(driver)
        yield node, driver
    finally:
        driver.close()
        rclpy.try_shutdown()
        node.stop()


def frames_received(driver) -> int:
    values = status_values(driver.statuses().get("pose_node"))
    return int(values["frames_received"])


def settled_count(driver, expected: float = float("inf"), timeout: float = 10.0) -> int:
    """frames_received once it reached ``expected``, or else once it stopped growing for two
    diagnostics periods."""
    last = frames_received(driver)
    while last < expected:
        since = driver.count("diagnostics")
        if not driver.wait_for(lambda: driver.count("diagnostics") >= since + 2
                               or frames_received(driver) >= expected, timeout):
            break
        current = frames_received(driver)
        if current == last:
            break
        last = current
    return last


def publish(*options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PUBLISHER), "--no-keypoints", *options],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.quiet_machine
@pytest.mark.parametrize("width, height, encoding", CASES, ids=[f"{w}x{h}-{e}" for w, h, e in CASES])
def test_default_qos_camera_frames_reach_pose_node(pose_node, width, height, encoding):
    node, driver = pose_node
    before = driver.settled_frames
    done = publish("--count", str(FRAMES), "--fps", str(FPS), "--width", str(width),
                   "--height", str(height), "--encoding", encoding)
    assert done.returncode == 0, done.stdout + done.stderr
    driver.settled_frames = settled_count(driver, expected=before + FRAMES)
    delivered = driver.settled_frames - before
    print(f"{width}x{height} {encoding}: {delivered} of {FRAMES} frames delivered to pose_node "
          f"({done.stdout.strip()})")
    assert delivered >= REQUIRED_DELIVERY * FRAMES, f"{delivered} of {FRAMES} delivered"
    assert node.process.poll() is None, node.output


def test_best_effort_camera_is_reported_as_incompatible(pose_node):
    node, driver = pose_node
    mark = driver.count("diagnostics")
    publisher = subprocess.Popen([sys.executable, str(PUBLISHER), "--no-keypoints", "--qos", "best_effort",
                                  "--count", "1", "--width", "64", "--height", "48"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Nothing ever matches, so the publisher waits for a subscriber: the warning comes first.
        assert node.wait_for_text("incompatible QoS on /camera/image_raw", 30), node.stderr
        warning = next(line for line in node.stderr.splitlines() if "incompatible QoS" in line)
        assert "[WARN]" in warning and "RELIABILITY" in warning and "best_effort" in warning, warning
        statuses = driver.status_history("pose_node", mark)
        assert driver.wait_for(lambda: any("incompatible QoS" in status.message
                                           for status in driver.status_history("pose_node", mark)), 5), \
            [status.message for status in statuses]
    finally:
        publisher.kill()
        publisher.wait()
    assert node.process.poll() is None, node.output
