"""Validating and decoding raw image buffers as a sensor_msgs/Image carries them.

Everything a topic can carry is checked before a byte is interpreted: encoding, zero or
oversized dimensions, a row step shorter than a row, data shorter than height * step. Bad input
raises ImageRejected with a reason meant for a log line and a diagnostics status.
Decoding is a zero-copy numpy view of the message buffer where the encoding allows it.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

# encoding -> (channels, cv2 conversion to RGB or None)
COLOR_ENCODINGS = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
}
MONO_ENCODINGS = {"mono8": 1, "8UC1": 1}
DEFAULT_MAX_SIDE = 4096


class ImageRejected(ValueError):
    """An image that cannot be used; str(error) says why."""


@dataclass(frozen=True)
class RawImage:
    """The fields of a sensor_msgs/Image, without ROS."""

    encoding: str
    height: int
    width: int
    step: int
    data: object  # bytes-like (bytes, array.array, memoryview)
    is_bigendian: int = 0

    @classmethod
    def from_msg(cls, msg) -> "RawImage":
        return cls(msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian)


def _checked_rows(image: RawImage, channels: int, max_side: int) -> np.ndarray:
    if image.height <= 0 or image.width <= 0:
        raise ImageRejected(f"zero-sized image {image.width}x{image.height}")
    if image.height > max_side or image.width > max_side:
        raise ImageRejected(
            f"image {image.width}x{image.height} exceeds the {max_side}-pixel limit per side")
    row_bytes = image.width * channels
    if image.step < row_bytes:
        raise ImageRejected(
            f"step {image.step} is shorter than a row of {image.width} x {channels} bytes")
    buffer = np.frombuffer(image.data, dtype=np.uint8)
    needed = image.height * image.step
    if buffer.size < needed:
        raise ImageRejected(
            f"data has {buffer.size} bytes, height*step needs {needed} (truncated image)")
    return buffer[:needed].reshape(image.height, image.step)[:, :row_bytes]


def decode_color(image: RawImage, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """An RGB uint8 array (H, W, 3) from a colour image; rejects grayscale and unknown encodings."""
    if image.encoding in MONO_ENCODINGS:
        raise ImageRejected(f"grayscale encoding '{image.encoding}' where a colour image is expected")
    if image.encoding not in COLOR_ENCODINGS:
        raise ImageRejected(
            f"unsupported encoding '{image.encoding}' (accepted: {', '.join(COLOR_ENCODINGS)})")
    channels, conversion = COLOR_ENCODINGS[image.encoding]
    rows = _checked_rows(image, channels, max_side)
    pixels = rows.reshape(image.height, image.width, channels)
    if conversion is None:
        return pixels
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)


def decode_mono(image: RawImage, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """A uint8 array (H, W) from a mono8 image (the masks on /cmn/masks)."""
    if image.encoding not in MONO_ENCODINGS:
        raise ImageRejected(f"mask encoding '{image.encoding}' is not mono8")
    return _checked_rows(image, 1, max_side).reshape(image.height, image.width)


def image_crc(rgb: np.ndarray) -> int:
    """CRC-32 identifying an image's content (source/garment identity shared between nodes)."""
    return zlib.crc32(np.ascontiguousarray(rgb).data) & 0xFFFFFFFF
