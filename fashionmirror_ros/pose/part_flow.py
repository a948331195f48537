"""A dense flow between two poses from body-part transforms: the keypoint prior.

Given the 137-point keypoints of a target pose (frame t+1) and a source pose (h^s or frame t),
``keypoint_flow`` returns a backward flow on the target grid: for every target pixel p, the
offset to the source pixel it should be copied from (source(p + flow(p)) ~ target(p)). It needs no
training and is closed form; it is the "keypoint warp" answer of the evaluation and the prior the
realtime model refines (DESIGN.md section 2b). Not in the paper: FashionMirror learns its flows
from skeleton images alone.

How
- Body parts of the BODY_25 layout: the torso (neck, shoulders, mid-hip, hips; a least-squares
  affine map), the head (nose, eyes, ears, neck; a least-squares similarity) and eight limb
  segments (upper arms, forearms, thighs, shins; a similarity from the segment's two joints).
  Each maps target coordinates to source coordinates; scales are clamped to
  [MIN_SCALE, MAX_SCALE] so foreshortening and turning do not blow a part up.
- Every target pixel blends the parts' maps with soft-min weights of its distance to each part's
  target region (a capsule around the segment, the quad of shoulders and hips for the torso), so
  a pixel follows the part it lies on and the seams between parts are smooth.
- A part is dropped when one of its joints is below ``min_confidence`` in either pose; with no
  part left the flow is zero (identity). Forearms and shins reach past the wrist and ankle, so
  hands and feet follow them.
- ``support`` says how close each target pixel is to the parts it follows (1 on and near a part,
  0 past the part's support reach): away from a part its map can point anywhere in the source (a
  forearm turned by 90 degrees maps a pixel beside it onto the source's legs), so the person
  layer is kept only where the support is. Arms get a short reach, the torso and legs a long one
  (garments are wider than the capsules).
- Feature maps hold the background too: the model multiplies the flow by its support, so far
  from the body the flow falls to zero and the background is not dragged along.
Coordinates are pixel centres (x right, y down), as in the keypoint arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from fashionmirror_ros.pose.layout import BODY

MIN_SCALE = 0.6
MAX_SCALE = 1.6
DEFAULT_MIN_CONFIDENCE = 0.2


@dataclass(frozen=True)
class LimbPart:
    """A capsule from joint ``start`` to joint ``end`` (BODY_25 indices)."""

    start: int
    end: int
    radius: float  # capsule radius, a fraction of the body scale (neck to mid-hip)
    reach: float = 0.0  # the capsule continues this fraction of the segment past ``end``
    # how far past the capsule the person layer is kept (sleeves, trousers, skirts are wider)
    support_reach: float = 0.3


# Radii relative to the torso length; measured on generated people (limbs 0.05-0.09 of it).
# Arms turn far more than legs, and what lies beside a turned arm in the source is the torso or
# a leg, so their layer stays close to them.
LIMBS = (
    LimbPart(BODY["RShoulder"], BODY["RElbow"], 0.08, support_reach=0.1),
    LimbPart(BODY["RElbow"], BODY["RWrist"], 0.07, reach=0.45, support_reach=0.06),
    LimbPart(BODY["LShoulder"], BODY["LElbow"], 0.08, support_reach=0.1),
    LimbPart(BODY["LElbow"], BODY["LWrist"], 0.07, reach=0.45, support_reach=0.06),
    LimbPart(BODY["RHip"], BODY["RKnee"], 0.11),
    LimbPart(BODY["RKnee"], BODY["RAnkle"], 0.08, reach=0.35),
    LimbPart(BODY["LHip"], BODY["LKnee"], 0.11),
    LimbPart(BODY["LKnee"], BODY["LAnkle"], 0.08, reach=0.35),
)
TORSO_POINTS = tuple(BODY[n] for n in ("Neck", "RShoulder", "LShoulder", "MidHip", "RHip", "LHip"))
TORSO_QUAD = tuple(BODY[n] for n in ("RShoulder", "LShoulder", "LHip", "RHip"))
HEAD_POINTS = tuple(BODY[n] for n in ("Nose", "REye", "LEye", "REar", "LEar"))
HEAD_RADIUS = 0.22
HEAD_SUPPORT_REACH = 0.2  # hair
TORSO_SUPPORT_REACH = 0.3  # loose tops and dresses
# Limbs lying on the torso (arms crossed in front) must win over it: the torso's distance
# starts at this fraction of the body scale instead of 0.
TORSO_MARGIN = 0.02
# Soft-min temperature: sigma of the Gaussian on the distance, in pixels at a 256 image.
BLEND_SIGMA_AT_256 = 3.0
# The person layer fades out over this many body scales past each part's support reach.
SUPPORT_FADE = 0.08
_EPS = 1e-6


class PartFlow(NamedTuple):
    flow: Tensor  # (B, 2, H, W) backward flow in pixels, target -> source
    support: Tensor  # (B, 1, H, W) in [0, 1]: 1 near the target body, 0 far from it


def _similarity(target: Tensor, source: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted least-squares similarity x_s ~ M x_t + b: (..., N, 2) points, (..., N) weights ->
    M (..., 2, 2), b (..., 2). One point gives a translation."""
    total = weight.sum(-1, keepdim=True).clamp_min(_EPS)
    mean_t = (weight[..., None] * target).sum(-2) / total
    mean_s = (weight[..., None] * source).sum(-2) / total
    ct, cs = target - mean_t[..., None, :], source - mean_s[..., None, :]
    energy = (weight * ct.square().sum(-1)).sum(-1)
    dot = (weight * (ct * cs).sum(-1)).sum(-1)
    cross = (weight * (ct[..., 0] * cs[..., 1] - ct[..., 1] * cs[..., 0])).sum(-1)
    degenerate = energy < _EPS
    a = torch.where(degenerate, torch.ones_like(dot), dot / energy.clamp_min(_EPS))
    b = torch.where(degenerate, torch.zeros_like(cross), cross / energy.clamp_min(_EPS))
    scale = torch.sqrt(a * a + b * b).clamp_min(_EPS)
    factor = scale.clamp(MIN_SCALE, MAX_SCALE) / scale
    a, b = a * factor, b * factor
    matrix = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)
    return matrix, mean_s - (matrix @ mean_t[..., None])[..., 0]


