"""The mirror display: the pure drawing function, then `fashionmirror view` in a real window under
Xvfb, fed by a publisher, checked on a screenshot (xwd) and driven with keys (xdotool)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import requires_ros
from fashionmirror_ros.nodes.mirror_view import compose_mirror_frame, fit_rect, inset_rect

WIDTH, HEIGHT = 640, 480
RED = (220, 20, 20)  # RGB of the try-on
GREEN = (20, 200, 40)  # RGB of the camera


def solid(rgb, width, height) -> np.ndarray:
    return np.full((height, width, 3), rgb, np.uint8)


def near(pixel_bgr, rgb, tolerance=30) -> bool:
    return bool(np.abs(np.asarray(pixel_bgr, int)[::-1] - np.asarray(rgb)).max() <= tolerance)


def test_tryon_fills_the_screen_and_the_camera_sits_in_the_bottom_right_inset():
    frame = compose_mirror_frame(solid(RED, 256, 256), solid(GREEN, 320, 240), WIDTH, HEIGHT,
                                 fps=14.3, latency_ms=87, label="garment 2/5: polo")
    assert frame.shape == (HEIGHT, WIDTH, 3)
    x, y, w, h = fit_rect(256, 256, WIDTH, HEIGHT)
    assert (w, h) == (480, 480) and x == 80
    assert near(frame[240, 200], RED) and near(frame[20, 500], RED)
    assert (frame[240, 40] == 0).all(), "black bars beside a square try-on on a 4:3 screen"
    ix, iy, iw, ih = inset_rect(320, 240, WIDTH, HEIGHT)
    assert (iw, ih) == (160, 120) and ix + iw < WIDTH and iy + ih < HEIGHT
    assert near(frame[iy + ih // 2, ix + iw // 2], GREEN)
    text = frame[10:100, 10:200]
    assert (text.min(axis=2) > 200).sum() > 50, "fps / latency / label text at the top left"


def test_without_a_tryon_the_screen_says_what_it_waits_for():
    frame = compose_mirror_frame(None, None, WIDTH, HEIGHT)
    assert (frame.min(axis=2) > 200).sum() > 100 and not near(frame[240, 320], RED)


# ---- the real window -------------------------------------------------------------------------
def read_xwd(data: bytes) -> np.ndarray:
    """A ZPixmap XWD screenshot (xwd -root) of a 24/32-bit TrueColor screen as BGR."""
    fields = np.frombuffer(data[:100], ">u4")
    header_size, width, height = int(fields[0]), int(fields[4]), int(fields[5])
    byte_order, bits_per_pixel, bytes_per_line, colours = int(fields[7]), int(fields[11]), int(fields[12]), int(fields[19])
    assert bits_per_pixel == 32, f"unexpected XWD format: {bits_per_pixel} bits per pixel"
    start = header_size + 12 * colours
    rows = np.frombuffer(data[start:start + bytes_per_line * height], np.uint8).reshape(height, bytes_per_line)
    pixels = rows[:, :width * 4].reshape(height, width, 4)
    return pixels[..., :3] if byte_order == 0 else pixels[..., 1:][..., ::-1]


@pytest.fixture
def xvfb():
    if shutil.which("Xvfb") is None or shutil.which("xwd") is None or shutil.which("xdotool") is None:
        pytest.skip("Xvfb, xwd and xdotool are needed (Debian: apt-get install xvfb x11-apps xdotool; "
                    ".ci/run installs them)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{WIDTH}x{HEIGHT}x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as display_number:
        display = ":" + display_number.readline().strip()
    yield display
    server.terminate()
    server.wait(10)


def screenshot(display: str) -> np.ndarray:
    done = subprocess.run(["xwd", "-root", "-silent", "-display", display], capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return read_xwd(done.stdout)


@requires_ros
def test_view_shows_tryon_and_inset_on_screen_and_keys_switch_garments_and_quit(xvfb, tmp_path):
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fashionmirror_ros import topics
    from fashionmirror_ros.messages import image_msg
    from fashionmirror_ros.nodes.common import OUTPUT_QOS
    from fashionmirror_ros.pipeline.garments import load_garment

    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for index, colour in enumerate([(200, 30, 40), (30, 60, 200)]):
        photo = np.full((200, 200, 3), 255, np.uint8)
        cv2.rectangle(photo, (50, 40), (150, 170), colour[::-1], -1)
        cv2.imwrite(str(catalog / f"{index}.png"), photo)
    second = load_garment(catalog / "1.png").rgb

    rclpy.init()
    node = rclpy.create_node("view_test_feed", namespace="viewtest")
    tryon_pub = node.create_publisher(Image, topics.TRYON_IMAGE, OUTPUT_QOS)
    camera_pub = node.create_publisher(Image, topics.CAMERA_IMAGE, OUTPUT_QOS)
    garments, sources, plates = [], [], []
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(Image, topics.GARMENT_IMAGE, garments.append, latched)
    node.create_subscription(Image, topics.SOURCE_IMAGE, sources.append, latched)
    node.create_subscription(Image, topics.BACKGROUND_IMAGE, plates.append, latched)
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            header = Header(stamp=node.get_clock().now().to_msg(), frame_id="camera")
            tryon_pub.publish(image_msg(solid(RED, 256, 256), "rgb8", header))
            camera_pub.publish(image_msg(solid(GREEN, 320, 240), "rgb8", header))
            rclpy.spin_once(node, timeout_sec=0.1)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb")
    view = subprocess.Popen([sys.executable, "-m", "fashionmirror_ros.cli", "view", "--windowed", "--size",
                             f"{WIDTH}x{HEIGHT}", "--namespace", "viewtest", "--garment-catalog", str(catalog)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        shot = screenshot(xvfb)
        while not near(shot[HEIGHT // 2, WIDTH // 2], RED) and time.monotonic() < deadline and view.poll() is None:
            time.sleep(0.3)
            shot = screenshot(xvfb)
        cv2.imwrite(str(tmp_path / "screen.png"), shot)
        # a view that ended early says why: its output goes into the failure message
        ended = "" if view.poll() is None else f"; the view exited {view.returncode}: {view.stdout.read()[-3000:]}"
        assert near(shot[HEIGHT // 2, WIDTH // 2], RED), f"no try-on on screen (see {tmp_path / 'screen.png'}){ended}"
        ix, iy, iw, ih = inset_rect(320, 240, WIDTH, HEIGHT)
        assert near(shot[iy + ih // 2, ix + iw // 2], GREEN), "no camera inset at the bottom right"
        assert (shot[10:100, 10:200].min(axis=2) > 200).sum() > 50, "no fps / latency text"

        assert garments, "the catalogue's first garment was not published at start"
        count = len(garments)
        key = ["xdotool", "search", "--sync", "--name", "fashionmirror", "windowfocus", "--sync", "key"]
        subprocess.run(key + ["n"], env=env, check=True, timeout=20)
        deadline = time.monotonic() + 20
        while len(garments) <= count and time.monotonic() < deadline:
            time.sleep(0.1)
        from fashionmirror_ros.pipeline.images import RawImage, decode_color

        assert len(garments) > count, "key n published no garment"
        assert np.array_equal(decode_color(RawImage.from_msg(garments[-1])), second)
        # s / b: the camera frame on screen becomes h^s / the clean plate (latched)
        for letter, received in (("s", sources), ("b", plates)):
            subprocess.run(key + [letter], env=env, check=True, timeout=20)
            deadline = time.monotonic() + 20
            while not received and time.monotonic() < deadline:
                time.sleep(0.1)
            assert received, f"key {letter} published nothing"
            assert np.array_equal(decode_color(RawImage.from_msg(received[-1])), solid(GREEN, 320, 240))
        subprocess.run(key + ["q"], env=env, check=True, timeout=20)
        output, _ = view.communicate(timeout=20)
        assert view.returncode == 0 and "Traceback" not in output, output
    finally:
        stop.set()
        feeder.join(5)
        if view.poll() is None:
            view.kill()
            view.wait()
        node.destroy_node()
        rclpy.try_shutdown()
