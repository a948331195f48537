"""What pose_node's tracking between estimates (``pose/tracking.py``) costs in accuracy and saves
in time, for ``fashionmirror bench``.

For each ``estimate_every`` in TRACKING_INTERVALS, a fresh ``TrackedEstimator`` (BlazePose with
pose_node's settings) runs over consecutive frames:
- generated test clips upscaled to 512 x 512, scored against their true keypoints;
- the Sports2D walking woman at 640 x 480 (when the media are fetched), scored against
  BlazePose run on every frame (a real video has no true keypoints).
PCK (``pose_following.pck``, torso-relative) at several thresholds, on all frames and on the
tracked frames alone; and the median ms of an estimated and of a tracked frame.
"""
from __future__ import annotations

import time

import numpy as np

TRACKING_INTERVALS = (1, 2, 3)
PCK_THRESHOLDS = (0.2, 0.1, 0.05)
GENERATED_SIZE = 512
GENERATED_CLIPS = 4
GENERATED_FRAMES = 40
QUICK_GENERATED_CLIPS = 1
QUICK_FRAMES = 20


def _run(frames, estimate_every: int) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    """(keypoints (T, 137, 3), tracked (T,) bool, ms of estimated frames, ms of tracked frames)."""
    from fashionmirror_ros.pose.estimators import make_estimator
    from fashionmirror_ros.pose.tracking import TrackedEstimator

    keypoints, tracked, estimated_ms, tracked_ms = [], [], [], []
    inner = make_estimator("mediapipe_pose", model_complexity=1, max_input_side=320)
    with TrackedEstimator(inner, estimate_every) as estimator:
        for frame in frames:
            start = time.perf_counter()
            result = estimator.estimate(np.ascontiguousarray(frame))
            (tracked_ms if result.tracked else estimated_ms).append(1000.0 * (time.perf_counter() - start))
            keypoints.append(result.keypoints)
            tracked.append(result.tracked)
    return np.stack(keypoints), np.array(tracked), estimated_ms, tracked_ms


def _scores(predicted: np.ndarray, reference: np.ndarray, tracked: np.ndarray) -> dict:
    from fashionmirror_ros.evaluation.pose_following import pck

    scores = {}
    for threshold in PCK_THRESHOLDS:
        scores[f"pck_{threshold:g}"] = round(float(pck(predicted, reference, threshold=threshold)), 4)
        if tracked.any():
            scores[f"pck_{threshold:g}_tracked_frames"] = round(
                float(pck(predicted[tracked], reference[tracked], threshold=threshold)), 4)
    return scores


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 3) if values else None


def pose_tracking(settings: dict) -> dict:
    """The section's figures (module docstring)."""
    import cv2

    from fashionmirror_ros.data.real_media import MediaError
    from fashionmirror_ros.data.real_video import walking_woman
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed

    quick = settings["quick"]
    frames_per_clip = QUICK_FRAMES if quick else GENERATED_FRAMES
    generated = []
    for seed in range(QUICK_GENERATED_CLIPS if quick else GENERATED_CLIPS):
        clip = generate_clip(split_seed("test", seed), frames_per_clip, 256, 30.0)
        scale = GENERATED_SIZE / 256
        truth = clip.keypoints.copy()
        truth[..., :2] = (truth[..., :2] + 0.5) * scale - 0.5  # pixel centres
        frames = [cv2.resize(frame, (GENERATED_SIZE, GENERATED_SIZE), interpolation=cv2.INTER_LINEAR)
                  for frame in clip.frames]
        generated.append((frames, truth))
    try:
        real = walking_woman((640, 480), count=QUICK_FRAMES if quick else None).frames
    except MediaError as error:
        real = None
        real_note = f"skipped: {error}"
    result: dict = {"estimator": "mediapipe_pose", "max_input_side": 320,
                    "generated": {"clips": len(generated), "frames_per_clip": frames_per_clip,
                                  "size": GENERATED_SIZE, "reference": "true keypoints"},
                    "real": {"reference": "BlazePose on every frame"} if real is not None
                    else {"skipped": real_note}, "intervals": {}}
    truth = np.concatenate([keypoints for _, keypoints in generated])
    real_reference = None
    for every in TRACKING_INTERVALS:
        entry: dict = {}
        runs = [_run(frames, every) for frames, _ in generated]
        predicted = np.concatenate([run[0] for run in runs])
        tracked = np.concatenate([run[1] for run in runs])
        estimated_ms = [ms for run in runs for ms in run[2]]
        tracked_ms = [ms for run in runs for ms in run[3]]
        entry["generated"] = _scores(predicted, truth, tracked)
        if real is not None:
            keypoints, real_tracked, more_estimated, more_tracked = _run(real, every)
            if every == 1:
                real_reference = keypoints
            estimated_ms += more_estimated
            tracked_ms += more_tracked
            entry["real"] = _scores(keypoints, real_reference, real_tracked)
        entry["estimated_frame_ms"] = _median(estimated_ms)
        entry["tracked_frame_ms"] = _median(tracked_ms)
        entry["tracked_share"] = round(len(tracked_ms) / max(1, len(tracked_ms) + len(estimated_ms)), 3)
        result["intervals"][str(every)] = entry
        print(f"  estimate_every {every}: generated PCK@0.1 {entry['generated']['pck_0.1']}"
              + (f", real PCK@0.05 {entry['real']['pck_0.05']}" if "real" in entry else "")
              + f", estimated frame {entry['estimated_frame_ms']} ms, tracked frame "
              f"{entry['tracked_frame_ms']} ms", flush=True)
    return result
