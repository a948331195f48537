"""FashionMirror: CMN + SFE + HSG behind one module (paper sec. 3, eq. 1-8).

Conventions every caller (trainer, evaluation, ROS nodes) relies on
- Images: RGB float (B, 3, H, W) in [0, 1]; masks (B, 1, H, W) in [0, 1]; skeleton images p^t
  (B, 3, H, W) in [0, 1]. All on one H x W grid (``config.image_size``, 256 by default).
- M_r ("removed mask"): the clothes region of the *source* human h^s, removed before generation:
  h_m^s = h^s * (1 - M_r). M_c^t ("clothing mask"): where garment C lies on the person in frame t.
- One recurrent step (``generate``) turns h^t into h_g^{t+1} given p^t, p^{t+1}, M_c^{t+1}.
  It masks the source with (1 - M_r) and the previous frame with (1 - previous_removed_mask).
  ``previous_removed_mask`` defaults to M_r, which is exact for the first step, where
  h^0 = h^s (eq. 7) and p^0 is the pose of the source image. For later steps the caller passes
  M_c^t, the clothing mask of the previous frame: the paper masks h^t in every frame during
  training (its footnote 3: the clothes on h^t are the garment C itself), and inference masks
  the same way so the network sees the inputs it was trained on.
- ``generate_sequence`` runs the recurrence over T-1 steps, h^0 = h^s, each output becoming the
  next step's h^t; it returns the T-1 outputs for frames 1..T-1. Clothing masks come from the
  caller (ground truth in training) or from CMN: single-frame mode on h^0 and h^1 for M_c^1 and
  M_c^2 (the paper's "first two frames"), then multi-frame mode on (h^{t-2}, h^{t-1}, h^t) for
  M_c^{t+1}, using the generated frames as h^t.
"""
from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from .cmn import CoAttentionMaskNetwork
from .config import ModelConfig, get_preset
from .hsg import HumanSequenceGenerator
from .sfe import FlowField, SkeletonFlowExtractor


class GenerateOutput(NamedTuple):
    image: Tensor  # h_g^{t+1} (B, 3, H, W) in [0, 1]
    flow_fields: list[FlowField]  # F^t, m^t per attentive layer, coarse to fine


class FashionMirror(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.cmn = CoAttentionMaskNetwork(config.cmn)
        self.sfe = SkeletonFlowExtractor(config.sfe)
        self.hsg = HumanSequenceGenerator(config.hsg, config.sfe.attentive_strides)

    @classmethod
    def from_preset(cls, name: str) -> "FashionMirror":
        return cls(get_preset(name))

    def masks_single(self, human: Tensor, garment: Tensor) -> tuple[Tensor, Tensor]:
        """(M_r, M_c) = CMN(h, C), eq. 1."""
        return self.cmn(human, garment)

    def cloth_mask_multi(self, prev2: Tensor, prev1: Tensor, current: Tensor, garment: Tensor) -> Tensor:
        """M_c^{t+1} = CMN(h^{t-2}, h^{t-1}, h^t, C)."""
        return self.cmn.forward_multi(prev2, prev1, current, garment)

    def generate(self, source: Tensor, removed_mask: Tensor, garment: Tensor, cloth_mask_next: Tensor,
                 previous_frame: Tensor, skeleton_prev: Tensor, skeleton_next: Tensor,
                 previous_removed_mask: Tensor | None = None) -> GenerateOutput:
        """One recurrent step h^t -> h_g^{t+1} (SFE eq. 4, then HSG eq. 8)."""
        if previous_removed_mask is None:
            previous_removed_mask = removed_mask
        source_masked = source * (1.0 - removed_mask)  # h_m^s
        previous_masked = previous_frame * (1.0 - previous_removed_mask)  # h_m^t
        flow_fields = self.sfe(skeleton_prev, skeleton_next)
        image = self.hsg(source_masked, previous_masked, garment, cloth_mask_next, flow_fields)
        return GenerateOutput(image, flow_fields)

    def generate_sequence(self, source: Tensor, garment: Tensor, skeletons: Tensor,
                          removed_mask: Tensor | None = None, cloth_masks: Tensor | None = None,
                          detach_previous: bool = False) -> list[GenerateOutput]:
        """Recurrent generation of frames 1..T-1.

        skeletons (B, T, 3, H, W): p^0 (pose of the source) .. p^{T-1}. cloth_masks
        (B, T, 1, H, W) or None (then CMN predicts them). removed_mask (B, 1, H, W) or None
        (then CMN's single-frame M_r). ``detach_previous`` cuts the gradient through h^t
        (truncated backpropagation, saves memory in training).
        """
        steps = skeletons.shape[1] - 1
        if steps < 1:
            raise ValueError("skeletons must hold at least two frames (p^0 and p^1)")
        if removed_mask is None:
            removed_mask, _ = self.masks_single(source, garment)
        frames = [source]  # h^0 = h^s
        masks: list[Tensor | None] = [None]  # M_c^0 is not needed
        outputs: list[GenerateOutput] = []
        for t in range(steps):
            masks.append(self._cloth_mask(t + 1, cloth_masks, frames, garment))
            previous = frames[t].detach() if detach_previous else frames[t]
            output = self.generate(source, removed_mask, garment, masks[t + 1], previous,
                                   skeletons[:, t], skeletons[:, t + 1],
                                   previous_removed_mask=None if t == 0 else masks[t])
            outputs.append(output)
            frames.append(output.image)
        return outputs

    def _cloth_mask(self, frame: int, cloth_masks: Tensor | None, frames: list[Tensor],
                    garment: Tensor) -> Tensor:
        """M_c^{frame}: given, or CMN single-frame for frames 1-2, multi-frame after."""
        if cloth_masks is not None:
            return cloth_masks[:, frame]
        if frame <= 2:
            return self.masks_single(frames[frame - 1], garment)[1]
        return self.cloth_mask_multi(frames[frame - 3], frames[frame - 2], frames[frame - 1], garment)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
