"""Training samples whose h^s stands elsewhere in the frame (ours, not the paper's).

Generated clips dance on the spot: measured on 4 held-out generated clips, a frame's person is
2.3 px (mean over the person; p90 4.6 px) at 256 px from where h^s stood, while in the real clips
(a person walking past the camera) the same prior flow p^{t+1} -> p^0 is 43.6 px (p90 82.5 px).
SFE's residual flows, learned only on the small motions, came out 2.6 px on the real clips against
0.35 px on generated ones, and cost 0.025 of person SSIM there. A share of the training samples
(``source_move_share``) therefore moves frame 0's person (h^s, and the frame-0 truth the temporal
loss starts from) by a similarity: a shift of up to ``MAX_SHIFT`` of the image side sideways and
``MAX_LIFT`` up or down, a scale within ``SCALE_RANGE``, kept inside the image; the person is
pasted over the background filled behind them (``pipeline.person_layer.fill_background``), and
their masks and keypoints move with them. The later frames are untouched, so the sample reads as a
person who walked from there to here.
"""
from __future__ import annotations

import cv2
import numpy as np

from fashionmirror_ros.pipeline.person_layer import fill_background

MAX_SHIFT = 0.3  # of the image width, sideways
MAX_LIFT = 0.05  # of the image height, up or down
SCALE_RANGE = (0.9, 1.1)  # about the person's box centre


def draw_move(rng: np.random.Generator, person_mask: np.ndarray) -> np.ndarray:
    """A 2 x 3 similarity moving the person of ``person_mask`` (H, W) to a random place that keeps
    their box inside the image (identity for an empty mask)."""
    ys, xs = np.nonzero(person_mask)
    if xs.size == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    height, width = person_mask.shape
    scale = float(rng.uniform(*SCALE_RANGE))
    centre = ((xs.min() + xs.max()) / 2.0, (ys.min() + ys.max()) / 2.0)
    half_w = (xs.max() - xs.min()) / 2.0 * scale
    half_h = (ys.max() - ys.min()) / 2.0 * scale

    def shift_inside(draw: float, centre_at: float, half: float, side: int) -> float:
        low, high = half - centre_at, side - 1 - half - centre_at
        return float(np.clip(draw, low, high)) if low <= high else 0.0

    shift_x = shift_inside(rng.uniform(-MAX_SHIFT, MAX_SHIFT) * width, centre[0], half_w, width)
    shift_y = shift_inside(rng.uniform(-MAX_LIFT, MAX_LIFT) * height, centre[1], half_h, height)
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, scale)
    matrix[:, 2] += (shift_x, shift_y)
    return matrix


def move_mask(mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """A (H, W) mask moved by ``matrix`` (nearest neighbour, empty outside)."""
    height, width = mask.shape
    return cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def move_person(rgb: np.ndarray, person_mask: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the image with its person moved by ``matrix`` over the background filled behind them,
    the moved person mask). ``rgb`` uint8 (H, W, 3), ``person_mask`` (H, W) nonzero = person."""
    height, width = person_mask.shape
    background = fill_background(rgb, person_mask)
    person = cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    moved_mask = move_mask(person_mask, matrix)
    return np.where(moved_mask[..., None] > 0, person, background), moved_mask


def move_keypoints(keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 3) pixel keypoints (x, y, confidence) moved by ``matrix``; confidences kept."""
    moved = keypoints.copy()
    moved[:, :2] = keypoints[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    return moved
