"""Where the in-shop garment C lies on the person: an affine placement from keypoints (ours).

The paper's STN predicts the garment transform from features alone. Here the transform starts
from a placement the keypoints give and the STN learns a correction (issue 11, DESIGN.md 2b):
- C's landmarks come from its mask: the top band of the garment is its shoulder line, so the
  band's left and right ends are C's shoulders and its centre the collar.
- The person's come from the frame's keypoints: neck, shoulders, mid-hip.
- The map sends C's collar to the neck, scales C across the body so that BAND_TO_SHOULDERS
  band widths span the person's shoulder joints and along it so that BAND_TO_TORSO band widths
  span the neck-to-mid-hip length, and turns C with the torso axis. The two ratios were fitted on
  generated training clips (mean IoU of the placed garment mask with the true clothing mask 0.61
  over 60 clips x 3 frames; 0.32 with body proportions alone).
Returned as ``theta`` for ``F.affine_grid`` (output -> input, normalised coordinates,
align_corners=False), so one theta places C on feature maps of any resolution.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor

from fashionmirror_ros.pose.layout import BODY

# Body proportion measured on generated people: shoulder joint distance / neck-to-mid-hip length.
SHOULDER_TO_TORSO = 0.78
# The shoulder band of a garment laid flat is narrower than the shoulder joints it will sit on.
BAND_TO_SHOULDERS = 1.8
BAND_TO_TORSO = 2.0
SHOULDER_BAND = 0.03  # the top 3 % of the garment's height is its shoulder line
WHITE_TOLERANCE = 0.06  # in [0, 1]: pixels this close to white are C's background
# Across the body the garment may be narrowed (a side view) but not below this share of its
# along-the-body scale: keypoints of a person seen side-on put the shoulders on top of each other.
MIN_ACROSS_SHARE = 0.35
_EPS = 1e-6


def garment_mask_from_image(garment: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] on a white background -> (B, 1, H, W) in {0, 1}."""
    distance_from_white = (1.0 - garment).amax(1, keepdim=True)
    return (distance_from_white > WHITE_TOLERANCE).to(garment.dtype)


def garment_landmarks(mask: Tensor) -> Tensor:
    """(B, 1, H, W) garment mask -> (B, 3): collar x, collar y, shoulder band width, in pixels.
    An empty mask gives the image's top centre and full width."""
    batch, _, height, width = mask.shape
    rows = mask[:, 0] > 0.5  # (B, H, W)
    has_row = rows.any(-1)  # (B, H)
    row_index = torch.arange(height, device=mask.device)
    top = torch.where(has_row, row_index, height).amin(-1)  # (B,)
    bottom = torch.where(has_row, row_index, -1).amax(-1)
    empty = bottom < 0
    band = ((row_index[None] >= top[:, None])
            & (row_index[None] <= top[:, None] + SHOULDER_BAND * (bottom - top + 1)[:, None]))
    in_band = rows & band[:, :, None]
    columns = torch.arange(width, device=mask.device, dtype=mask.dtype)
    any_in_band = in_band.any(1)  # (B, W)
    left = torch.where(any_in_band, columns, float(width)).amin(-1)
    right = torch.where(any_in_band, columns, -1.0).amax(-1)
    collar_x = torch.where(empty, torch.full_like(left, (width - 1) / 2), (left + right) / 2)
    collar_y = torch.where(empty, torch.zeros_like(left), top.to(mask.dtype))
    shoulder = torch.where(empty, torch.full_like(left, float(width)), (right - left + 1).clamp_min(1.0))
    return torch.stack([collar_x, collar_y, shoulder], -1)


def keypoint_placement(landmarks: Tensor, keypoints: Tensor, image_size: int,
                       min_confidence: float) -> Tensor:
    """theta (B, 2, 3): output (frame) coordinates -> C coordinates. ``landmarks`` from
    ``garment_landmarks`` (C and the frame share ``image_size``); ``keypoints`` (B, 137, 3) of
    the frame. Where the neck or both shoulders are not seen the identity is returned."""
    with torch.autocast(device_type=keypoints.device.type, enabled=False):  # float32 geometry
        return _keypoint_placement(landmarks.float(), keypoints.float(), image_size, min_confidence)