def _affine(target: Tensor, source: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted least-squares affine map with clamped singular values; falls back to the
    similarity where the target points are (nearly) collinear or fewer than three."""
    total = weight.sum(-1, keepdim=True).clamp_min(_EPS)
    mean_t = (weight[..., None] * target).sum(-2) / total
    mean_s = (weight[..., None] * source).sum(-2) / total
    ct, cs = target - mean_t[..., None, :], source - mean_s[..., None, :]
    weighted = weight[..., None] * ct
    covariance = weighted.transpose(-1, -2) @ ct  # (..., 2, 2)
    cross = weighted.transpose(-1, -2) @ cs
    determinant = torch.linalg.det(covariance)
    trace = covariance.diagonal(dim1=-2, dim2=-1).sum(-1)
    well_posed = (determinant > 1e-3 * trace.square()) & ((weight > 0).sum(-1) >= 3)
    eye = torch.eye(2, dtype=target.dtype, device=target.device)
    safe = torch.where(well_posed[..., None, None], covariance, eye.expand_as(covariance))
    matrix = torch.linalg.solve(safe, cross).transpose(-1, -2)
    u, s, vh = torch.linalg.svd(matrix)
    matrix = u @ torch.diag_embed(s.clamp(MIN_SCALE, MAX_SCALE)) @ vh
    fallback, fallback_shift = _similarity(target, source, weight)
    matrix = torch.where(well_posed[..., None, None], matrix, fallback)
    shift = mean_s - (matrix @ mean_t[..., None])[..., 0]
    return matrix, torch.where(well_posed[..., None], shift, fallback_shift)


def _segment_distance(px: Tensor, py: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Distance of pixels (H, W) to segments a-b (..., 2) -> (..., H, W)."""
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]
    dx, dy = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]
    length2 = (dx * dx + dy * dy).clamp_min(_EPS)
    along = (((px - ax) * dx + (py - ay) * dy) / length2).clamp(0.0, 1.0)
    return torch.hypot(px - ax - along * dx, py - ay - along * dy)


