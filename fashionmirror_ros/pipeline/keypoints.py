"""Validating the 137 keypoints a PoseKeypoints message carries, before anything is drawn from them.

The skeleton renderer copes with any coordinate, NaN included, by clipping; that is exactly why
bad poses must be stopped here: a NaN or inf keypoint, or a pose in a zero-sized image, would
otherwise turn silently into a wrong p^t and a wrong try-on frame. Bad input raises
KeypointsRejected with a reason meant for a log line and a diagnostics status.
"""
from __future__ import annotations

import numpy as np

from fashionmirror_ros.pipeline.images import DEFAULT_MAX_SIDE
from fashionmirror_ros.pose.layout import NUM_KEYPOINTS

# A keypoint this many image sides outside the frame is garbage, not a person partly out of view.
MAX_SIDES_OUTSIDE = 8
CONFIDENCE_SLACK = 1e-3  # float rounding of an estimator's probabilities is not an error


class KeypointsRejected(ValueError):
    """A pose that cannot be used; str(error) says why."""


def checked_keypoints(x, y, confidence, width: int, height: int,
                      max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """(137, 3) float32 x, y, confidence in pixels of a width x height image, or KeypointsRejected."""
    if width <= 0 or height <= 0:
        raise KeypointsRejected(f"keypoints for a zero-sized image {width}x{height}")
    if width > max_side or height > max_side:
        raise KeypointsRejected(f"keypoints for an image {width}x{height} beyond the "
                                f"{max_side}-pixel limit per side")
    columns = [np.asarray(values, dtype=np.float32).reshape(-1) for values in (x, y, confidence)]
    if any(column.size != NUM_KEYPOINTS for column in columns):
        raise KeypointsRejected(f"expected {NUM_KEYPOINTS} keypoints, got "
                                f"{'/'.join(str(column.size) for column in columns)}")
    keypoints = np.stack(columns, axis=1)
    bad = ~np.isfinite(keypoints)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise KeypointsRejected(f"{rows.size} keypoints with NaN or inf values (first: index {rows[0]})")
    if (keypoints[:, 2] < -CONFIDENCE_SLACK).any() or (keypoints[:, 2] > 1 + CONFIDENCE_SLACK).any():
        raise KeypointsRejected("keypoint confidence outside [0, 1]")
    np.clip(keypoints[:, 2], 0.0, 1.0, out=keypoints[:, 2])
    limit = MAX_SIDES_OUTSIDE * max(width, height)
    if (np.abs(keypoints[:, :2]) > limit).any():
        raise KeypointsRejected(f"keypoint coordinates beyond {MAX_SIDES_OUTSIDE} image sides "
                                f"from a {width}x{height} image")
    return keypoints
