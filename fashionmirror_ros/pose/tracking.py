"""Keypoints between pose estimates: pyramidal Lucas-Kanade optical flow (ours, not the paper's;
issue 12's live path).

BlazePose costs about 19 ms a frame here, a quarter of a try-on frame's CPU on two cores. Between
two frames of a live camera a person moves a few pixels, which optical flow on a small grey image
follows for about half a millisecond. ``TrackedEstimator`` runs its estimator on every
``estimate_every``-th frame and moves the last keypoints along the flow on the frames between.

Measured (``fashionmirror bench``, docs/bench/bench.md "pose_node's keypoints"; BlazePose,
max_input_side 320): on generated test clips against their true keypoints, PCK@0.2 / 0.1 0.833 /
0.664 with every frame estimated, 0.811 / 0.651 with every third (the frames between tracked);
on the Sports2D walking woman (640 x 480), against BlazePose on every frame, every third frame
estimated gives PCK@0.2 0.929 over all frames. Before this module: holding the last keypoints
instead of tracking gave PCK@0.05 0.512 on the tracked frames against 0.648, constant-velocity
extrapolation 0.601 at the loose 0.2.

Rules
- A frame is estimated when it is due (every ``estimate_every``-th), when nothing is tracked
  (the last estimate found no person, or this is the first frame), when the frame size changed,
  when the flow lost more than ``MAX_LOST_SHARE`` of the points (the person left, the scene cut,
  a looped video jumped), and when the frames' stamps lie more than ``MAX_TRACK_GAP_S`` apart:
  tracking never stands in for a person it has lost.
- A point the flow loses keeps its last position; confidences stay those of the last estimate.
- Tracking runs on a grey copy scaled to ``TRACK_SIDE`` (the longer side), the size MediaPipe is
  given in pose_node (max_input_side 320).
"""
from __future__ import annotations

import time

import numpy as np

from .estimators import MILLISECONDS_PER_SECOND, PoseEstimator, PoseResult, validate_rgb_image

TRACK_SIDE = 320  # longer side of the grey image the flow runs on
LK_WINDOW = 21  # pixels of the LK window at TRACK_SIDE (15: real-video PCK@0.2 0.912 against 0.929, estimate_every 3)
LK_PYRAMID_LEVELS = 2  # 3 levels in all: moves of ~30 pixels at TRACK_SIDE
LK_CRITERIA_ITERATIONS = 20
LK_CRITERIA_EPSILON = 0.03
MAX_LOST_SHARE = 0.5  # more points than this lost by the flow: estimate this frame instead
# frames further apart than this (camera stamps) are not tracked across: a paused or restarted
# camera, not a person moving
MAX_TRACK_GAP_S = 0.25
NANOSECONDS_PER_SECOND = 1e9


