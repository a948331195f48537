"""pose_node as a ROS 2 user meets it: a quiet start, the source pose from a file, the skeleton
drawn only for a viewer, and a clean exit on Ctrl-C delivered twice (terminal + ros2 launch).

Each test starts real node processes (python -m fashionmirror_ros.nodes NODE --ros-args ...).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import requires_ros
from fashionmirror_ros import messages
from fashionmirror_ros.evaluation.graph.recorder import status_values
from graph_harness import GraphHarness, untrained_checkpoint
from node_process import NodeProcess

pytestmark = requires_ros

STARTUP_TIMEOUT_S = 90
EXIT_TIMEOUT_S = 20
# What a node may print on stderr: rcutils log lines ("[INFO] [1796398160.98] [pose_node]: ...").
ROS_LOG_LINE = re.compile(r"^\[(DEBUG|INFO|WARN|ERROR|FATAL)\] \[\d+\.\d+\] \[[\w./]+\]: ")
CHATTER = ("WARNING: All log messages before absl", "INFO: Created TensorFlow Lite",
           "inference_feedback_manager", "landmark_projection_calculator")


@pytest.fixture(scope="module")
def ros():
    import rclpy

    rclpy.init()
    driver = GraphHarness("pose_user_path_driver")
    yield driver
    driver.close()
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def person_photo(tmp_path_factory) -> Path:
    import cv2
    import skimage.data

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def test_start_up_prints_only_our_lines_and_the_source_pose_comes_from_the_file(
        ros, person_photo, tmp_path):
    """MediaPipe's ~20 lines of TFLite/absl chatter are gone, at start-up and at the first
    frames; with source_image_path, p^0 is computed from the file and latched, stamped with the
    file's modification time (hsg_node stamps the same file's image so, and pairs the two)."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from fashionmirror_ros import topics
    from fashionmirror_ros.msg import PoseKeypoints

    node = NodeProcess("pose_node", tmp_path, {"source_image_path": str(person_photo)})
    try:
        assert node.wait_for_text("pose_node ready", STARTUP_TIMEOUT_S), node.output
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        received = []
        subscription = ros.node.create_subscription(PoseKeypoints, topics.SOURCE_KEYPOINTS,
                                                    received.append, latched)
        assert ros.wait_for(lambda: received, 20), "no source pose latched"
        pose = received[0]
        assert pose.person_found and pose.image_width == 512 and pose.image_height == 512
        stamp_ns = messages.stamp_ns(pose.header.stamp)
        assert stamp_ns == person_photo.stat().st_mtime_ns
        ros.node.destroy_subscription(subscription)

        # First camera frames: MediaPipe's per-model warnings come at the first inferences.
        import skimage.data

        for _ in range(5):
            ros.publish_frame(skimage.data.astronaut(), None, ros.now_stamp())
            time.sleep(0.2)
        assert ros.wait_for(lambda: any(int(status_values(s).get("frames_processed", 0)) > 0
                                        for s in ros.status_history("pose_node")), 20)
    finally:
        node.stop()
    stderr = node.stderr
    for noise in CHATTER:
        assert noise not in stderr, stderr
    strangers = [line for line in stderr.splitlines() if line.strip() and not ROS_LOG_LINE.match(line)]
    assert not strangers, "lines on stderr that are not the node's own log lines:\n" + "\n".join(strangers)


def test_skeleton_is_rendered_only_while_someone_subscribes(ros, tmp_path):
    from sensor_msgs.msg import Image

    from fashionmirror_ros import topics
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.nodes.common import OUTPUT_QOS

    clip = generate_clip(split_seed("test", 1), num_frames=4)
    node = NodeProcess("pose_node", tmp_path, {"estimator": "recorded"})

    def counters() -> dict:
        history = ros.status_history("pose_node")
        return {v.key: int(v.value) for v in history[-1].values
                if v.key in ("frames_processed", "skeletons_rendered")} if history else {}

    def send(count: int) -> None:
        for index in range(count):
            ros.publish_frame(clip.frames[1 + index % 3], clip.keypoints[1 + index % 3], ros.now_stamp())
            time.sleep(0.1)

    try:
        assert node.wait_for_text("pose_node ready", STARTUP_TIMEOUT_S), node.output
        assert ros.wait_for(lambda: ros.player.keypoints.get_subscription_count() > 0, 20)
        time.sleep(0.5)
        send(10)
        assert ros.wait_for(lambda: counters().get("frames_processed", 0) >= 8, 10), counters()
        assert counters()["skeletons_rendered"] == 0, "skeleton drawn with nobody subscribed"

        skeletons = []
        ros.node.create_subscription(Image, topics.POSE_SKELETON, skeletons.append, OUTPUT_QOS)
        time.sleep(1.0)  # the match reaches pose_node's publisher
        send(10)
        assert ros.wait_for(lambda: len(skeletons) >= 8, 10), f"{len(skeletons)} skeletons received"
        # the counter arrives with the next diagnostics, up to a period after the skeletons
        assert ros.wait_for(lambda: counters().get("skeletons_rendered", 0) >= 8, 5), counters()
        assert (skeletons[0].encoding, skeletons[0].width) == ("rgb8", 256)
    finally:
        node.stop()


