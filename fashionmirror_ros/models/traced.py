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

``trace_render(model, bf16)`` traces the other half, ``FashionMirror.render`` (HSG on h^t along a
motion, with the composition), the same way, under bf16 autocast when ``bf16``: the trace records
the casts autocast made, so it runs with autocast off and holds its precision in itself; it serves
only calls made in that precision (``fits``). Frozen, the bf16 copies of the weights are made once
instead of at every step. Measured in process (one thread, bf16): 14.7 against 20.7 ms a render.
In float32 its images are the eager ones (to 1e-5, tested; 0 on the shipped model); under bf16
they are rounded differently (the weights are cast once, at freezing), as close to float32 as the
eager bf16 images are (tested), 1.4e-4 from them on the shipped model.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from .hsg import PixelInputs, PixelPrior, SourceSide
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


class _FlatRender(nn.Module):
    """``FashionMirror.render``'s HSG call with tensor inputs in a fixed order (``_render_inputs``)
    and (h_g^{t+1}, composition weights) out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.hsg = model.hsg
        self.strides = tuple(model.hsg.attentive_strides)

    def forward(self, frame: Tensor, clothes_mask: Tensor, cloth_mask_next: Tensor, boosts: tuple,
                person: Tensor, person_alpha: Tensor, placed_mask: Tensor, garment_features: tuple,
                flows: tuple, pixels: tuple, placement: Tensor, face: Tensor):
        previous_masked = frame * (1.0 - clothes_mask)  # h_m^t
        # render reads F^t alone of each field (m^t and the source flow went into the source side)
        fields = [FlowField(flow, None, 1.0 / stride) for stride, flow in zip(self.strides, flows)]
        output = self.hsg.generate_from_encodings(
            SourceSide(dict(zip(self.strides, boosts)), person, person_alpha, placed_mask),
            previous_masked, dict(zip(self.strides, garment_features)), cloth_mask_next, fields,
            PixelInputs(*pixels), PixelPrior(None, None, placement, face))
        return output.image, output.composition


def _render_inputs(encoding, state, motion, cloth_mask_next: Tensor) -> tuple:
    strides = sorted(encoding.garment_features, reverse=True)
    side, flows = motion.source_side, {field.stride: field.flow for field in motion.fields}
    return (state.frame, state.clothes_mask, cloth_mask_next, tuple(side.boosts[s] for s in strides),
            side.person, side.person_alpha, side.placed_mask,
            tuple(encoding.garment_features[s] for s in strides), tuple(flows[s] for s in strides),
            tuple(encoding.pixels), motion.pixel_prior.placement, motion.pixel_prior.face)


class TracedRender:
    """The traced render of one model with the composition, for one precision."""

    def __init__(self, model, bf16: bool) -> None:
        from .mirror import SessionInputs

        size = model.config.image_size
        device = next(model.parameters()).device
        self.size, self.device, self.bf16 = size, device, bf16
        image = torch.zeros(1, 3, size, size, device=device)
        mask = torch.zeros(1, 1, size, size, device=device)
        keypoints = torch.zeros(1, 137, 3, device=device)
        blank = SessionInputs(image, mask, image, keypoints, image, mask, image, mask)
        # without autocast's weight cache, the casts are traced as operations (frozen into bf16
        # constants) instead of entering the trace as cached tensors that require grad
        autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16,
                                  cache_enabled=False)
        with torch.no_grad(), autocast, warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            encoding = model.encode_session(blank)
            state = model.first_state(blank)
            motion = model.motion(encoding, keypoints, image, keypoints, image)
            inputs = _render_inputs(encoding, state, motion, mask)
            self._render = torch.jit.freeze(torch.jit.trace(_FlatRender(model).eval(), inputs, check_trace=False))

    def fits(self, frame: Tensor) -> bool:
        """Whether a render of this h^t, in the caller's autocast state, is what the trace is for."""
        autocast = torch.is_autocast_enabled(self.device.type)
        bf16 = autocast and torch.get_autocast_dtype(self.device.type) == torch.bfloat16
        return (frame.shape[0] == 1 and tuple(frame.shape[-2:]) == (self.size, self.size)
                and frame.device == self.device and bf16 == self.bf16 and (bf16 or not autocast))

    def __call__(self, encoding, state, motion, cloth_mask_next: Tensor) -> tuple[Tensor, Tensor]:
        with torch.autocast(device_type=self.device.type, enabled=False):
            return self._render(*_render_inputs(encoding, state, motion, cloth_mask_next))


def trace_render(model, bf16: bool) -> TracedRender:
    """Trace ``model``'s render (eval mode, weights final, the keypoint prior's composition on)
    for calls under bf16 autocast (``bf16``) or in float32, and make ``model.render`` use it."""
    if model.training:
        raise ValueError("trace_render needs a model in eval mode")
    if not model.hsg.composes:
        raise ValueError("trace_render needs a model with the keypoint prior's composition")
    model.traced_render = TracedRender(model, bf16)
    return model.traced_render
