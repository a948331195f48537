"""Garment photos are cut out, cropped and put on white; photos without a garment are refused;
`fashionmirror garment` publishes them latched and steps through a catalogue.

Generated photos always; real product photos (the saleor 1024x1024 RGBA shirts of the project's
real media, `fashionmirror media fetch`; the test skips and says so without them).
"""
from __future__ import annotations

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from conftest import requires_ros
from fashionmirror_ros.data.real_media import GARMENT_PHOTOS, media_available, verified_path
from fashionmirror_ros.pipeline.garments import (MIN_COVERAGE, GarmentRejected, cut_out_garment,
                                                 load_garment)

SIZE = 128
RED = (200, 30, 40)


def shirt_photo(width=400, height=300, background=(255, 255, 255), alpha=False) -> np.ndarray:
    """A T-shirt silhouette (torso + sleeves) in red, a white print in its middle, on a background."""
    image = np.zeros((height, width, 4 if alpha else 3), np.uint8)
    image[..., :3] = background
    if alpha:
        image[..., 3] = 0
    shape = np.array([[160, 60], [240, 60], [300, 110], [270, 140], [250, 125], [250, 260],
                      [150, 260], [150, 125], [130, 140], [100, 110]], np.int32)
    colour = RED + ((255,) if alpha else ())
    cv2.fillPoly(image, [shape], colour)
    image[150:180, 185:215, :3] = 255  # a white print: must stay part of the garment
    return image


def test_white_background_is_cut_away_and_a_white_print_is_kept():
    cutout = cut_out_garment(shirt_photo(), SIZE)
    assert cutout.method == "uniform background"
    assert cutout.box[0] <= 100 <= cutout.box[0] + 20 and cutout.box[2] >= 300
    assert cutout.rgb.shape == (SIZE, SIZE, 3)
    assert (cutout.rgb[0, 0] == 255).all() and (cutout.rgb[SIZE // 2, 2] == 255).all(), "white margins"
    centre = cutout.rgb[SIZE // 2 - 8:SIZE // 2 + 8, SIZE // 2 - 20:SIZE // 2 + 20].reshape(-1, 3)
    assert (np.abs(centre.astype(int) - RED).max(axis=1) < 30).mean() > 0.5, "garment at the centre"
    assert 0.2 < cutout.coverage < 0.4


def test_transparent_background_uses_the_alpha_channel():
    photo = shirt_photo(alpha=True)
    photo[..., :3][photo[..., 3] == 0] = (0, 0, 0)  # what lies under alpha 0 must not matter
    cutout = cut_out_garment(photo, SIZE)
    assert cutout.method == "alpha"
    assert (cutout.rgb[1, 1] == 255).all(), "transparent pixels become white, not black"


def test_other_uniform_background_and_a_full_bleed_photo():
    grey = cut_out_garment(shirt_photo(background=(128, 128, 128)), SIZE)
    assert grey.method == "uniform background" and (grey.rgb[0, 0] == 255).all()
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    assert cut_out_garment(noise, SIZE).method == "whole image"


@pytest.mark.parametrize("kind, photo, words", [
    ("blank white", np.full((300, 400, 3), 255, np.uint8), "blank"),
    ("blank grey", np.full((300, 400, 3), 90, np.uint8), "blank"),
    ("transparent", np.zeros((300, 400, 4), np.uint8), "all background"),
    ("speck", None, "covers"),
], ids=["blank-white", "blank-grey", "transparent", "speck"])
def test_an_image_without_a_garment_is_refused_with_the_reason(kind, photo, words):
    if photo is None:  # a garment-coloured blob on 1 % of the image
        photo = np.full((300, 400, 3), 255, np.uint8)
        photo[100:135, 100:134] = RED
        assert 34 * 35 / (300 * 400) < MIN_COVERAGE
    with pytest.raises(GarmentRejected) as refused:
        cut_out_garment(photo, SIZE)
    assert words in str(refused.value), str(refused.value)


MEDIA_PRESENT, MEDIA_REASON = media_available()


@pytest.mark.skipif(not MEDIA_PRESENT, reason=MEDIA_REASON)
def test_real_product_photos_are_cut_out():
    photos = [verified_path(photo.file) for photo in GARMENT_PHOTOS]
    rgba = [path for path in photos if cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[2] == 4]
    assert len(rgba) == len(photos), "the saleor product photos are RGBA"
    for path in rgba:
        cutout = load_garment(path, SIZE)
        assert cutout.method == "alpha" and 0.2 < cutout.coverage < 0.8, (path.name, cutout.coverage)
        assert (cutout.rgb[0, 0] >= 250).all() and (cutout.rgb[-1, -1] >= 250).all(), path.name
        # The same shirt flattened onto white (a white-background shop photo) is found as well.
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
        alpha = image[..., 3:4] / 255.0
        on_white = (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        white = cut_out_garment(on_white, SIZE)
        # A white shirt on white loses its edge pixels to the background: a lower bound only.
        assert white.method == "uniform background" and white.coverage > 0.5 * cutout.coverage, path.name


# ---- fashionmirror garment ------------------------------------------------------------------
def garment_command(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fashionmirror_ros.cli", "garment", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_garment_command_refuses_a_blank_image_with_exit_2(tmp_path):
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((100, 100, 3), 255, np.uint8))
    done = garment_command(str(path), "--once")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 2, out + err
    assert "fashionmirror garment: error:" in err and "blank" in err and "Traceback" not in err, err


@requires_ros
def test_garment_command_publishes_latched_and_steps_through_the_catalogue(tmp_path):
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from fashionmirror_ros import topics
    from fashionmirror_ros.pipeline.images import RawImage, decode_color

    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for index, colour in enumerate([(200, 30, 40), (30, 160, 60), (40, 60, 200)]):
        photo = shirt_photo()
        photo[np.all(photo == RED, axis=2)] = colour
        cv2.imwrite(str(catalog / f"{index}_shirt.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    expected = [load_garment(path).rgb for path in sorted(catalog.iterdir())]

    rclpy.init()
    node = rclpy.create_node("garment_listener", namespace="shop")
    received = []
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    holder = garment_command(str(catalog), "--index", "0", "--namespace", "shop")
    try:
        # A late joiner: subscribes after the command published, gets the held garment.
        time.sleep(3.0)
        node.create_subscription(Image, topics.GARMENT_IMAGE, received.append, latched)

        def wait_for(count):
            deadline = time.monotonic() + 30
            while len(received) < count and time.monotonic() < deadline:
                rclpy.spin_once(node, timeout_sec=0.1)
            return len(received) >= count

        assert wait_for(1), "no latched garment for a late joiner"
        assert np.array_equal(decode_color(RawImage.from_msg(received[0])), expected[0])
        step = garment_command(str(catalog), "--next", "--once", "--namespace", "shop")
        out, err = step.communicate(timeout=60)
        assert step.returncode == 0, out + err
        assert "published 1 of 3" in out, out
        assert wait_for(2), "the next garment did not arrive"
        assert np.array_equal(decode_color(RawImage.from_msg(received[1])), expected[1])
        holder_out, holder_err = holder.communicate(timeout=15)
        assert holder.returncode == 0 and "newer garment" in holder_out, holder_out + holder_err
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        node.destroy_node()
        rclpy.try_shutdown()
