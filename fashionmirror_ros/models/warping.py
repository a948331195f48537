"""Gaussian sampling of feature maps along a flow (GFLA's sampler, written in pure PyTorch).

``gaussian_warp(features, flow, sigma)``: for every output pixel p (integer pixel coordinates of
the feature level), q = p + F(p) with F = flow (channel 0 = x, channel 1 = y, in pixels of this
level). The value at q is a weighted mean over the 4 x 4 neighbourhood around floor(q), offsets
-1, 0, +1, +2 on each axis, indices clamped at the border (border replicate), with separable
weights exp(-d^2 / (2 sigma^2)) where d is the distance from q to the neighbour along the axis,
divided by the weight sum. This is a backward warp: out(p) = features(p + F(p)).

Implementation notes (same code on CPU and CUDA, differentiable in features and flow):
- The weights are separable, so the 4 x 4 window is two pairs of neighbours per axis, (-1, 0)
  and (+1, +2). A weighted pair w_a F_a + w_b F_b is (w_a + w_b) times a linear interpolation
  between the two at fraction w_b / (w_a + w_b); so the window is the sum of four bilinear
  ``grid_sample`` calls (border padding = the index clamping), each scaled by its pair weights.
  The result equals the 16-neighbour gather (tested to 1e-5, gradients to 1e-12 in float64) and
  measured 2.5x faster forward, 2.3x forward + backward here: the gather of 16 copies of the
  map was most of the generator's time.
- Log-weights are shifted by their per-axis maximum before ``exp``, so a tiny sigma (0.01) or a
  large offset never underflows to 0/0; the normalised result is unchanged by the shift.
- NaN in the flow is treated as 0; q is clamped to [-3, size + 2] per axis, which does not
  change any value (beyond that all four neighbours clamp to the same border pixel) and keeps
  the arithmetic finite for huge offsets.
- Coordinates, weights and the sampling run in float32 (float64 for float64 features), also
  under bf16 autocast, where bf16 could not address the pixels of a 64-wide map exactly; the
  output has the features' dtype.
- The gradient w.r.t. the flow comes from the weights; floor(q) is piecewise constant, so the
  sampler jumps slightly when q crosses an integer (the window -1..+2 is not centred), as in GFLA.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

NEIGHBOUR_OFFSETS = (-1.0, 0.0, 1.0, 2.0)  # per axis, around floor(q)
_OUTSIDE_MARGIN = 3.0  # q beyond the map by more than this samples only the border pixel


def _axis_pairs(coordinate: Tensor, size: int, sigma: float) -> list[tuple[Tensor, Tensor]]:
    """Along one axis, for the neighbour pairs (-1, 0) and (+1, +2) of floor(q): where a linear
    interpolation between the pair lands (pixel units) and the pair's total weight."""
    coordinate = coordinate.clamp(-_OUTSIDE_MARGIN, size - 1 + _OUTSIDE_MARGIN)
    offsets = torch.tensor(NEIGHBOUR_OFFSETS, dtype=coordinate.dtype, device=coordinate.device)
    base = torch.floor(coordinate.detach())  # (B, H, W)
    distance = coordinate.unsqueeze(1) - (base.unsqueeze(1) + offsets.view(1, -1, 1, 1))
    log_weight = -distance.square() / (2.0 * sigma * sigma)
    log_weight = log_weight - log_weight.amax(dim=1, keepdim=True).detach()
    weight = torch.exp(log_weight)
    weight = weight / weight.sum(dim=1, keepdim=True)  # (B, 4, H, W)
    pairs = []
    for first, start in ((0, -1.0), (2, 1.0)):
        total = weight[:, first] + weight[:, first + 1]
        pairs.append((base + start + weight[:, first + 1] / total.clamp_min(1e-12), total))
    return pairs


def gaussian_warp(features: Tensor, flow: Tensor, sigma: float) -> Tensor:
    """Sample ``features`` (B, C, H, W) at p + flow(p); flow (B, 2, H, W) -> (B, C, H, W)."""
    if features.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"expected features (B,C,H,W) and flow (B,2,H,W), got "
                         f"{tuple(features.shape)} and {tuple(flow.shape)}")
    if features.shape[0] != flow.shape[0] or features.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"features {tuple(features.shape)} and flow {tuple(flow.shape)} differ "
                         "in batch or spatial size (use resize_flow)")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    height, width = features.shape[-2:]
    # coordinates in at least float32: bf16/fp16 cannot address pixels of a 64-wide map exactly
    compute_dtype = torch.promote_types(features.dtype, torch.float32)
    flow = torch.nan_to_num(flow.to(compute_dtype), nan=0.0)
    grid_y, grid_x = _pixel_grid(height, width, flow)
    x_pairs = _axis_pairs(grid_x + flow[:, 0], width, sigma)
    y_pairs = _axis_pairs(grid_y + flow[:, 1], height, sigma)
    source = features.to(compute_dtype)
    warped = None
    for y, y_weight in y_pairs:
        normal_y = y * (2.0 / max(height - 1, 1)) - 1.0
        for x, x_weight in x_pairs:
            normal_x = x * (2.0 / max(width - 1, 1)) - 1.0
            sampled = F.grid_sample(source, torch.stack([normal_x, normal_y], -1), mode="bilinear",
                                    padding_mode="border", align_corners=True)
            term = sampled * (y_weight * x_weight).unsqueeze(1)
            warped = term if warped is None else warped + term
    return warped.to(features.dtype)


def _pixel_grid(height: int, width: int, like: Tensor) -> tuple[Tensor, Tensor]:
    ys = torch.arange(height, dtype=like.dtype, device=like.device).view(1, height, 1)
    xs = torch.arange(width, dtype=like.dtype, device=like.device).view(1, 1, width)
    return ys.expand(1, height, width), xs.expand(1, height, width)


def resize_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    """Resample a flow (B, 2, h, w) to ``size`` (H, W), scaling the pixel offsets with the level."""
    height, width = flow.shape[-2:]
    if (height, width) == tuple(size):
        return flow
    resized = F.interpolate(flow, size=tuple(size), mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / width, size[0] / height], dtype=flow.dtype, device=flow.device)
    return resized * scale.view(1, 2, 1, 1)


def identity_flow(batch: int, height: int, width: int, like: Tensor) -> Tensor:
    """A zero flow (B, 2, H, W): every pixel samples itself."""
    return torch.zeros(batch, 2, height, width, dtype=like.dtype, device=like.device)
