"""Every figure of one answer on one evaluation case (and the set-level VFID).

Per case, means over the generated frames h_g^1..h_g^{T-1}:
- ssim, psnr: full frame (the paper's metrics);
- person_ssim: on the box of the true person masks of h^s and the frame; person_psnr: inside the
  frame's true person mask; garment_psnr: inside its true clothing mask (when known);
- iou_removed, iou_cloth: a model's M_r and M_c^t against the true masks (when known);
- warping_error_self / warping_error_real_flow: temporal consistency (metrics.py);
- lpips: with a local weight file;
- pose_found, pose_pck: MediaPipe Pose run on the generated frames against the driving keypoints
  (evaluation/pose_following.py): share of frames with a person found, PCK at 0.2 of the torso.
"""
from __future__ import annotations

import numpy as np

from fashionmirror_ros.evaluation.answers import Answer
from fashionmirror_ros.evaluation.cases import EvalCase
from fashionmirror_ros.evaluation.metrics import (lpips, mask_iou, psnr, ssim, vfid, warping_error,
                                                  warping_error_against)
from fashionmirror_ros.evaluation.pose_following import pose_following
from fashionmirror_ros.evaluation.region_metrics import masked_psnr, person_ssim

# name -> higher is better; the order of the tables
METRICS = {
    "ssim": True, "psnr": True, "person_ssim": True, "person_psnr": True, "garment_psnr": True,
    "iou_removed": True, "iou_cloth": True, "warping_error_self": False,
    "warping_error_real_flow": False, "lpips": False, "pose_found": True, "pose_pck": True,
}


def _mean(values) -> float:
    values = [value for value in values if not np.isnan(value)]
    return float(np.mean(values)) if values else float("nan")


def score_case(case: EvalCase, answer: Answer, pose_estimator=None, lpips_weights=None) -> dict[str, float]:
    fake, real = answer.frames, case.frames
    scores = {
        "ssim": _mean(ssim(a, b) for a, b in zip(fake, real)),
        "psnr": _mean(psnr(a, b) for a, b in zip(fake, real)),
        "person_ssim": _mean(person_ssim(a, b, case.source_person_mask, mask)
                             for a, b, mask in zip(fake, real, case.person_masks)),
        "person_psnr": _mean(masked_psnr(a, b, mask) for a, b, mask in zip(fake, real, case.person_masks)),
        "garment_psnr": float("nan"),
        "iou_removed": float("nan"),
        "iou_cloth": float("nan"),
        "warping_error_self": float(warping_error(fake)),
        "warping_error_real_flow": float(warping_error_against(fake, real)),
        "lpips": float("nan"),
        "pose_found": float("nan"),
        "pose_pck": float("nan"),
    }
    if case.cloth_masks is not None:
        scores["garment_psnr"] = _mean(masked_psnr(a, b, mask) for a, b, mask in zip(fake, real, case.cloth_masks))
        if answer.cloth_masks is not None:
            scores["iou_cloth"] = _mean(mask_iou(m, t.astype(bool)) for m, t in zip(answer.cloth_masks, case.cloth_masks))
    if case.source_cloth_mask is not None and answer.removed_mask is not None:
        scores["iou_removed"] = float(mask_iou(answer.removed_mask, case.source_cloth_mask.astype(bool)))
    if lpips_weights:
        scores["lpips"] = float(lpips(fake, real, lpips_weights))
    if pose_estimator is not None:
        scores.update(pose_scores(fake, case.keypoints[1:], pose_estimator))
    return scores


def pose_scores(frames: np.ndarray, driving: np.ndarray, estimator) -> dict[str, float]:
    from fashionmirror_ros.pose.segmentation import silenced_native_stderr

    with silenced_native_stderr():  # MediaPipe's native log lines, one burst per graph run
        result = pose_following(frames, driving, estimator)
    return {"pose_found": result.found_share, "pose_pck": result.pck}


def set_vfid(cases: list[EvalCase], answers: list[Answer], weights) -> float:
    """VFID of the answer's clips against the true clips (needs a local weight file, >= 2 clips)."""
    if not weights or len(cases) < 2:
        return float("nan")
    return float(vfid([case.frames for case in cases], [answer.frames for answer in answers], weights))


def mean_scores(per_case: list[dict[str, float]]) -> dict[str, float]:
    return {name: _mean(scores[name] for scores in per_case) for name in METRICS}