def _keypoint_placement(landmarks: Tensor, keypoints: Tensor, image_size: int,
                        min_confidence: float) -> Tensor:
    neck = keypoints[:, BODY["Neck"]]
    right, left = keypoints[:, BODY["RShoulder"]], keypoints[:, BODY["LShoulder"]]
    mid_hip = keypoints[:, BODY["MidHip"]]
    seen = (neck[:, 2] >= min_confidence) & (right[:, 2] >= min_confidence) & (left[:, 2] >= min_confidence)
    has_hip = mid_hip[:, 2] >= min_confidence
    shoulder_width = torch.linalg.norm(left[:, :2] - right[:, :2], dim=-1)
    down = torch.where(has_hip[:, None], mid_hip[:, :2] - neck[:, :2],
                       torch.stack([torch.zeros_like(shoulder_width), shoulder_width / SHOULDER_TO_TORSO], -1))
    torso_length = torch.linalg.norm(down, dim=-1).clamp_min(1.0)
    axis_down = down / torso_length[:, None]  # unit vector along the body, image y-down
    axis_across = torch.stack([-axis_down[:, 1], axis_down[:, 0]], -1)  # image x-right when upright
    collar_x, collar_y, band = landmarks.unbind(-1)
    along = BAND_TO_TORSO * band / torso_length  # C pixels per frame pixel along the body
    across = BAND_TO_SHOULDERS * band / torch.maximum(
        shoulder_width, MIN_ACROSS_SHARE * SHOULDER_TO_TORSO * torso_length)
    # frame pixel p -> C pixel: collar + across * <p - neck, axis_across> e_x + along * <p - neck, axis_down> e_y
    linear = torch.stack([across[:, None] * axis_across, along[:, None] * axis_down], 1)  # (B, 2, 2)
    offset = torch.stack([collar_x, collar_y], -1) - (linear @ neck[:, :2, None])[..., 0]
    # in normalised coordinates both images have the same size: n = (2p + 1) / S - 1
    # p = h (n + 1) - 0.5 with h = S / 2 on both images: the linear part is unchanged
    half = image_size / 2.0
    offset_n = (linear @ torch.full_like(neck[:, :2, None], half - 0.5))[..., 0] + offset
    theta = torch.cat([linear, (offset_n / half - 1.0 + 0.5 / half)[..., None]], -1)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=theta.dtype, device=theta.device)
    return torch.where(seen[:, None, None], theta, identity.expand_as(theta))


AUTOCAST_DEVICES = ("cpu", "cuda")  # model-info counts FLOPs on "meta", which autocast refuses


def affine_warp(image: Tensor, theta: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """``image`` (B, C, h, w) sampled bilinearly through ``theta`` (B, 2, 3) onto a ``size`` grid
    (default the image's own), zeros outside. The grid is made in at least float32, also under
    autocast: ``affine_grid``'s matrix product would otherwise run in bf16, whose 8-bit mantissa
    moved the sampling points by up to 0.4 pixels at 256 (0.09 on average)."""
    height, width = size if size is not None else image.shape[-2:]
    dtype = torch.promote_types(image.dtype, torch.float32)  # float64 stays float64
    device = theta.device.type
    with torch.autocast(device_type=device, enabled=False) if device in AUTOCAST_DEVICES else nullcontext():
        grid = F.affine_grid(theta.to(dtype), [image.shape[0], image.shape[1], height, width], align_corners=False)
        return F.grid_sample(image.to(dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def garment_footprint(garment_mask: Tensor, keypoints: Tensor, image_size: int,
                      min_confidence: float) -> Tensor:
    """(B, 1, S, S): where C's mask lands when placed on the pose ``keypoints`` (the keypoint
    placement, no learned correction)."""
    theta = keypoint_placement(garment_landmarks(garment_mask), keypoints, image_size, min_confidence)
    return affine_warp(garment_mask, theta, (image_size, image_size)).clamp(0.0, 1.0)
