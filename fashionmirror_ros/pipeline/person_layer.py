"""The source photo split in two layers: the person, and the background behind them.

The keypoint prior moves the person layer of h^s to the frame's pose and lays it over the
background; where the person stood, the background must be filled. This is done once per source
image (a kiosk's source photo changes rarely) and for every training sample, so it is numpy/cv2
only and cheap: the hole is inpainted at a reduced resolution (inpainting cost grows with the
hole's area times its radius) and pasted back into the full-resolution image outside it.
"""
from __future__ import annotations

import cv2
import numpy as np

HOLE_GROWTH = 0.012  # the hole covers the person mask grown by this share of the image side
INPAINT_SIDE = 96  # the hole is filled on an image of at most this side
INPAINT_RADIUS = 3


def fill_background(rgb: np.ndarray, person_mask: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with the pixels of ``person_mask`` (H, W), nonzero = person,
    replaced by a fill from the surrounding background (Telea inpainting)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    if person_mask.shape != rgb.shape[:2]:
        raise ValueError(f"person mask {person_mask.shape} does not match image {rgb.shape[:2]}")
    height, width = person_mask.shape
    grow = max(1, int(round(HOLE_GROWTH * max(height, width))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    hole = cv2.dilate((person_mask > 0).astype(np.uint8), kernel)
    if not hole.any():
        return rgb.copy()
    factor = min(1.0, INPAINT_SIDE / max(height, width))
    small_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, small_size, interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))  # no person pixel survives the resize
    filled = cv2.inpaint(small, small_hole * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None] > 0, filled, rgb)