def _quad_distance(px: Tensor, py: Tensor, corners: Tensor) -> Tensor:
    """Distance of pixels to a quad (B, 4, 2) given in order around it; 0 inside -> (B, H, W)."""
    following = corners.roll(-1, dims=1)
    outline = _segment_distance(px, py, corners, following).amin(1)  # (B, H, W)
    ax, ay = corners[..., 0, None, None], corners[..., 1, None, None]
    bx, by = following[..., 0, None, None], following[..., 1, None, None]
    signs = (bx - ax) * (py - ay) - (by - ay) * (px - ax)  # (B, 4, H, W)
    inside = (signs >= 0).all(1) | (signs <= 0).all(1)
    return torch.where(inside, torch.zeros_like(outline), outline)


def _body_scale(target: Tensor, seen: Tensor) -> Tensor:
    """Neck to mid-hip length (B,), or 1.3 x the shoulder width where the hips are missing."""
    neck, mid_hip = target[:, BODY["Neck"], :2], target[:, BODY["MidHip"], :2]
    torso = torch.linalg.norm(neck - mid_hip, dim=-1)
    shoulders = torch.linalg.norm(target[:, BODY["RShoulder"], :2] - target[:, BODY["LShoulder"], :2], dim=-1)
    has_torso = seen[:, BODY["Neck"]] & seen[:, BODY["MidHip"]]
    return torch.where(has_torso, torso, 1.3 * shoulders).clamp_min(4.0)


def _torso_quad(target: Tensor, seen: Tensor, scale: Tensor) -> Tensor:
    """Shoulders and hips (B, 4, 2) in TORSO_QUAD order; a hip not seen (an upper-body photo, a
    person close to the camera) is put one body scale below its shoulder, across the shoulder line,
    so the torso still reaches down to where the body continues."""
    quad = target[:, list(TORSO_QUAD), :2].clone()
    right, left = quad[:, 0], quad[:, 1]
    across = left - right
    down = torch.stack([-across[:, 1], across[:, 0]], -1)
    down = torch.where(down[:, 1:2] < 0, -down, down)  # image y grows downwards
    down = down / torch.linalg.norm(down, dim=-1, keepdim=True).clamp_min(_EPS) * scale
    for corner, shoulder in ((2, left), (3, right)):
        hip_seen = seen[:, TORSO_QUAD[corner]][:, None]
        quad[:, corner] = torch.where(hip_seen, quad[:, corner], shoulder + down)
    return quad


_LIMB_STARTS = [limb.start for limb in LIMBS]
_LIMB_ENDS = [limb.end for limb in LIMBS]


class _Parts(NamedTuple):
    """Every part of a batch, parts along dim 1: torso, head, then the LIMBS."""

    matrix: Tensor  # (B, K, 2, 2) target -> source
    shift: Tensor  # (B, K, 2)
    distance: Tensor  # (B, K, H, W) of each pixel to the part's target region
    valid: Tensor  # (B, K) bool
    reach: Tensor  # (B, K, 1, 1) support reach in pixels
    scale: Tensor  # (B, 1, 1, 1) body scale in pixels


