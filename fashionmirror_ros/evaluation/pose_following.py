"""Pose following: does a generated frame show a person, in the pose that drove it?

Image metrics (SSIM, PSNR) reward a blurry average and say nothing about whether the person in
the output stands in the requested pose. This metric asks a pose estimator: MediaPipe Pose (the
project's body-only estimator, mapped onto the BODY_25 rows of the 137-point layout) runs on
every generated frame, and its keypoints are compared with the driving keypoints of that frame.

- ``found_share``: share of frames in which the estimator found a person.
- ``pck``: PCK@0.2 torso. A joint is correct when the estimated point lies within
  ``threshold`` (0.2) times the frame's torso length of the driving point. Joints: shoulders,
  elbows, wrists, hips, knees, ankles (12, ``PCK_JOINT_NAMES``). Torso length of a frame: the
  distance Neck - MidHip of the DRIVING keypoints (the requested body size, so a generated person
  drawn too small cannot earn a looser threshold).

What counts (``pck_counts``):
- only joints whose driving confidence reaches ``min_driving_confidence`` (a joint the driving
  pose does not know cannot be followed or missed);
- only frames whose driving Neck and MidHip both reach it (no torso length, no scale);
- a frame in which no person was found counts ALL its counted joints as wrong: an output the
  estimator cannot read as a person did not follow the pose, and dropping such frames would
  reward a model for producing unreadable frames;
- in a frame with a person, a joint the estimator did not report (confidence 0, e.g. outside
  the image) is wrong; reported joints count by position whatever their visibility score.

``pck`` / ``pck_counts`` are pure numpy (testable with known answers); ``pose_following`` runs
the estimator. The estimator runs in static-image mode by default: each frame is judged on its
own, without the tracker's temporal smoothing (which would lag behind fast motion and carry a
person over frames where none is visible).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fashionmirror_ros.pose.estimators import PoseEstimator, validate_keypoints
from fashionmirror_ros.pose.layout import BODY

PCK_JOINT_NAMES = (
    "RShoulder", "LShoulder", "RElbow", "LElbow", "RWrist", "LWrist",
    "RHip", "LHip", "RKnee", "LKnee", "RAnkle", "LAnkle",
)
PCK_JOINTS = tuple(BODY[name] for name in PCK_JOINT_NAMES)
PCK_THRESHOLD = 0.2
MIN_DRIVING_CONFIDENCE = 0.5


@dataclass(frozen=True)
class PckCounts:
    """Correct and counted joints; add counts of several clips to pool them."""

    correct: int
    counted: int

    @property
    def pck(self) -> float:
        """correct / counted; NaN when nothing was counted."""
        return self.correct / self.counted if self.counted else math.nan

    def __add__(self, other: PckCounts) -> PckCounts:
        return PckCounts(self.correct + other.correct, self.counted + other.counted)


def torso_lengths(driving: np.ndarray, min_confidence: float = MIN_DRIVING_CONFIDENCE) -> np.ndarray:
    """(T,) distance Neck - MidHip of each frame; NaN where either is below ``min_confidence``
    or the two coincide."""
    neck, mid_hip = driving[:, BODY["Neck"]], driving[:, BODY["MidHip"]]
    length = np.linalg.norm(neck[:, :2] - mid_hip[:, :2], axis=1)
    known = (neck[:, 2] >= min_confidence) & (mid_hip[:, 2] >= min_confidence) & (length > 0)
    return np.where(known, length, np.nan)


def _as_sequences(predicted: Any, driving: Any) -> tuple[np.ndarray, np.ndarray]:
    predicted = validate_keypoints(predicted, "predicted keypoints")
    driving = validate_keypoints(driving, "driving keypoints")
    if predicted.ndim == 2:
        predicted, driving = predicted[np.newaxis], driving[np.newaxis]
    if predicted.shape != driving.shape or predicted.ndim != 3:
        raise ValueError(
            f"predicted {predicted.shape} and driving {driving.shape} keypoints must both be (T, 137, 3)"
        )
    return predicted, driving


def pck_counts(
    predicted: Any,
    driving: Any,
    person_found: Sequence[bool] | np.ndarray | None = None,
    threshold: float = PCK_THRESHOLD,
    min_driving_confidence: float = MIN_DRIVING_CONFIDENCE,
    joints: Sequence[int] = PCK_JOINTS,
) -> PckCounts:
    """Correct and counted joints of PCK@``threshold`` torso (rules in the module docstring).

    ``predicted``, ``driving``: (T, 137, 3) (or one (137, 3) frame) in the same pixels.
    ``person_found``: (T,) whether the estimator found a person per frame; None infers it as
    "some predicted point has confidence > 0".
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    predicted, driving = _as_sequences(predicted, driving)
    joints = list(joints)
    if person_found is None:
        found = (predicted[:, :, 2] > 0).any(axis=1)
    else:
        found = np.asarray(person_found, dtype=bool).reshape(-1)
        if found.shape != (len(predicted),):
            raise ValueError(f"person_found has {found.size} entries for {len(predicted)} frames")
    torso = torso_lengths(driving, min_driving_confidence)
    counted = (driving[:, joints, 2] >= min_driving_confidence) & np.isfinite(torso)[:, np.newaxis]
    distance = np.linalg.norm(predicted[:, joints, :2] - driving[:, joints, :2], axis=2)
    with np.errstate(invalid="ignore"):
        close = distance <= threshold * torso[:, np.newaxis]
    reported = predicted[:, joints, 2] > 0
    correct = counted & close & reported & found[:, np.newaxis]
    return PckCounts(int(correct.sum()), int(counted.sum()))


