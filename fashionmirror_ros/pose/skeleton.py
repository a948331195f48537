"""The 3-channel skeleton image p^t of the paper (eq. 3), drawn from 137 OpenPose-layout keypoints.

SFE never sees keypoint coordinates, only this picture, so what matters is that the drawing is a
stable, information-rich function of the pose:

- every body limb has its own colour from one fixed palette (the network can tell a left forearm
  from a right shin by colour alone, as in OpenPose's renderings); hand fingers get their own hues,
  the face is drawn in white with thin lines;
- line thickness is proportional to the image size (a 512 image looks like a 256 one scaled up),
  body limbs thicker than fingers and face, so limbs dominate the flow features;
- a limb is drawn only when both of its points reach ``min_confidence``; an isolated confident
  body point still gets its joint dot;
- coordinates may be anywhere (outside the image, huge, NaN): segments are clipped to a margin
  around the image in floating point before the integer conversion OpenCV needs, so nothing
  overflows and the visible part of the segment keeps its true direction;
- drawing uses anti-aliased lines with sub-pixel precision (OpenCV ``shift``) and no randomness,
  so the same keypoints always give the same bytes.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

from fashionmirror_ros.pose.layout import (
    BODY_LIMBS,
    FACE_LIMBS,
    FACE_START,
    HAND_LIMBS,
    LEFT_HAND_START,
    NUM_BODY,
    NUM_KEYPOINTS,
    RIGHT_HAND_START,
)

# Thickness in pixels at a 256-pixel image (scaled linearly with min(height, width)).
REFERENCE_SIZE = 256
BODY_LINE_WIDTH = 4.0
BODY_JOINT_RADIUS = 3.0
HAND_LINE_WIDTH = 2.0
FACE_LINE_WIDTH = 1.0

# Fractional bits for cv2 drawing: coordinates are passed as round(x * 2**SHIFT).
SUBPIXEL_SHIFT = 3
SUBPIXEL_SCALE = float(1 << SUBPIXEL_SHIFT)
# Segments are clipped to the image grown by this many pixels on each side, so thick line caps
# at the border still look right while the integer coordinates stay small.
CLIP_MARGIN = 16.0

FACE_COLOUR = (255, 255, 255)


def _hsv_palette(count: int, saturation: float, value: float, hue_offset: float = 0.0):
    """``count`` RGB colours with hues evenly spread around the wheel (fixed, no randomness)."""
    colours = []
    for index in range(count):
        hue = (hue_offset + index / count) % 1.0
        red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
        colours.append((int(round(red * 255)), int(round(green * 255)), int(round(blue * 255))))
    return tuple(colours)


# One colour per BODY_25 limb, in BODY_LIMBS order. Consecutive limbs are mostly neighbours on
# the body, so stepping the hue by a prime stride (7 of 24) keeps adjacent limbs far apart in hue.
_BODY_HUES = _hsv_palette(len(BODY_LIMBS), saturation=1.0, value=1.0)
BODY_LIMB_COLOURS = tuple(_BODY_HUES[(7 * index) % len(BODY_LIMBS)] for index in range(len(BODY_LIMBS)))
# Joint dots take the colour of the first limb that ends at them (the neck's is the spine colour).
BODY_JOINT_COLOURS = tuple(
    next(
        (BODY_LIMB_COLOURS[limb] for limb, (_, end) in enumerate(BODY_LIMBS) if end == joint),
        BODY_LIMB_COLOURS[0],
    )
    for joint in range(NUM_BODY)
)
# Hands: one hue per finger, the four segments of a finger darkening from base to tip; the left
# and right hand use hues shifted by half a step so they differ too.
_FINGER_SEGMENTS = 4


def _hand_colours(hue_offset: float):
    colours = []
    for finger in range(5):
        hue = (hue_offset + finger / 5.0) % 1.0
        for segment in range(_FINGER_SEGMENTS):
            value = 1.0 - 0.15 * segment
            red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, value)
            colours.append((int(round(red * 255)), int(round(green * 255)), int(round(blue * 255))))
    return tuple(colours)


LEFT_HAND_COLOURS = _hand_colours(0.0)
RIGHT_HAND_COLOURS = _hand_colours(0.1)


def _thickness(line_width: float, scale: float) -> int:
    return max(1, int(round(line_width * scale)))


def _clip_segment(x0, y0, x1, y1, x_min, y_min, x_max, y_max):
    """Liang-Barsky clipping of a float segment to a rectangle; None when nothing is inside."""
    dx = x1 - x0
    dy = y1 - y0
    t_enter, t_exit = 0.0, 1.0
    for p, q in ((-dx, x0 - x_min), (dx, x_max - x0), (-dy, y0 - y_min), (dy, y_max - y0)):
        if p == 0.0:
            if q < 0.0:
                return None
            continue
        ratio = q / p
        if p < 0.0:
            t_enter = max(t_enter, ratio)
        else:
            t_exit = min(t_exit, ratio)
        if t_enter > t_exit:
            return None
    return x0 + t_enter * dx, y0 + t_enter * dy, x0 + t_exit * dx, y0 + t_exit * dy


def _draw_limbs(image, points, usable, limbs, offset, colours, thickness, bounds):
    """Draw ``limbs`` (pairs of rows relative to ``offset``) whose two points are usable."""
    x_min, y_min, x_max, y_max = bounds
    for limb_index, (start, end) in enumerate(limbs):
        a = start + offset
        b = end + offset
        if not (usable[a] and usable[b]):
            continue
        x0, y0 = points[a]
        x1, y1 = points[b]
        inside = (
            x_min <= x0 <= x_max and x_min <= x1 <= x_max
            and y_min <= y0 <= y_max and y_min <= y1 <= y_max
        )
        if not inside:
            clipped = _clip_segment(x0, y0, x1, y1, x_min, y_min, x_max, y_max)
            if clipped is None:
                continue
            x0, y0, x1, y1 = clipped
        cv2.line(
            image,
            (int(round(x0 * SUBPIXEL_SCALE)), int(round(y0 * SUBPIXEL_SCALE))),
            (int(round(x1 * SUBPIXEL_SCALE)), int(round(y1 * SUBPIXEL_SCALE))),
            colours[limb_index % len(colours)],
            thickness,
            cv2.LINE_AA,
            SUBPIXEL_SHIFT,
        )


def render_skeleton(
    keypoints: np.ndarray, height: int, width: int, min_confidence: float = 0.1
) -> np.ndarray:
    """Draw the skeleton image p^t: uint8 RGB (height, width, 3), black background.

    ``keypoints`` is (137, 3) [x, y, confidence] in pixels of an image of this size (the
    OpenPose layout of ``fashionmirror_ros.pose.layout``). Points below ``min_confidence`` (and
    non-finite ones) are not drawn, nor any limb touching them.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints must have shape ({NUM_KEYPOINTS}, 3), got {keypoints.shape}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    image = np.zeros((height, width, 3), dtype=np.uint8)
    points = keypoints[:, :2]
    usable = (
        np.isfinite(keypoints).all(axis=1) & (keypoints[:, 2] >= min_confidence)
    ).tolist()
    points = np.where(np.isfinite(points), points, 0.0).tolist()
    scale = min(height, width) / REFERENCE_SIZE
    bounds = (-CLIP_MARGIN, -CLIP_MARGIN, width - 1 + CLIP_MARGIN, height - 1 + CLIP_MARGIN)

    # Face first, then hands, then body on top: the coarse body structure must stay intact where
    # the fine parts overlap it (hands in front of the torso, face over the neck).
    _draw_limbs(image, points, usable, FACE_LIMBS, FACE_START, (FACE_COLOUR,),
                _thickness(FACE_LINE_WIDTH, scale), bounds)
    hand_thickness = _thickness(HAND_LINE_WIDTH, scale)
    _draw_limbs(image, points, usable, HAND_LIMBS, LEFT_HAND_START, LEFT_HAND_COLOURS,
                hand_thickness, bounds)
    _draw_limbs(image, points, usable, HAND_LIMBS, RIGHT_HAND_START, RIGHT_HAND_COLOURS,
                hand_thickness, bounds)
    _draw_limbs(image, points, usable, BODY_LIMBS, 0, BODY_LIMB_COLOURS,
                _thickness(BODY_LINE_WIDTH, scale), bounds)

    joint_radius = _thickness(BODY_JOINT_RADIUS, scale)
    x_min, y_min, x_max, y_max = bounds
    for joint in range(NUM_BODY):
        if not usable[joint]:
            continue
        x, y = points[joint]
        if not (x_min <= x <= x_max and y_min <= y <= y_max):
            continue
        cv2.circle(
            image,
            (int(round(x * SUBPIXEL_SCALE)), int(round(y * SUBPIXEL_SCALE))),
            int(round(joint_radius * SUBPIXEL_SCALE)),
            BODY_JOINT_COLOURS[joint],
            -1,
            cv2.LINE_AA,
            SUBPIXEL_SHIFT,
        )
    return image

