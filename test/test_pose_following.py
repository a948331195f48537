"""Pose-following metric: PCK@0.2 torso with known answers, and MediaPipe on generated frames."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fashionmirror_ros.evaluation.pose_following import (
    PCK_JOINTS,
    PckCounts,
    pck,
    pck_counts,
    pose_following,
    torso_lengths,
)
from fashionmirror_ros.pose.estimators import PoseEstimator, PoseResult
from fashionmirror_ros.pose.layout import BODY, NUM_KEYPOINTS

TORSO_LENGTH = 100.0  # Neck (100, 100) to MidHip (100, 200)
INSIDE_SHIFT = 15.0   # < 0.2 * 100
OUTSIDE_SHIFT = 25.0  # > 0.2 * 100


def driving_pose(frames: int = 1) -> np.ndarray:
    """(frames, 137, 3): torso of length 100 and the 12 PCK joints spread around it, all sure."""
    pose = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    pose[BODY["Neck"]] = (100, 100, 1)
    pose[BODY["MidHip"]] = (100, 200, 1)
    for order, joint in enumerate(PCK_JOINTS):
        pose[joint] = (40 + 10 * order, 80 + 15 * order, 1)
    return np.repeat(pose[np.newaxis], frames, axis=0)


def shifted(keypoints: np.ndarray, joints, dx: float) -> np.ndarray:
    moved = keypoints.copy()
    moved[..., list(joints), 0] += dx
    return moved


def test_identical_keypoints_score_one():
    driving = driving_pose(3)
    assert pck(driving, driving) == 1.0
    assert pck_counts(driving, driving) == PckCounts(36, 36)


def test_every_joint_beyond_the_threshold_scores_zero():
    driving = driving_pose(2)
    assert pck(shifted(driving, PCK_JOINTS, OUTSIDE_SHIFT), driving) == 0.0
    assert pck(shifted(driving, PCK_JOINTS, INSIDE_SHIFT), driving) == 1.0


def test_hand_made_half_shifted_case_gives_the_exact_fraction():
    driving = driving_pose(2)
    predicted = driving.copy()
    # Frame 1: six joints just inside the threshold, six just outside.
    predicted[1] = shifted(predicted[1], PCK_JOINTS[:6], INSIDE_SHIFT)
    predicted[1] = shifted(predicted[1], PCK_JOINTS[6:], OUTSIDE_SHIFT)
    assert pck_counts(predicted, driving) == PckCounts(12 + 6, 24)
    assert pck(predicted, driving) == pytest.approx(18 / 24)
    # A driving joint below the confidence threshold is not counted (here one of the wrong ones).
    driving[1, PCK_JOINTS[-1], 2] = 0.3
    assert pck_counts(predicted, driving) == PckCounts(18, 23)


def test_threshold_scales_with_the_driving_torso():
    driving = driving_pose(1)
    predicted = shifted(driving, PCK_JOINTS, OUTSIDE_SHIFT)
    assert pck(predicted, driving, threshold=0.3) == 1.0
    # Doubling the driving body (and the shift with it) changes nothing.
    assert pck(predicted * [2, 2, 1], driving * [2, 2, 1]) == 0.0
    assert pck(shifted(driving, PCK_JOINTS, INSIDE_SHIFT) * [2, 2, 1], driving * [2, 2, 1]) == 1.0


def test_frames_without_a_person_count_as_all_wrong():
    driving = driving_pose(4)
    predicted = driving.copy()
    assert pck(predicted, driving, person_found=[True, False, True, False]) == 0.5
    # Inferred: a frame whose predicted points all have confidence 0 had no person.
    predicted[3] = 0
    assert pck(predicted, driving) == 0.75
    assert pck(np.zeros_like(driving), driving) == 0.0


def test_unreported_joint_in_a_found_frame_is_wrong():
    driving = driving_pose(1)
    predicted = driving.copy()
    predicted[0, PCK_JOINTS[0]] = 0  # the estimator did not report it, even at the right place
    assert pck_counts(predicted, driving) == PckCounts(11, 12)
    # A low (but nonzero) visibility still counts by position.
    predicted[0, PCK_JOINTS[1], 2] = 0.05
    assert pck_counts(predicted, driving) == PckCounts(11, 12)


def test_frames_without_a_driving_torso_are_not_counted():
    driving = driving_pose(2)
    driving[1, BODY["MidHip"], 2] = 0.0
    assert np.isnan(torso_lengths(driving)[1]) and torso_lengths(driving)[0] == TORSO_LENGTH
    predicted = driving.copy()
    predicted[1] = shifted(predicted[1], PCK_JOINTS, OUTSIDE_SHIFT)
    assert pck_counts(predicted, driving) == PckCounts(12, 12)
    driving[0, BODY["Neck"], 2] = 0.0
    assert math.isnan(pck(predicted, driving))


def test_counts_pool_across_clips_and_bad_shapes_are_refused():
    assert (PckCounts(3, 4) + PckCounts(1, 4)).pck == 0.5
    assert math.isnan(PckCounts(0, 0).pck)
    driving = driving_pose(2)
    with pytest.raises(ValueError):
        pck(driving[:1], driving)
    with pytest.raises(ValueError):
        pck(driving, driving, person_found=[True])
    with pytest.raises(ValueError):
        pck(driving, driving, threshold=0.0)
    nan_pose = driving.copy()
    nan_pose[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        pck(nan_pose, driving)


class ScriptedEstimator(PoseEstimator):
    """Returns given keypoints in order; a frame of zeros means nobody found."""

    def __init__(self, keypoints: np.ndarray) -> None:
        self._keypoints = list(keypoints)
        self.closed = False

    def estimate(self, rgb: np.ndarray) -> PoseResult:
        keypoints = self._keypoints.pop(0)
        return PoseResult(keypoints, bool((keypoints[:, 2] > 0).any()), 0.0)

    def close(self) -> None:
        self.closed = True


def test_pose_following_scores_what_the_estimator_reports():
    driving = driving_pose(4)
    reported = driving.copy()
    reported[2] = 0                                            # nobody found
    reported[3] = shifted(reported[3], PCK_JOINTS, OUTSIDE_SHIFT)
    estimator = ScriptedEstimator(reported)
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    result = pose_following(frames, driving, estimator=estimator)
    assert result.found_share == 0.75
    assert result.pck == 0.5 and result.counts == PckCounts(24, 48)
    assert result.person_found.tolist() == [True, True, False, True]
    assert not estimator.closed  # a caller's estimator stays open for the next clip
    assert result.as_dict()["frames"] == 4
    with pytest.raises(ValueError):
        pose_following(frames[:3], driving, estimator=ScriptedEstimator(reported))


@pytest.fixture(scope="module")
def generated_clip():
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed

    # Test-split clip 0: a frontal person MediaPipe reads on every frame (measured: PCK 1.0).
    return generate_clip(split_seed("test", 0), num_frames=6)


def test_mediapipe_follows_generated_ground_truth_and_finds_nobody_on_blank_frames(generated_clip):
    from fashionmirror_ros.evaluation.pose_following import default_estimator

    with default_estimator() as estimator:
        truth = pose_following(generated_clip.frames, generated_clip.keypoints, estimator=estimator)
        blank = pose_following(np.full_like(generated_clip.frames, 128), generated_clip.keypoints,
                               estimator=estimator)
        # The person moved sideways by about half a torso: found, but not where the pose asks.
        moved = pose_following(np.roll(generated_clip.frames, 40, axis=2), generated_clip.keypoints,
                               estimator=estimator)
    assert truth.found_share == 1.0 and truth.pck >= 0.9
    assert truth.predicted.shape == generated_clip.keypoints.shape
    assert blank.found_share == 0.0 and blank.pck == 0.0 and blank.counts.counted > 0
    assert moved.found_share == 1.0 and moved.pck <= 0.1
