"""The keypoint prior: h^s moved part by part from its pose to the frame's pose (ours, not the
paper's; DESIGN.md section 2b).

The person layer of the source (h^s times its person mask) is warped at full resolution along the
flow of ``pose.part_flow.keypoint_flow`` and composited over the source's background with the
person removed (filled once per source). It is an answer that needs no model (the evaluation's
``keypoint_warp``) and the start the realtime model refines: the model's pixel path is this
composite with a learned residual added to the flow.
"""
from __future__ import annotations

import torch
from torch import Tensor

from fashionmirror_ros.pose.part_flow import keypoint_flow, warp_pixels


def premultiplied(rgb: Tensor, alpha: Tensor) -> Tensor:
    """A layer (B, 4, H, W): ``rgb`` (B, 3, H, W) times ``alpha`` (B, 1, H, W), then alpha."""
    return torch.cat([rgb * alpha, alpha], 1)


def composite_person(source: Tensor, person_mask: Tensor, background: Tensor, flow: Tensor,
                     support: Tensor) -> tuple[Tensor, Tensor]:
    """Warp the person layer of ``source`` (B, 3, H, W) along a backward ``flow`` (B, 2, H, W),
    keep it where ``support`` (B, 1, H, W) is, lay it over ``background`` (B, 3, H, W);
    ``person_mask`` (B, 1, H, W) in [0, 1]. Returns the image and the warped mask (B, 1, H, W)."""
    return composite_layer(premultiplied(source, person_mask), background, flow, support)


def composite_layer(person_layer: Tensor, background: Tensor, flow: Tensor,
                    support: Tensor) -> tuple[Tensor, Tensor]:
    """``composite_person`` of a ``premultiplied`` person layer (B, 4, H, W), which a stream
    makes once per source."""
    layer = warp_pixels(person_layer, flow) * support
    alpha = layer[:, 3:].clamp(0.0, 1.0)
    # premultiplied colour: where the warped mask is partial, the background shows through
    return layer[:, :3] + (1.0 - alpha) * background, alpha


def keypoint_warp(source: Tensor, person_mask: Tensor, background: Tensor,
                  source_keypoints: Tensor, target_keypoints: Tensor) -> Tensor:
    """h^s in the target pose: (B, 3, H, W) images in [0, 1], keypoints (B, 137, 3) in pixels."""
    height, width = source.shape[-2:]
    flow, support = keypoint_flow(target_keypoints, source_keypoints, height, width)
    image, _ = composite_person(source, person_mask, background, flow.to(source.dtype),
                                support.to(source.dtype))
    return image
