"""The person layer's background: the source image with the person removed and the hole filled.

The keypoint warp (DESIGN.md 2b) moves only the person layer of h^s and composites it over the
source's background; where the person stood in h^s and no longer stands, that background must
exist. It is filled once per source with ``fill_background``.

numpy and OpenCV only (no MediaPipe, no torch): the same function fills backgrounds of
generated training data, whose person masks are exact, and of real photos, whose masks come
from ``fashionmirror_ros.pose.segmentation``.

How: the mask is dilated a few pixels first, because a soft or slightly small mask leaves a halo
of person-coloured pixels at the border, which the fill would otherwise smear into the hole.
The hole is filled with OpenCV's Telea inpainting at reduced resolution (its cost grows with the
number of hole pixels times the radius squared; a person covers a fifth of a 256 frame) and the
upsampled fill is pasted into the hole only, so every pixel outside the hole keeps its exact
value. A low-resolution pixel counts as hole if any of its full-resolution pixels is one, so no
person colour is averaged into the pixels the fill starts from. The fill is smooth, not
textured: it is what shows through where the person moved away, and on grass or trees it shows
as a blurred shadow of the person's outline.

Two inpainting methods. ``telea`` (the default, 2-4 ms): smooth; the training data is filled
with it. ``fsr`` (hsg_node's ``background_fill: fsr``; about 0.5 s at 256, once per source):
OpenCV's frequency-selective reconstruction (xphoto, in the opencv-contrib build mediapipe
brings) at half resolution, which continues texture and lines (grass, louvres) into the hole.
Measured on the real clips against their clean plates, inside the hole: mean error 20.9 and 11.4
grey levels against Telea's 21.4 and 20.0, SSIM on the hole's box 0.500 and 0.852 against 0.478
and 0.715 (shift-map and FSR at other scales were worse on one clip or both). In the evaluation
with it (one run, the real protocol): the model's person SSIM 0.664 against 0.641, but pose
following on the generated frames fell, PCK 0.793 against 0.857 (the man on the box 0.746
against 0.890: the smear it continues reads as a limb), so it is not the default.

A static camera (a kiosk) can do better still: its empty view, a clean plate, is the true background.
``fill_background(..., plate=plate)`` pastes the plate into the hole instead of inpainting, once
``plate_mismatch`` has found that the plate shows the scene of h^s (measured on the real clips,
fixed crops of a tripod video: 2.3-2.8 grey levels outside the person against the median of the
video; person SSIM of the model 0.55 -> 0.70 and 0.62 -> 0.76 with the plate).
"""
from __future__ import annotations

import cv2
import numpy as np

# Pixels added around the person mask before filling (at any image size; a 256 frame's mask
# halo is 1-3 px).
BACKGROUND_DILATE_PX = 4
# Inpainting runs at this fraction of the image size (measured: see fill_background).
INPAINT_SCALE = 0.25
# Never inpaint below this longer side: tiny images would lose the background's structure.
INPAINT_MIN_SIDE = 32
# Telea neighbourhood radius, in pixels of the reduced image.
INPAINT_RADIUS_PX = 3
# Frequency-selective reconstruction runs at this fraction (measured: see the module docstring).
FSR_SCALE = 0.5
# A clean plate differing from h^s outside the person by more than this mean (grey levels, 0-255)
# is of another scene, camera or framing and is not used (same scene measured: 2.3-2.8).
PLATE_MAX_MISMATCH = 12.0


def _validate(rgb: np.ndarray, person_mask: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be a uint8 (H, W, 3) array, got {getattr(rgb, 'shape', type(rgb))}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"rgb is empty: {rgb.shape}")
    mask_shape = np.shape(person_mask)
    if mask_shape != rgb.shape[:2]:
        raise ValueError(f"person_mask shape {mask_shape} does not match the image {rgb.shape[:2]}")


def dilated_hole(person_mask: np.ndarray, dilate_px: int = BACKGROUND_DILATE_PX) -> np.ndarray:
    """uint8 {0, 1}: the person mask (nonzero = person) grown by ``dilate_px`` pixels."""
    hole = (np.asarray(person_mask) > 0).astype(np.uint8)
    if dilate_px <= 0:
        return hole
    size = 2 * int(dilate_px) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(hole, kernel)


