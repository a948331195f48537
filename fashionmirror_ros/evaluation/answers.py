"""The answers the evaluation compares: two that need no model, and the model.

- ``copy``: every output frame is h^s. What a frozen mirror shows.
- ``keypoint_warp``: h^s's person layer moved part by part from its pose to the frame's pose
  and laid over its background, filled behind the person (models/prior.py). Closed form, no
  training; the model's prior.
- a model (the trained checkpoint, or the same preset freshly initialised: ``untrained``): run
  through the very session classes cmn_node and hsg_node run (single-frame CMN on h^s, each
  generated frame fed back to CMN by the model's schedule), without the pipelined graph's
  one-frame feedback lag (the replay report measures that).
Every answer returns the frames h_g^1..h_g^{T-1} (T-1, H, W, 3) uint8; a model also its masks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fashionmirror_ros.evaluation.cases import EvalCase
from fashionmirror_ros.models.prior import keypoint_warp
from fashionmirror_ros.pipeline.person_layer import fill_background
from fashionmirror_ros.pipeline.sessions import GenerationSession, InferenceOptions, MaskSession

BASELINES = ("copy", "keypoint_warp")


@dataclass
class Answer:
    frames: np.ndarray  # (T-1, H, W, 3) uint8
    removed_mask: np.ndarray | None = None  # predicted M_r (H, W) uint8 0..255
    cloth_masks: np.ndarray | None = None  # predicted M_c^1..M_c^{T-1} (T-1, H, W) uint8 0..255


def copy_answer(case: EvalCase) -> Answer:
    return Answer(np.repeat(case.source[None], case.steps, axis=0))


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


@torch.inference_mode()
def keypoint_warp_answer(case: EvalCase, with_plate: bool = False) -> Answer:
    """``with_plate``: h^s's background behind the person from the case's clean plate (if any)."""
    source = _tensor(case.source)
    person = torch.from_numpy((case.source_person_mask > 0).astype(np.float32))[None, None]
    plate = case.background_plate if with_plate else None
    background = _tensor(fill_background(case.source, case.source_person_mask, plate=plate))
    source_pose = torch.from_numpy(case.keypoints[0])[None]
    frames = []
    for pose in case.keypoints[1:]:
        warped = keypoint_warp(source, person, background, source_pose, torch.from_numpy(pose)[None])
        frames.append((warped[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy())
    return Answer(np.stack(frames))


def model_answer(model, case: EvalCase, options: InferenceOptions, replace_worn_garment: bool = False,
                 masks_every: int = 1, with_plate: bool = False) -> Answer:
    """The try-on as the nodes compute it (see the module docstring). The protocols score the
    model's own judgement of what to remove (``replace_worn_garment`` off); hsg_node's kiosk
    default (on) is what the photo panel shows. ``masks_every``: cmn_node's parameter (CMN on
    every Nth generated frame, the masks holding between); ``with_plate``: hsg_node given the
    case's clean plate (``background_image``), if it has one."""
    model.eval()
    masks_session = MaskSession(model, options, masks_every)
    generator = GenerationSession(model, options, model.config.image_size, replace_worn_garment)
    masks_session.set_source(case.source)
    masks_session.set_garment(case.garment)
    generator.set_source(case.source, case.source_person_mask)
    if with_plate:
        generator.set_background_plate(case.background_plate)
    generator.set_garment(case.garment)
    generator.set_source_pose(case.keypoints[0])
    masks = masks_session.source_masks()
    frames, cloth = [], []
    for pose in case.keypoints[1:]:
        generator.offer_masks(masks)
        cloth.append(masks.cloth)
        frames.append(generator.step(pose))
        if masks_session.takes_next_frame():
            masks = masks_session.on_generated(frames[-1])
    return Answer(np.stack(frames), masks.removed, np.stack(cloth))


def baseline_answer(name: str, case: EvalCase) -> Answer:
    if name == "copy":
        return copy_answer(case)
    if name == "keypoint_warp":
        return keypoint_warp_answer(case)
    raise ValueError(f"unknown answer {name!r}; the answers that need no model are {BASELINES}")