class KeypointTracker:
    """Moves keypoints (N, 3) from one frame to the next along pyramidal LK flow."""

    def __init__(self, track_side: int = TRACK_SIDE) -> None:
        import cv2

        if track_side < 16:
            raise ValueError(f"track_side must be >= 16, got {track_side}")
        self._cv2 = cv2
        self.track_side = track_side
        self._criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT,
                          LK_CRITERIA_ITERATIONS, LK_CRITERIA_EPSILON)
        self.reset()

    def reset(self) -> None:
        self._grey: np.ndarray | None = None
        self._keypoints: np.ndarray | None = None
        self._frame_size: tuple[int, int] | None = None
        self._scale = 1.0

    @property
    def tracking(self) -> bool:
        """Whether there are keypoints to move to the next frame."""
        return self._keypoints is not None

    def grey(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` as the small grey image the flow runs on."""
        cv2 = self._cv2
        height, width = rgb.shape[:2]
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.track_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey

    def start(self, rgb: np.ndarray, keypoints: np.ndarray | None, grey: np.ndarray | None = None) -> None:
        """Follow ``keypoints`` (an estimate of ``rgb``; None: no person, nothing to follow)."""
        height, width = rgb.shape[:2]
        self._grey = self.grey(rgb) if grey is None else grey
        self._frame_size = (width, height)
        self._scale = self._grey.shape[1] / width
        seen = keypoints is not None and bool((keypoints[:, 2] > 0).any())
        self._keypoints = np.array(keypoints, np.float32) if seen else None

    def fits(self, rgb: np.ndarray) -> bool:
        """Whether ``rgb`` continues the tracked stream (same frame size, something tracked)."""
        return self.tracking and self._frame_size == (rgb.shape[1], rgb.shape[0])

    def track(self, rgb: np.ndarray, grey: np.ndarray | None = None) -> np.ndarray | None:
        """The keypoints moved to ``rgb``, or None when the flow lost too many of them (then the
        tracker still holds the previous frame: estimate ``rgb`` and ``start`` again)."""
        if not self.fits(rgb):
            raise ValueError("track() needs a frame of the tracked stream's size after start()")
        grey = self.grey(rgb) if grey is None else grey
        keypoints = self._keypoints.copy()
        seen = keypoints[:, 2] > 0
        points = (keypoints[seen, :2] * self._scale).reshape(-1, 1, 2).astype(np.float32)
        moved, status, _ = self._cv2.calcOpticalFlowPyrLK(
            self._grey, grey, points, None, winSize=(LK_WINDOW, LK_WINDOW), maxLevel=LK_PYRAMID_LEVELS,
            criteria=self._criteria)
        found = status.reshape(-1) == 1
        if (~found).mean() > MAX_LOST_SHARE:
            return None
        positions = keypoints[seen, :2]
        positions[found] = moved.reshape(-1, 2)[found] / self._scale
        width, height = self._frame_size
        positions[:, 0] = positions[:, 0].clip(0.0, width - 1.0)
        positions[:, 1] = positions[:, 1].clip(0.0, height - 1.0)
        keypoints[seen, :2] = positions
        self._grey, self._keypoints = grey, keypoints
        return keypoints.copy()


class TrackedEstimator(PoseEstimator):
    """``estimator`` on every ``estimate_every``-th frame of one stream, LK tracking between
    (module docstring). ``estimate_every`` 1 estimates every frame (no tracking)."""

    def __init__(self, estimator: PoseEstimator, estimate_every: int, track_side: int = TRACK_SIDE) -> None:
        if isinstance(estimate_every, bool) or not isinstance(estimate_every, int) or estimate_every < 1:
            raise ValueError(f"estimate_every must be an int >= 1, got {estimate_every!r}")
        self.estimator = estimator
        self.estimate_every = estimate_every
        self.tracker = KeypointTracker(track_side)
        self.frames_estimated = 0
        self.frames_tracked = 0
        self.tracking_lost = 0  # frames estimated because the flow lost the person
        self._since_estimate = 0
        self._last_stamp_ns: int | None = None

    def estimate(self, rgb: np.ndarray, stamp_ns: int | None = None) -> PoseResult:
        """The pose in ``rgb``, estimated or tracked; ``stamp_ns`` (the frame's capture time, when
        known) keeps tracking from bridging a gap in the stream."""
        validate_rgb_image(rgb)
        if self.estimate_every == 1:
            self.frames_estimated += 1
            return self.estimator.estimate(rgb)
        start = time.perf_counter()
        if stamp_ns is not None:
            previous, self._last_stamp_ns = self._last_stamp_ns, stamp_ns
            if previous is not None and not 0 <= stamp_ns - previous <= MAX_TRACK_GAP_S * NANOSECONDS_PER_SECOND:
                self.reset()
        grey = self.tracker.grey(rgb)
        due = self._since_estimate + 1 >= self.estimate_every
        if not due and self.tracker.fits(rgb):
            keypoints = self.tracker.track(rgb, grey)
            if keypoints is not None:
                self._since_estimate += 1
                self.frames_tracked += 1
                elapsed = (time.perf_counter() - start) * MILLISECONDS_PER_SECOND
                return PoseResult(keypoints, True, elapsed, tracked=True)
            self.tracking_lost += 1
        result = self.estimator.estimate(rgb)
        self.tracker.start(rgb, result.keypoints if result.person_found else None, grey)
        self._since_estimate = 0
        self.frames_estimated += 1
        result.inference_ms = (time.perf_counter() - start) * MILLISECONDS_PER_SECOND
        return result

    def reset(self) -> None:
        """Forget the tracked stream: the next frame is estimated."""
        self.tracker.reset()
        self._since_estimate = 0

    def close(self) -> None:
        self.estimator.close()