@pytest.mark.parametrize("node_name", ["pose_node", "cmn_node"])
def test_sigint_twice_exits_zero_without_a_traceback(node_name, tmp_path):
    """Ctrl-C under ros2 launch: SIGINT from the terminal, then launch's own, 20 ms apart, while
    the node spins (pose_node closes MediaPipe Holistic, cmn_node holds torch)."""
    parameters = {"checkpoint": str(untrained_checkpoint(tmp_path / "checkpoint"))} if node_name == "cmn_node" else {}
    node = NodeProcess(node_name, tmp_path, parameters)
    ready = "pose_node ready" if node_name == "pose_node" else "networks warmed up"
    try:
        assert node.wait_for_text(ready, STARTUP_TIMEOUT_S), node.output
        time.sleep(0.5)
        node.interrupt(times=2)
        code = node.wait(EXIT_TIMEOUT_S)
    finally:
        node.stop()
    assert code == 0, f"exit code {code}\n{node.output}"
    assert "Traceback" not in node.output and "KeyboardInterrupt" not in node.output, node.output


def test_sigint_during_start_up_exits_zero_without_a_traceback(tmp_path):
    """Ctrl-C while the node is still importing torch and loading its model."""
    node = NodeProcess("hsg_node", tmp_path)
    time.sleep(1.0)
    node.interrupt(times=2)
    code = node.wait(EXIT_TIMEOUT_S)
    node.stop()
    assert code == 0, f"exit code {code}\n{node.output}"
    assert "Traceback" not in node.output, node.output


