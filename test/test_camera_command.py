"""`fashionmirror camera FILE` publishes a video file as the camera to a subscriber in another
process: every frame, at the file's rate, with the size and encoding asked for and increasing
stamps; a missing device, an unreadable file or a file without video: one line, exit 2."""
import os
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import requires_ros
from fashionmirror_ros.messages import stamp_ns

FRAMES, FPS, WIDTH, HEIGHT = 45, 30, 320, 240


def write_clip(path):
    """45 frames at 30 fps: frame i has grey level 4 * i on the left, pure red (RGB) on the right."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for index in range(FRAMES):
        bgr = np.full((HEIGHT, WIDTH, 3), 4 * index, np.uint8)
        bgr[:, WIDTH // 2:] = (0, 0, 255)
        writer.write(bgr)
    writer.release()
    return path


def camera(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "fashionmirror_ros.cli", "camera", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


class Receiver:
    """A subscriber to camera/image_raw in this process (the camera runs in its own)."""

    def __init__(self):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from fashionmirror_ros import topics

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("camera_test_receiver", context=self.context)
        self.frames = []  # (stamp ns, receive ns, width, height, encoding, left grey, right pixel)
        self.lock = threading.Lock()
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Image, topics.CAMERA_IMAGE, self.on_image, qos)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def on_image(self, msg):
        received = time.time_ns()
        pixels = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :msg.width * 3]
        pixels = pixels.reshape(msg.height, msg.width, 3)
        stamp = stamp_ns(msg.header.stamp)
        with self.lock:
            self.frames.append((stamp, received, msg.width, msg.height, msg.encoding, msg.header.frame_id,
                                float(pixels[:, :8].mean()), tuple(int(v) for v in pixels[0, -1])))

    def close(self):
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


@requires_ros
@pytest.mark.timeout(120)
def test_a_video_file_reaches_a_subscriber_in_another_process_at_its_rate(tmp_path, receiver):
    clip = write_clip(tmp_path / "clip.mp4")
    result = camera(clip, "--wait-for-subscriber", 20, "--quiet")
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: len(receiver.frames) >= FRAMES, 10), (len(receiver.frames), result.stdout)
    with receiver.lock:
        frames = list(receiver.frames)
    assert len(frames) == FRAMES, "every frame once, none lost or repeated"
    assert {(f[2], f[3], f[4], f[5]) for f in frames} == {(WIDTH, HEIGHT, "rgb8", "camera")}
    greys = [f[6] for f in frames]
    assert all(abs(grey - 4 * index) < 6 for index, grey in enumerate(greys)), "frames in file order"
    assert frames[0][7][0] > 200 and frames[0][7][2] < 50, f"rgb8: red first, got {frames[0][7]}"
    stamps = np.array([f[0] for f in frames], np.int64)
    assert (np.diff(stamps) > 0).all(), "stamps increase"
    rate = (FRAMES - 1) / ((stamps[-1] - stamps[0]) / 1e9)
    assert FPS * 0.8 <= rate <= FPS * 1.2, f"published at {rate:.1f} fps, the file has {FPS}"
    receive_lag_ms = [(f[1] - f[0]) / 1e6 for f in frames]
    assert 0 <= np.median(receive_lag_ms) < 200, "stamp = time of publication"
    assert f"sent {FRAMES} frames" in result.stdout


@requires_ros
@pytest.mark.timeout(120)
def test_bgr8_resize_and_a_fixed_rate(tmp_path, receiver):
    clip = write_clip(tmp_path / "clip.mp4")
    result = camera(clip, "--wait-for-subscriber", 20, "--quiet", "--encoding", "bgr8",
                    "--width", 160, "--height", 100, "--fps", 15, "--frames", 20)
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: len(receiver.frames) >= 20, 10)
    with receiver.lock:
        frames = list(receiver.frames)
    assert len(frames) == 20, "--frames stops the file early"
    assert {(f[2], f[3], f[4]) for f in frames} == {(160, 100, "bgr8")}
    assert frames[0][7][2] > 200 and frames[0][7][0] < 50, f"bgr8: red last, got {frames[0][7]}"
    stamps = np.array([f[0] for f in frames], np.int64)
    rate = 19 / ((stamps[-1] - stamps[0]) / 1e9)
    assert 15 * 0.8 <= rate <= 15 * 1.2, f"--fps 15 gave {rate:.1f} fps"


def one_clear_line(result, expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_device_exits_2_with_one_line():
    one_clear_line(camera("/dev/video97"), "no such device: /dev/video97")


def test_an_unreadable_file_exits_2_with_one_line(tmp_path):
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\0\0\0\x18ftypisom" + bytes(range(256)) * 8)  # an mp4 header, then junk
    one_clear_line(camera(damaged), "cannot read")
    one_clear_line(camera(tmp_path / "missing.mp4"), "no such file")


def test_a_file_without_a_video_stream_exits_2_with_one_line(audio_only_file):
    audio = audio_only_file
    one_clear_line(camera(audio), "has no video stream")