def _parts(target: Tensor, source: Tensor, px: Tensor, py: Tensor, min_confidence: float) -> _Parts:
    seen_target = target[..., 2] >= min_confidence
    seen = seen_target & (source[..., 2] >= min_confidence)  # (B, 137)
    scale = _body_scale(target, seen_target)[:, None]  # (B, 1)
    torso = list(TORSO_POINTS)
    torso_matrix, torso_shift = _affine(target[:, torso, :2], source[:, torso, :2], seen[:, torso].to(target.dtype))
    torso_distance = _quad_distance(px, py, _torso_quad(target, seen_target, scale)) + TORSO_MARGIN * scale[..., None]

    head = list(HEAD_POINTS) + [BODY["Neck"]]
    head_matrix, head_shift = _similarity(target[:, head, :2], source[:, head, :2], seen[:, head].to(target.dtype))
    face_weight = seen[:, list(HEAD_POINTS)].to(target.dtype)
    centre = ((face_weight[..., None] * target[:, list(HEAD_POINTS), :2]).sum(1)
              / face_weight.sum(1, keepdim=True).clamp_min(_EPS))
    head_distance = (_segment_distance(px, py, target[:, BODY["Neck"], :2], centre)
                     - HEAD_RADIUS * scale[..., None]).clamp_min(0.0)

    # all limbs at once: (B, L, 2 points, 2)
    ends_target = torch.stack([target[:, _LIMB_STARTS, :2], target[:, _LIMB_ENDS, :2]], 2)
    ends_source = torch.stack([source[:, _LIMB_STARTS, :2], source[:, _LIMB_ENDS, :2]], 2)
    limb_matrix, limb_shift = _similarity(ends_target, ends_source, torch.ones_like(ends_target[..., 0]))
    limb_reach = target.new_tensor([limb.reach for limb in LIMBS])[None, :, None]
    start, end = ends_target[:, :, 0], ends_target[:, :, 1]
    limb_radius = target.new_tensor([limb.radius for limb in LIMBS])[None, :, None, None]
    limb_distance = (_segment_distance(px, py, start, end + limb_reach * (end - start))
                     - limb_radius * scale[..., None, None]).clamp_min(0.0)
    limb_valid = seen[:, _LIMB_STARTS] & seen[:, _LIMB_ENDS]

    support_reach = target.new_tensor([TORSO_SUPPORT_REACH, HEAD_SUPPORT_REACH]
                                      + [limb.support_reach for limb in LIMBS])
    return _Parts(
        torch.cat([torso_matrix[:, None], head_matrix[:, None], limb_matrix], 1),
        torch.cat([torso_shift[:, None], head_shift[:, None], limb_shift], 1),
        torch.cat([torso_distance[:, None], head_distance[:, None], limb_distance], 1),
        torch.cat([(seen[:, BODY["RShoulder"]] & seen[:, BODY["LShoulder"]])[:, None],
                   (seen[:, BODY["Neck"]] & (face_weight.sum(1) >= 1))[:, None], limb_valid], 1),
        (support_reach[None] * scale)[..., None, None], scale[..., None, None])


