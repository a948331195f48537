"""The poses-only half of the recurrent step as TorchScript, for hsg_node (ours: an inference
detail, not the paper's).

``FashionMirror.motion`` (SFE, eq. 4, and the keypoint prior's flows) is several hundred small
tensor operations per frame. Run from Python, each one takes the GIL for its dispatch, so
hsg_node's two threads (one preparing frame t+1's motion, one generating frame t) queue for it.
Traced and frozen, the same operations run in TorchScript's interpreter, which holds no GIL
while it runs. Measured in process on two threads (one eval-mode realtime model, one torch thread
each): 23.7 against 29.3 ms a frame; the frames are the same (tested).

``trace_motion(model)`` traces the prior flows (with the prior) and SFE once, for a batch of one
at the model's image size on the model's device, with blank inputs: neither has a branch that
depends on the values (264 keypoint sets of generated clips, joints missing among them, gave
exactly the eager outputs; test/test_models.py checks a few). ``FashionMirror.motion`` uses them for inputs of that shape and the eager modules for any
other. They run in float32 even under bf16 autocast (the eager prior flows do too). The traced
copies hold the weights they were traced with: trace again after loading others.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from .sfe import FlowField, PriorFlows


class _PriorFlowsAt(nn.Module):
    """``FashionMirror.prior_flows`` at a fixed image size, with tensor outputs only."""

    def __init__(self, model: nn.Module, size: int) -> None:
        super().__init__()
        self.model = model
        self.size = size

    def forward(self, source_keypoints: Tensor, keypoints: Tensor, keypoints_next: Tensor):
        prior, source_full = self.model.prior_flows(source_keypoints, keypoints, keypoints_next,
                                                    (self.size, self.size))
        return prior.previous, prior.source, prior.support, source_full


class _FlatSFE(nn.Module):
    """SFE with tensor inputs and a flat tuple of outputs: per attentive layer its flow and mask,
    with the prior also its source flow and residuals."""

    def __init__(self, sfe: nn.Module) -> None:
        super().__init__()
        self.sfe = sfe

    def forward(self, p_t: Tensor, p_next: Tensor, *prior: Tensor):
        fields = self.sfe(p_t, p_next, PriorFlows(*prior) if prior else None)
        return tuple(tensor for field in fields
                     for tensor in (field.flow, field.selection_mask, field.source_flow, field.prior_residual)
                     if tensor is not None)


class TracedMotion:
    """The traced prior flows and SFE of one model, with the eager methods' signatures."""

    def __init__(self, model) -> None:
        size = model.config.image_size
        device = next(model.parameters()).device
        keypoints = torch.zeros(1, 137, 3, device=device)
        skeleton = torch.zeros(1, 3, size, size, device=device)
        self.size = size
        self.device = device
        # the tracer warns of every shape check it turns into a constant: the traces are for one
        # shape, and fits() sends any other to the eager modules
        with torch.no_grad(), torch.autocast(device_type=device.type, enabled=False), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            prior_inputs: tuple[Tensor, ...] = ()
            self._prior = None
            if model.uses_prior:
                self._prior = torch.jit.freeze(torch.jit.trace(
                    _PriorFlowsAt(model, size).eval(), (keypoints, keypoints, keypoints), check_trace=False))
                prior_inputs = tuple(self._prior(keypoints, keypoints, keypoints)[:3])
            flat = _FlatSFE(model.sfe).eval()
            self._sfe = torch.jit.freeze(torch.jit.trace(flat, (skeleton, skeleton, *prior_inputs)))
            fields = model.sfe(skeleton, skeleton, PriorFlows(*prior_inputs) if prior_inputs else None)
        self._scales = [field.scale for field in fields]
        # flow and mask, with the prior also the source flow and the residuals (_FlatSFE's order)
        self._per_field = 4 if prior_inputs else 2

    def fits(self, skeleton_next: Tensor) -> bool:
        """Whether inputs of this shape and device are what the traces were made for."""
        return (skeleton_next.shape[0] == 1 and tuple(skeleton_next.shape[-2:]) == (self.size, self.size)
                and skeleton_next.device == self.device)

    def prior_flows(self, source_keypoints: Tensor, keypoints: Tensor, keypoints_next: Tensor,
                    size: tuple[int, int]) -> tuple[PriorFlows, Tensor]:
        with torch.autocast(device_type=self.device.type, enabled=False):
            previous, source, support, source_full = self._prior(
                source_keypoints.float(), keypoints.float(), keypoints_next.float())
        return PriorFlows(previous, source, support), source_full

    def sfe(self, p_t: Tensor, p_next: Tensor, prior: PriorFlows | None) -> list[FlowField]:
        prior_inputs = tuple(prior) if prior is not None else ()
        with torch.autocast(device_type=self.device.type, enabled=False):
            flat = self._sfe(p_t.float(), p_next.float(), *prior_inputs)
        step = self._per_field
        return [FlowField(flat[i * step], flat[i * step + 1], scale, *flat[i * step + 2:(i + 1) * step])
                for i, scale in enumerate(self._scales)]


def trace_motion(model) -> TracedMotion:
    """Trace ``model``'s poses-only parts (model in eval mode, weights final: after loading,
    folding and any memory-format change) and make ``model.motion`` use them."""
    if model.training:
        raise ValueError("trace_motion needs a model in eval mode")
    model.traced_motion = TracedMotion(model)
    return model.traced_motion