def test_ctrl_c_to_the_process_group_of_fashionmirror_run_is_clean(tmp_path):
    """`fashionmirror run` in a terminal: Ctrl-C reaches the supervisor and every node at once,
    then the supervisor sends the nodes its own SIGINT. Everyone exits 0, nothing is printed
    but log lines."""
    checkpoint = untrained_checkpoint(tmp_path / "checkpoint")
    log_dir = tmp_path / "logs"
    run = subprocess.Popen([sys.executable, "-m", "fashionmirror_ros.cli", "run", "--estimator", "recorded",
                            "--checkpoint", str(checkpoint), "--log-dir", str(log_dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)  # its own process group, as a terminal job
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        ready = {"pose_node.log": "pose_node ready", "cmn_node.log": "warmed up", "hsg_node.log": "warmed up"}
        while time.monotonic() < deadline and not all(
                (log_dir / name).exists() and text in (log_dir / name).read_text() for name, text in ready.items()):
            time.sleep(0.2)
        os.killpg(run.pid, signal.SIGINT)
        output, _ = run.communicate(timeout=EXIT_TIMEOUT_S + 15)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    logs = {name: (log_dir / name).read_text() for name in ready}
    assert run.returncode == 0, output
    assert "exit codes {'pose_node': 0, 'cmn_node': 0, 'hsg_node': 0}" in output, output
    assert "Traceback" not in output, output
    for name, text in logs.items():
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, f"{name}:\n{text}"


def test_pose_estimates_are_paced_to_the_generator_and_run_free_when_it_is_silent(ros, tmp_path):
    """A stand-in generator answers each keypoints message 0.25 s late (as a slow hsg_node
    would, with a NodeLatency of the frame's stamp): pose_node then estimates only while fewer
    than max_frames_in_flight (2) frames are unanswered. Once it stops answering, every frame
    is estimated again (after generator_patience_s)."""
    import threading

    from fashionmirror_ros import topics
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.msg import NodeLatency, PoseKeypoints
    from fashionmirror_ros.nodes.common import OUTPUT_QOS

    clip = generate_clip(split_seed("test", 1), num_frames=4)
    node = NodeProcess("pose_node", tmp_path, {"estimator": "recorded", "generator_patience_s": 0.5})
    answering = threading.Event()
    answering.set()
    received: list[int] = []
    answer_pub = ros.node.create_publisher(NodeLatency, topics.LATENCY, OUTPUT_QOS)

    def answer(header) -> None:
        if answering.is_set():
            answer_pub.publish(NodeLatency(header=header, node_name="hsg_node"))

    def on_keypoints(msg: PoseKeypoints) -> None:
        received.append(messages.stamp_ns(msg.header.stamp))
        threading.Timer(0.25, answer, args=(msg.header,)).start()

    def send(count: int) -> int:
        before = len(received)
        for index in range(count):
            ros.publish_frame(clip.frames[1 + index % 3], clip.keypoints[1 + index % 3], ros.now_stamp())
            time.sleep(1 / 30)
        time.sleep(0.6)
        return len(received) - before

    def values() -> dict:
        history = ros.status_history("pose_node")
        return status_values(history[-1]) if history else {}

    ros.node.create_subscription(PoseKeypoints, topics.POSE_KEYPOINTS, on_keypoints, OUTPUT_QOS)
    try:
        assert node.wait_for_text("pose_node ready", STARTUP_TIMEOUT_S), node.output
        assert ros.wait_for(lambda: ros.player.keypoints.get_subscription_count() > 0, 20)
        assert ros.wait_for(lambda: answer_pub.get_subscription_count() > 0, 20)
        time.sleep(0.5)
        mark = ros.count("diagnostics")
        paced = send(60)  # 2 s at 30 fps; about two frames per 0.25 s answer once pacing is on
        assert 4 <= paced <= 36, f"{paced} of 60 frames estimated while the generator answered late"
        assert ros.wait_for(lambda: int(values().get("frames_held_for_generator", 0)) > 0, 3), values()
        assert any(status_values(status).get("pacing") == "on"
                   for status in ros.status_history("pose_node", mark))
        answering.clear()  # after generator_patience_s of silence pose_node stops pacing
        assert ros.wait_for(lambda: values().get("pacing") == "off", 3), values()
        free = send(30)
        assert free >= 27, f"{free} of 30 frames estimated with no generator answering"
    finally:
        node.stop()


def test_mediapipe_runs_on_every_second_frame_and_the_keypoints_between_are_tracked(ros, tmp_path):
    """pose_node with estimate_every 2: of a stream of consecutive frames of a person, about half
    are estimated by MediaPipe and half tracked, and every frame gets its keypoints; the
    diagnostics say how many of each."""
    from fashionmirror_ros import topics
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.msg import PoseKeypoints
    from fashionmirror_ros.nodes.common import OUTPUT_QOS

    clip = generate_clip(split_seed("test", 1), num_frames=13, fps=10.0)
    node = NodeProcess("pose_node", tmp_path, {"estimator": "mediapipe_pose", "max_frames_in_flight": 0,
                                               "estimate_every": 2})
    received: list[PoseKeypoints] = []
    ros.node.create_subscription(PoseKeypoints, topics.POSE_KEYPOINTS, received.append, OUTPUT_QOS)

    def values() -> dict:
        history = ros.status_history("pose_node")
        return status_values(history[-1]) if history else {}

    try:
        assert node.wait_for_text("pose_node ready", STARTUP_TIMEOUT_S), node.output
        assert ros.wait_for(lambda: ros.player.camera.get_subscription_count() > 0, 20)
        time.sleep(0.5)
        for index in range(1, 13):
            ros.publish_frame(clip.frames[index], clip.keypoints[index], ros.now_stamp())
            time.sleep(0.1)
        assert ros.wait_for(lambda: len(received) >= 12, 10), f"{len(received)} of 12 keypoints messages"
        assert ros.wait_for(lambda: int(values().get("frames_tracked", 0))
                            + int(values().get("frames_estimated", 0)) >= 12, 5), values()
        counts = values()
        assert 5 <= int(counts["frames_tracked"]) <= 6 and int(counts["tracking_lost"]) == 0, counts
        assert all(msg.person_found for msg in received[:12])
    finally:
        node.stop()
