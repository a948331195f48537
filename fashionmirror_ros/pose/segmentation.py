"""Person segmentation: MediaPipe Pose's segmentation output as a person mask.

Why Pose and not MediaPipe's selfie segmentation: the selfie model expects a head-and-shoulders
framing and found nothing on a small full-body person here (DESIGN.md 2b); the legacy Pose
solution with ``enable_segmentation=True`` segments the person it tracks, whole body, at any
framing the pose detector handles. Both models ship in the pinned mediapipe 0.10.21 wheel; Pose
has only the complexity-1 ("full") landmark model there, which is what this module uses.

``PersonSegmenter.segment`` returns the soft mask (float32, (H, W), [0, 1], at the input size)
and whether a person was found; with nobody found the mask is all zeros (MediaPipe gives no mask
then). ``person_mask`` thresholds it at ``PERSON_MASK_THRESHOLD``.

``static_image_mode``: True for unrelated photos (every image is detected from scratch), False
for consecutive frames of one stream (tracking, and ``smooth_segmentation`` blends the mask over
time). Do not interleave two streams through one tracking segmenter.

Log noise: MediaPipe's native code writes a few INFO/WARNING lines straight to file descriptor 2
on the first frame of every graph; no environment variable or Python logger controls them in
0.10.21 (GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL and ABSL_MIN_LOG_LEVEL were tried). Silencing
them means redirecting fd 2, which is process-wide, so it is never done implicitly: callers that
own the process (a CLI command) may wrap work in ``silenced_native_stderr()``.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from .estimators import pose_landmark_model_path, validate_rgb_image

# A pixel belongs to the person when its segmentation probability reaches this.
PERSON_MASK_THRESHOLD = 0.5
# The only Pose landmark model in the pinned wheel (the others would be downloaded).
POSE_MODEL_COMPLEXITY = 1


@dataclass
class SegmentationResult:
    """``mask``: float32 (H, W) in [0, 1] at the input's size; zeros when ``person_found`` is False."""

    mask: np.ndarray
    person_found: bool


def mask_from_probability(probability: np.ndarray, threshold: float = PERSON_MASK_THRESHOLD) -> np.ndarray:
    """Soft mask -> uint8 {0, 1} (1 where probability >= threshold)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    return (np.asarray(probability) >= threshold).astype(np.uint8)


class PersonSegmenter:
    """MediaPipe Pose with segmentation: one RGB image in, a soft person mask out.

    A context manager; ``close`` releases the MediaPipe graph. Calls are serialised by a lock
    (a MediaPipe graph is not re-entrant).
    """

    def __init__(
        self,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth_segmentation: bool = True,
    ) -> None:
        for name, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        # Fails with a clear message instead of letting MediaPipe try a download.
        pose_landmark_model_path(POSE_MODEL_COMPLEXITY)
        from mediapipe.python.solutions import pose

        self.static_image_mode = static_image_mode
        self._lock = threading.Lock()
        self._pose = pose.Pose(
            static_image_mode=static_image_mode,
            model_complexity=POSE_MODEL_COMPLEXITY,
            smooth_landmarks=True,
            enable_segmentation=True,
            smooth_segmentation=smooth_segmentation,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def segment(self, rgb: np.ndarray) -> SegmentationResult:
        """Soft person mask of ``rgb`` (uint8 (H, W, 3), RGB order)."""
        validate_rgb_image(rgb)
        height, width = rgb.shape[:2]
        with self._lock:
            if self._pose is None:
                raise RuntimeError("PersonSegmenter.segment() called after close()")
            # MediaPipe needs C-contiguous pixels (a crop or a flip is a strided view).
            results = self._pose.process(np.ascontiguousarray(rgb))
        found = results.pose_landmarks is not None and results.segmentation_mask is not None
        if not found:
            return SegmentationResult(np.zeros((height, width), np.float32), False)
        mask = np.asarray(results.segmentation_mask, dtype=np.float32)
        if mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        return SegmentationResult(np.clip(mask, 0.0, 1.0), True)

    def person_mask(self, rgb: np.ndarray, threshold: float = PERSON_MASK_THRESHOLD) -> np.ndarray:
        """uint8 {0, 1} (H, W) person mask of ``rgb``; all zeros when nobody is found."""
        return mask_from_probability(self.segment(rgb).mask, threshold)

    def close(self) -> None:
        """Release the MediaPipe graph; calling it twice is harmless."""
        with self._lock:
            if self._pose is not None:
                self._pose.close()
                self._pose = None

    def __enter__(self) -> PersonSegmenter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def person_mask(rgb: np.ndarray, threshold: float = PERSON_MASK_THRESHOLD) -> np.ndarray:
    """uint8 {0, 1} person mask of one photo (a static-image segmenter built for this call).

    For many images, keep one ``PersonSegmenter`` instead: building the graph costs far more
    than one frame.
    """
    with PersonSegmenter(static_image_mode=True) as segmenter:
        return segmenter.person_mask(rgb, threshold)


@contextlib.contextmanager
def silenced_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null inside the block (MediaPipe's native log lines).

    Process-wide while active: anything any thread writes to stderr is lost, Python's included.
    Use it only where the caller owns the process (a CLI command), around MediaPipe start-up.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