def _reduced_size(width: int, height: int, scale: float) -> tuple[int, int]:
    longer = max(width, height)
    target_longer = min(longer, max(INPAINT_MIN_SIDE, int(round(longer * scale))))
    factor = target_longer / longer
    return max(1, int(round(width * factor))), max(1, int(round(height * factor)))


def _telea(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(rgb, hole, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)


def _fsr(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    filled = np.empty_like(rgb)
    # xphoto's mask marks the pixels to keep (nonzero), the opposite of cv2.inpaint's
    cv2.xphoto.inpaint(rgb, 1 - hole, filled, cv2.xphoto.INPAINT_FSR_FAST)
    return filled


INPAINTERS = {"telea": _telea, "fsr": _fsr}
INPAINT_METHODS = tuple(INPAINTERS)
INPAINT_SCALES = {"telea": INPAINT_SCALE, "fsr": FSR_SCALE}  # each method's default


def inpaint_reduced(rgb: np.ndarray, hole: np.ndarray, scale: float, method: str = "telea") -> np.ndarray:
    """The whole image inpainted by ``method`` over ``hole`` (uint8 {0, 1}) at ``scale``,
    upsampled to full size."""
    height, width = hole.shape
    small_size = _reduced_size(width, height, scale)
    if small_size == (width, height):
        return INPAINTERS[method](rgb, hole)
    small_rgb = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
    # Area-averaged hole > 0: any low-resolution pixel that touches the hole is hole.
    small_hole = (cv2.resize(hole.astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0)
    filled = INPAINTERS[method](small_rgb, small_hole.astype(np.uint8))
    return cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)


def plate_mismatch(rgb: np.ndarray, person_mask: np.ndarray, plate: np.ndarray,
                   dilate_px: int = BACKGROUND_DILATE_PX) -> float:
    """Mean absolute difference (grey levels) between ``plate`` and ``rgb`` outside the person's
    dilated hole: near 0 for the empty view of the same static camera."""
    _validate(rgb, person_mask)
    _validate(plate, person_mask)
    outside = ~dilated_hole(person_mask, dilate_px).astype(bool)
    if not outside.any():
        return 0.0
    return float(np.abs(plate.astype(np.int16) - rgb.astype(np.int16))[outside].mean())


def fill_background(rgb: np.ndarray, person_mask: np.ndarray,
                    dilate_px: int = BACKGROUND_DILATE_PX, scale: float | None = None,
                    plate: np.ndarray | None = None, method: str = "telea") -> np.ndarray:
    """``rgb`` (uint8 (H, W, 3)) with the person (``person_mask`` nonzero) removed and filled:
    inpainted by ``method`` ("telea" or "fsr") at ``scale`` of the image's size (default the
    method's, ``INPAINT_SCALES``), or from ``plate`` (uint8 (H, W, 3), the scene without the
    person) when given.

    Pixels farther than ``dilate_px`` from the person are returned unchanged; with an empty mask
    the result is a copy of ``rgb``.

    Measured here at 256 x 256 (medians, 12 generated test-split frames, person 17 % of the
    frame; and the astronaut photo, person 44 %): scale 0.25 takes 1.9 ms (astronaut 2.5 ms),
    full-resolution Telea 11.5 ms (18.7 ms). Against the true generated background, the mean
    absolute error inside the hole was 1.9 grey levels at scale 0.25 and 2.6 at full resolution
    (smooth backgrounds fill better from a coarser grid), 2.2 at 0.125.
    """
    _validate(rgb, person_mask)
    if plate is not None:
        _validate(plate, person_mask)
    if method not in INPAINT_METHODS:
        raise ValueError(f"method must be one of {INPAINT_METHODS}, got {method!r}")
    scale = INPAINT_SCALES[method] if scale is None else scale
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must lie in (0, 1], got {scale}")
    hole = dilated_hole(person_mask, dilate_px)
    background = rgb.copy()
    if not hole.any():
        return background
    filled = plate if plate is not None else inpaint_reduced(np.ascontiguousarray(rgb), hole, scale, method)
    inside = hole.astype(bool)
    background[inside] = filled[inside]
    return background