def keypoint_flow(target: Tensor, source: Tensor, height: int, width: int,
                  min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> PartFlow:
    """Backward flow (B, 2, H, W), channel 0 = x, 1 = y, in pixels: target pixel p takes the source
    pixel p + flow(p); and its support (B, 1, H, W). ``target``, ``source``: (B, 137, 3) keypoints
    in pixels of an H x W image."""
    if target.shape != source.shape or target.dim() != 3 or target.shape[-2:] != (137, 3):
        raise ValueError(f"expected two (B, 137, 3) keypoint tensors, got {tuple(target.shape)} "
                         f"and {tuple(source.shape)}")
    # geometry stays in float32 under bf16 autocast (least squares, pixel coordinates)
    with torch.autocast(device_type=target.device.type, enabled=False):
        return _keypoint_flow(target, source, height, width, min_confidence)


def _keypoint_flow(target: Tensor, source: Tensor, height: int, width: int, min_confidence: float) -> PartFlow:
    dtype = torch.promote_types(target.dtype, torch.float32) if target.is_floating_point() else torch.float32
    target = torch.nan_to_num(target.to(dtype), nan=0.0)
    source = torch.nan_to_num(source.to(dtype), nan=0.0)
    py = torch.arange(height, dtype=dtype, device=target.device)[:, None].expand(height, width)
    px = torch.arange(width, dtype=dtype, device=target.device)[None, :].expand(height, width)
    parts = _parts(target, source, px, py, min_confidence)
    sigma = BLEND_SIGMA_AT_256 * min(height, width) / 256.0
    valid = parts.valid[..., None, None]  # (B, K, 1, 1)
    logits = torch.where(valid, -parts.distance.square() / (2 * sigma * sigma), -torch.inf)
    any_part = parts.valid.any(1)[:, None, None, None]  # (B, 1, 1, 1)
    weights = torch.softmax(torch.where(any_part, logits, 0.0), 1) * any_part  # (B, K, H, W)
    # blend the affine maps per pixel, then apply: q = (sum_k w_k M_k) p + sum_k w_k b_k
    blended = torch.einsum("bkhw,bkij->bijhw", weights, parts.matrix)
    offset = torch.einsum("bkhw,bki->bihw", weights, parts.shift)
    flow_x = (blended[:, 0, 0] - 1.0) * px + blended[:, 0, 1] * py + offset[:, 0]
    flow_y = blended[:, 1, 0] * px + (blended[:, 1, 1] - 1.0) * py + offset[:, 1]
    flow = torch.stack([flow_x, flow_y], 1) * any_part
    # each part keeps the layer up to its own reach; a pixel's support follows its blend weights
    part_support = (1.0 - (parts.distance - parts.reach) / (SUPPORT_FADE * parts.scale)).clamp(0.0, 1.0)
    support = (weights * part_support).sum(1, keepdim=True)
    return PartFlow(flow, support)


# The face: from this share of the way from the neck to the head centre, with this radius (body
# scales); the neck and collar below it stay garment territory.
FACE_START = 0.35
FACE_RADIUS = 0.2
FACE_FADE = 0.05


def face_region(keypoints: Tensor, height: int, width: int,
                min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Tensor:
    """(B, 1, H, W) in [0, 1]: where the face and head of the pose are (1 inside, fading out over
    FACE_FADE body scales); 0 where the neck or every head point is unseen. No garment goes there."""
    with torch.autocast(device_type=keypoints.device.type, enabled=False):
        points = torch.nan_to_num(keypoints.float(), nan=0.0)
        seen = points[..., 2] >= min_confidence
        scale = _body_scale(points, seen)[:, None, None]
        head = list(HEAD_POINTS)
        weight = seen[:, head].float()
        centre = (weight[..., None] * points[:, head, :2]).sum(1) / weight.sum(1, keepdim=True).clamp_min(_EPS)
        neck = points[:, BODY["Neck"], :2]
        py = torch.arange(height, dtype=torch.float32, device=points.device)[:, None].expand(height, width)
        px = torch.arange(width, dtype=torch.float32, device=points.device)[None, :].expand(height, width)
        distance = _segment_distance(px, py, neck + FACE_START * (centre - neck), centre)
        inside = (1.0 - (distance - FACE_RADIUS * scale) / (FACE_FADE * scale)).clamp(0.0, 1.0)
        visible = (seen[:, BODY["Neck"]] & (weight.sum(1) >= 1)).float()[:, None, None]
        return (inside * visible)[:, None]


def sampling_grid(flow: Tensor) -> Tensor:
    """The grid_sample grid (B, H, W, 2) of a backward flow in pixels (align_corners=True)."""
    _, _, height, width = flow.shape
    ys = torch.arange(height, dtype=flow.dtype, device=flow.device)[:, None]
    xs = torch.arange(width, dtype=flow.dtype, device=flow.device)[None, :]
    gx = (xs + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    return torch.stack([gx, gy], -1)


def warp_pixels(image: Tensor, flow: Tensor) -> Tensor:
    """Bilinear backward warp of a full-resolution image (B, C, H, W); zeros outside."""
    return F.grid_sample(image, sampling_grid(flow.to(image.dtype)), mode="bilinear",
                         padding_mode="zeros", align_corners=True)