def pck(
    predicted: Any,
    driving: Any,
    person_found: Sequence[bool] | np.ndarray | None = None,
    threshold: float = PCK_THRESHOLD,
    min_driving_confidence: float = MIN_DRIVING_CONFIDENCE,
) -> float:
    """PCK@``threshold`` torso in [0, 1]; NaN when no joint could be counted."""
    return pck_counts(predicted, driving, person_found, threshold, min_driving_confidence).pck


@dataclass
class PoseFollowingResult:
    """What ``pose_following`` measured on one sequence of generated frames."""

    found_share: float
    pck: float
    counts: PckCounts
    person_found: np.ndarray   # bool (T,)
    predicted: np.ndarray      # float32 (T, 137, 3), BODY_25 rows filled

    def as_dict(self) -> dict[str, float | int]:
        """The numbers for a table or JSON report."""
        return {
            "found_share": self.found_share,
            "pck": self.pck,
            "joints_correct": self.counts.correct,
            "joints_counted": self.counts.counted,
            "frames": int(len(self.person_found)),
        }


def default_estimator() -> PoseEstimator:
    """MediaPipe Pose, body only, every frame detected on its own (static-image mode)."""
    from fashionmirror_ros.pose.estimators import make_estimator

    return make_estimator("mediapipe_pose", static_image_mode=True)


def estimate_poses(frames: Sequence[np.ndarray] | np.ndarray,
                   estimator: PoseEstimator) -> tuple[np.ndarray, np.ndarray]:
    """(T, 137, 3) keypoints and (T,) person-found flags of ``frames`` (T >= 1 uint8 RGB)."""
    keypoints, found = [], []
    for frame in frames:
        result = estimator.estimate(np.asarray(frame))
        keypoints.append(result.keypoints)
        found.append(result.person_found)
    return np.stack(keypoints).astype(np.float32), np.asarray(found, dtype=bool)


def pose_following(
    frames: Sequence[np.ndarray] | np.ndarray,
    driving_keypoints: Any,
    estimator: PoseEstimator | None = None,
    threshold: float = PCK_THRESHOLD,
    min_driving_confidence: float = MIN_DRIVING_CONFIDENCE,
) -> PoseFollowingResult:
    """Run the pose estimator on generated ``frames`` (T uint8 RGB images) and score them
    against ``driving_keypoints`` ((T, 137, 3) in the frames' pixels).

    ``estimator``: any ``PoseEstimator``; None builds ``default_estimator()`` for this call and
    closes it (pass one in to score many clips without rebuilding the MediaPipe graph).
    """
    driving = validate_keypoints(driving_keypoints, "driving keypoints")
    if driving.ndim != 3 or len(driving) != len(frames) or len(frames) == 0:
        raise ValueError(
            f"need one (137, 3) driving pose per frame: {len(frames)} frames, keypoints {driving.shape}"
        )
    own_estimator = estimator is None
    estimator = default_estimator() if own_estimator else estimator
    try:
        predicted, found = estimate_poses(frames, estimator)
    finally:
        if own_estimator:
            estimator.close()
    counts = pck_counts(predicted, driving, found, threshold, min_driving_confidence)
    return PoseFollowingResult(
        found_share=float(found.mean()),
        pck=counts.pck,
        counts=counts,
        person_found=found,
        predicted=predicted,
    )
