"""One training step per stage as an nn.Module whose forward returns the loss terms.

Making the step a module lets DistributedDataParallel wrap it: gradients of every parameter the
step touches are averaged across processes during backward.

Stage "cmn" (paper 4.1, trained first): single-frame CMN on (h^s, C) scored against the true
clothing mask for both M_r and M_c (in reconstruction training the garment is the one worn, so
both targets are the source's clothing mask), plus multi-frame CMN on (h^{t-2}, h^{t-1}, h^t, C)
scored against M^_c^{t+1} at every t the sample allows (eq. 2).

Stage "end2end": the whole model. CMN predicts M_r and M_c^t from the real frames (single-frame
for the first two, multi-frame after), its eq. 2 loss keeps it supervised, and the generator
runs the recurrence h^0 = h^s -> h_g^1 .. h_g^{T-1} with those masks; L_tryon (eq. 9-11) scores
the generated frames against the real ones.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from fashionmirror_ros.models.losses import TryOnLoss, cmn_multi_loss, cmn_single_loss
from fashionmirror_ros.models.mirror import FashionMirror

MULTI_FRAME_CONTEXT = 3  # h^{t-2}, h^{t-1}, h^t


def _merge(into: dict[str, Tensor], losses: dict[str, Tensor], prefix: str) -> None:
    for key, value in losses.items():
        into[f"{prefix}/{key}"] = value


class CMNStep(nn.Module):
    def __init__(self, model: FashionMirror):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        frames, masks, garment = batch["frames"], batch["cloth_masks"], batch["garment"]
        config = self.model.config.loss
        removed, cloth = self.model.masks_single(frames[:, 0], garment)
        single = cmn_single_loss(removed, cloth, masks[:, 0], masks[:, 0], config)
        losses: dict[str, Tensor] = {}
        _merge(losses, single, "cmn_single")
        total = single["total"]
        steps = range(MULTI_FRAME_CONTEXT, frames.shape[1])
        for t in steps:
            predicted = self.model.cloth_mask_multi(frames[:, t - 3], frames[:, t - 2], frames[:, t - 1], garment)
            multi = cmn_multi_loss(predicted, masks[:, t], config)
            total = total + multi["total"] / len(steps)
        if len(steps):
            _merge(losses, multi, "cmn_multi")
        losses["total"] = total
        return losses


class EndToEndStep(nn.Module):
    def __init__(self, model: FashionMirror, vgg_weights: str | None = None):
        super().__init__()
        self.model = model
        self.tryon_loss = TryOnLoss.from_model_config(model.config, vgg_weights)

    def predicted_cloth_masks(self, frames: Tensor, garment: Tensor) -> tuple[Tensor, list[Tensor]]:
        """M_r and M_c^0..M_c^{T-1} from CMN on the real frames."""
        removed, cloth0 = self.model.masks_single(frames[:, 0], garment)
        cloth = [cloth0]
        for t in range(1, frames.shape[1]):
            if t < MULTI_FRAME_CONTEXT:
                cloth.append(self.model.masks_single(frames[:, t - 1], garment)[1])
            else:
                cloth.append(self.model.cloth_mask_multi(frames[:, t - 3], frames[:, t - 2],
                                                         frames[:, t - 1], garment))
        return removed, cloth

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        frames, true_masks, garment = batch["frames"], batch["cloth_masks"], batch["garment"]
        config = self.model.config.loss
        removed, cloth = self.predicted_cloth_masks(frames, garment)
        cmn = cmn_single_loss(removed, cloth[0], true_masks[:, 0], true_masks[:, 0], config)
        for t in range(1, len(cloth)):
            cmn["total"] = cmn["total"] + cmn_multi_loss(cloth[t], true_masks[:, t], config)["total"]
        outputs = self.model.generate_sequence(frames[:, 0], garment, batch["skeletons"],
                                               removed_mask=removed,
                                               cloth_masks=torch.stack(cloth, dim=1))
        generated = torch.stack([output.image for output in outputs], dim=1)
        tryon = self.tryon_loss(generated, frames, true_masks,
                                [output.flow_fields for output in outputs])
        losses: dict[str, Tensor] = {}
        _merge(losses, tryon, "tryon")
        losses["cmn/total"] = cmn["total"]
        losses["total"] = tryon["total"] + cmn["total"]
        return losses


STAGES = {"cmn": CMNStep, "end2end": EndToEndStep}


def trainable_parameters(model: FashionMirror, stage: str) -> list[nn.Parameter]:
    """Stage cmn trains the CMN only; end2end trains everything (the VGG stays frozen)."""
    modules = [model.cmn] if stage == "cmn" else [model.cmn, model.sfe, model.hsg]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    parameters = [p for module in modules for p in module.parameters()]
    for parameter in parameters:
        parameter.requires_grad_(True)
    return parameters
