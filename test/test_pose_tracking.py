"""pose/tracking.py: keypoints moved along optical flow between pose estimates."""
from __future__ import annotations

import numpy as np
import pytest

from fashionmirror_ros.pose.estimators import PoseEstimator, PoseResult
from fashionmirror_ros.pose.layout import NUM_KEYPOINTS
from fashionmirror_ros.pose.tracking import MAX_TRACK_GAP_S, KeypointTracker, TrackedEstimator

SIZE = (480, 640)  # height, width: a camera frame, tracked at 320 x 240
MS = 1_000_000


def textured(shift_x: float = 0.0, shift_y: float = 0.0, seed: int = 0) -> np.ndarray:
    """A smooth random texture (LK needs gradients) moved by (shift_x, shift_y) pixels."""
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.integers(0, 255, (SIZE[0] + 80, SIZE[1] + 80, 3), np.uint8), (0, 0), 3)
    matrix = np.float32([[1, 0, 40 - shift_x], [0, 1, 40 - shift_y]])
    return cv2.warpAffine(base, matrix, (SIZE[1], SIZE[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def keypoints_at(points: list[tuple[float, float]]) -> np.ndarray:
    keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    for index, (x, y) in enumerate(points):
        keypoints[index] = (x, y, 0.9)
    return keypoints


POINTS = [(200.0, 150.0), (320.0, 240.0), (400.0, 300.0), (250.0, 350.0), (450.0, 120.0), (300.0, 200.0)]


class CountingEstimator(PoseEstimator):
    """Returns fixed keypoints (or no person) and counts its calls."""

    def __init__(self, keypoints: np.ndarray | None) -> None:
        self.keypoints = keypoints
        self.calls = 0
        self.closed = False

    def estimate(self, rgb: np.ndarray) -> PoseResult:
        self.calls += 1
        if self.keypoints is None:
            return PoseResult(np.zeros((NUM_KEYPOINTS, 3), np.float32), False, 1.0)
        return PoseResult(self.keypoints.copy(), True, 1.0)

    def close(self) -> None:
        self.closed = True


def test_tracker_follows_a_moving_image_to_a_fraction_of_a_pixel():
    tracker = KeypointTracker()
    start = keypoints_at(POINTS)
    tracker.start(textured(), start)
    moved = tracker.track(textured(6.0, -4.0))
    seen = start[:, 2] > 0
    error = np.abs(moved[seen, :2] - (start[seen, :2] + [6.0, -4.0]))
    assert error.max() < 0.6, error
    assert np.array_equal(moved[~seen], start[~seen])  # points not seen stay (0, 0, 0)
    assert np.array_equal(moved[:, 2], start[:, 2])  # confidences are the estimate's


def test_estimator_runs_on_every_nth_frame_and_tracks_between():
    inner = CountingEstimator(keypoints_at(POINTS))
    with TrackedEstimator(inner, 2) as estimator:
        results = [estimator.estimate(textured(2.0 * k, 1.0 * k), stamp_ns=k * 33 * MS) for k in range(6)]
    assert [r.tracked for r in results] == [False, True, False, True, False, True]
    assert inner.calls == 3 and inner.closed
    assert (estimator.frames_estimated, estimator.frames_tracked) == (3, 3)
    # frame 1 is frame 0's estimate moved by (2, 1)
    assert np.abs(results[1].keypoints[:6, :2] - (results[0].keypoints[:6, :2] + [2.0, 1.0])).max() < 0.6
    assert all(r.person_found for r in results)


def test_every_frame_is_estimated_with_estimate_every_one():
    inner = CountingEstimator(keypoints_at(POINTS))
    estimator = TrackedEstimator(inner, 1)
    assert not any(estimator.estimate(textured(k)).tracked for k in range(4))
    assert inner.calls == 4


def test_a_lost_person_is_estimated_not_tracked():
    """A frame the flow cannot follow (blank: no texture) is estimated; so is every frame while
    the estimator finds nobody (nothing to track), and a frame of another size."""
    inner = CountingEstimator(keypoints_at(POINTS))
    estimator = TrackedEstimator(inner, 3)
    estimator.estimate(textured())
    result = estimator.estimate(np.zeros((*SIZE, 3), np.uint8))
    assert not result.tracked and inner.calls == 2 and estimator.tracking_lost == 1

    assert estimator.estimate(textured(1.0)).tracked is False  # from the blank frame: lost again
    assert estimator.estimate(textured(2.0)).tracked  # from a textured frame: followed
    assert not estimator.estimate(textured()[:240, :320].copy()).tracked  # another frame size
    assert inner.calls == 4

    nobody = CountingEstimator(None)
    estimator = TrackedEstimator(nobody, 2)
    results = [estimator.estimate(textured(k)) for k in range(4)]
    assert nobody.calls == 4 and not any(r.person_found or r.tracked for r in results)


def test_a_gap_in_the_stream_is_not_tracked_across():
    inner = CountingEstimator(keypoints_at(POINTS))
    estimator = TrackedEstimator(inner, 2)
    estimator.estimate(textured(), stamp_ns=0)
    gap = int((MAX_TRACK_GAP_S + 0.1) * 1e9)
    assert not estimator.estimate(textured(1.0), stamp_ns=gap).tracked
    assert estimator.estimate(textured(2.0), stamp_ns=gap + 33 * MS).tracked
    # a stamp going backwards (a replay restarted) starts again too
    assert not estimator.estimate(textured(3.0), stamp_ns=0).tracked
    assert inner.calls == 3


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2"])
def test_estimate_every_must_be_a_positive_int(value):
    with pytest.raises(ValueError, match="estimate_every"):
        TrackedEstimator(CountingEstimator(None), value)


def test_bad_frames_are_refused_before_tracking():
    estimator = TrackedEstimator(CountingEstimator(keypoints_at(POINTS)), 2)
    estimator.estimate(textured())
    with pytest.raises(ValueError, match="uint8"):
        estimator.estimate(textured().astype(np.float32))
