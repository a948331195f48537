"""One training step per stage as an nn.Module whose forward returns the loss terms.

Making the step a module lets DistributedDataParallel wrap it: gradients of every parameter the
step touches are averaged across processes during backward.

Both stages read CMN's inputs the way inference does: h^0 = h^s (the batch's ``source``) and the
real frames h^t after it (teacher forcing), by the model's schedule ``cmn_frames_for``.

Stage "cmn" (paper 4.1, trained first): single-frame CMN on (h^s, C) scored against the source's
clothing mask for M_r and frame 1's for M_c^1, multi-frame CMN scored against M^_c^{t+1} at every
t the sample allows (eq. 2). In a try-on sample (the person in another garment C) M_r and M_c
differ: what to take off h^s and where C will lie.

Stage "end2end": the whole model. CMN predicts M_r and M_c^t, its eq. 2 loss keeps it supervised,
and the generator runs the recurrence h^0 = h^s -> h_g^1 .. h_g^{T-1} with those masks (the
model's ``generate_sequence``, the same step the nodes run); L_tryon (eq. 9-11) scores the
generated frames against the real ones.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from fashionmirror_ros.models.losses import TryOnLoss, cmn_multi_loss, cmn_single_loss
from fashionmirror_ros.models.mirror import FashionMirror, SessionInputs, cmn_frames_for

def _merge(into: dict[str, Tensor], losses: dict[str, Tensor], prefix: str) -> None:
    for key, value in losses.items():
        into[f"{prefix}/{key}"] = value


def cmn_history(batch: dict[str, Tensor]) -> list[Tensor]:
    """[h^0 = h^s, h^1, ..., h^{T-1}]: what CMN reads in training (real frames after h^s)."""
    frames = batch["frames"]
    return [batch["source"]] + [frames[:, t] for t in range(1, frames.shape[1])]


def predicted_masks(model: FashionMirror, batch: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    """M_r and [M_c^1, ..., M_c^{T-1}] from CMN by the model's schedule."""
    history, garment = cmn_history(batch), batch["garment"]
    removed, first = model.masks_single(history[0], garment)
    cloth = [first] + [model.cloth_mask_for(t, history, garment) for t in range(2, len(history))]
    return removed, cloth


def mask_target_frame(frame: int) -> int:
    """Which frame's true clothing mask scores M_c^{frame}: single-frame CMN predicts C's shape
    on the frame it sees (eq. 1), multi-frame CMN the next frame's (sec. 3.1)."""
    seen = cmn_frames_for(frame)
    return seen[0] if len(seen) == 1 else frame


def cmn_losses(model: FashionMirror, batch: dict[str, Tensor]) -> tuple[Tensor, list[Tensor], dict]:
    """(M_r, [M_c^1..], eq. 2 terms: single-frame on (M_r, M_c^1), every later mask averaged)."""
    config = model.config.loss
    targets = batch["cloth_masks"]
    removed, cloth = predicted_masks(model, batch)
    single = cmn_single_loss(removed, cloth[0], batch["source_cloth_mask"], targets[:, 0], config)
    losses: dict[str, Tensor] = {}
    _merge(losses, single, "cmn_single")
    total = single["total"]
    later = range(2, targets.shape[1])
    for frame in later:
        term = cmn_multi_loss(cloth[frame - 1], targets[:, mask_target_frame(frame)], config)
        total = total + term["total"] / len(later)
    if len(later):
        _merge(losses, term, "cmn_later")
    losses["total"] = total
    return removed, cloth, losses


class CMNStep(nn.Module):
    def __init__(self, model: FashionMirror):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return cmn_losses(self.model, batch)[2]


def session_inputs(batch: dict[str, Tensor], removed_mask: Tensor) -> SessionInputs:
    return SessionInputs(batch["source"], removed_mask, batch["garment"], batch["keypoints"][:, 0],
                         batch["skeletons"][:, 0], batch["source_person_mask"], batch["background"],
                         batch["garment_mask"])


def person_masks_from_source(batch: dict[str, Tensor]) -> Tensor:
    """(B, S+1, 1, H, W): h^s's person mask, then the frames'. In a try-on sample the clip's
    own frame 0 is another rendering than h^s; the evaluation's person box joins h^s's mask."""
    return torch.cat([batch["source_person_mask"][:, None], batch["person_masks"][:, 1:]], 1)


class EndToEndStep(nn.Module):
    def __init__(self, model: FashionMirror, vgg_weights: str | None = None):
        super().__init__()
        self.model = model
        self.tryon_loss = TryOnLoss.from_model_config(model.config, vgg_weights)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        frames, true_masks = batch["frames"], batch["cloth_masks"]
        removed, cloth, cmn = cmn_losses(self.model, batch)
        cloth_masks = torch.stack([torch.zeros_like(cloth[0])] + cloth, dim=1)  # M_c^0 is unused
        outputs = self.model.generate_sequence(session_inputs(batch, removed), batch["keypoints"],
                                               batch["skeletons"], cloth_masks=cloth_masks)
        generated = torch.stack([output.image for output in outputs], dim=1)
        composes = outputs[0].composition is not None
        compositions = torch.stack([output.composition for output in outputs], 1) if composes else None
        tryon = self.tryon_loss(generated, frames, true_masks,
                                [output.flow_fields for output in outputs],
                                person_masks=person_masks_from_source(batch), compositions=compositions)
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
