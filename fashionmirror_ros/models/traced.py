"""The recurrent step's two halves as TorchScript, for hsg_node (ours: an inference detail, not
the paper's).

``FashionMirror.motion`` (the keypoint prior's flows, SFE eq. 4, h^s's part of eq. 8) and
``FashionMirror.render`` (HSG on h^t, the composition) are each several hundred small tensor
operations per frame. Run from Python, each one takes the GIL for its dispatch, so hsg_node's two
threads (one preparing frame t+1's motion, one generating frame t) queue for it. Traced and
frozen, the same operations run in TorchScript's interpreter, which holds no GIL while it runs,
and the bf16 copies of the weights are made once instead of at every step.

``trace_motion(model, bf16)`` and ``trace_render(model, bf16)`` trace their half once, for a
batch of one at the model's image size on the model's device, with blank inputs (as warm_up
feeds them), under bf16 autocast when ``bf16``: neither half has a branch that depends on the
values (the keypoint geometry, joints missing included, is where-selects; the tests compare
poses with joints missing). A trace records the casts autocast made, so it runs with autocast
off and holds its precision in itself; it serves only calls made in that precision and shape
(``fits``), the eager code any other. In float32 the traced halves give the eager results (the
motion bit for bit, the images to 1e-5; tested); under bf16 they round differently from eager
autocast (the motion's keypoint geometry stays float32 in both), as close to float32 as eager
bf16 is (tested). The traces hold the weights they were traced with: trace again after loading
others. Measured in one session, one thread, bf16, the shipped model: motion 17.3 against 21.0
ms with only the prior flows and SFE traced (24.4 eager), render 15.8 against 18.8 ms eager."""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from .hsg import PixelInputs, PixelPrior, SourceSide
from .sfe import FlowField


def _without_jit_autocast() -> None:
    """Turn off the JIT's own autocast pass, process-wide. The traces here hold the casts eager
    autocast made while they were recorded and run with autocast off; the pass would still insert
    bf16 casts when a trace is first optimised inside an autocast region (measured: the prior's
    least squares reached ``linalg.solve`` in bf16, which has no CPU kernel). Nothing in this
    package scripts autocast regions, which is what the pass is for."""
    torch._C._jit_set_autocast_mode(False)


def _precision(device: torch.device, bf16: bool):
    """The autocast a trace is made under; without autocast's weight cache, the casts are traced as
    operations (frozen into bf16 constants) instead of entering the trace as cached tensors that
    require grad."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=False)


def _serves(tensor: Tensor, size: int, device: torch.device, bf16: bool) -> bool:
    """Whether a trace made for a batch of one at ``size`` on ``device`` in this precision fits a
    call with ``tensor`` under the caller's autocast state."""
    autocast = torch.is_autocast_enabled(device.type)
    call_bf16 = autocast and torch.get_autocast_dtype(device.type) == torch.bfloat16
    return (tensor.shape[0] == 1 and tuple(tensor.shape[-2:]) == (size, size) and tensor.device == device
            and call_bf16 == bf16 and (bf16 or not autocast))


def _blank_session(model):
    """What warm_up feeds the model (``SessionInputs.blank``), and its image, mask and pose."""
    from .mirror import SessionInputs

    blank = SessionInputs.blank(model.config.image_size, next(model.parameters()).device)
    return blank, blank.source, blank.removed_mask, blank.source_keypoints


def _motion_tensors(motion) -> list[Tensor | None]:
    """A Motion's tensors in a fixed order (None where the model has no such part)."""
    tensors: list[Tensor | None] = []
    for field in motion.fields:
        tensors += [field.flow, field.selection_mask, field.source_flow, field.prior_residual]
    tensors += list(motion.pixel_prior) if motion.pixel_prior is not None else [None] * 4
    side = motion.source_side
    return tensors + [side.boosts[stride] for stride in sorted(side.boosts, reverse=True)] + list(side[1:])


class _FlatMotion(nn.Module):
    """``FashionMirror.motion`` with tensor inputs (the session's parts it reads) and its
    non-None tensors out (``_motion_tensors``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.strides = tuple(sorted(model.hsg.attentive_strides, reverse=True))

    def forward(self, source_keypoints: Tensor, keypoints: Tensor, skeleton: Tensor, keypoints_next: Tensor,
                skeleton_next: Tensor, source_features: tuple, landmarks: Tensor | None = None,
                pixels: tuple | None = None):
        from .mirror import SessionEncoding, SessionInputs

        # motion reads the source's pose, its features, C's landmarks and the pixels: nothing else
        inputs = SessionInputs(None, None, None, source_keypoints, None)
        encoding = SessionEncoding(inputs, dict(zip(self.strides, source_features)), {}, landmarks,
                                   PixelInputs(*pixels) if pixels is not None else None)
        motion = self.model.motion(encoding, keypoints, skeleton, keypoints_next, skeleton_next)
        return tuple(tensor for tensor in _motion_tensors(motion) if tensor is not None)


def _session_parts(encoding) -> tuple:
    strides = sorted(encoding.source_features, reverse=True)
    parts = (tuple(encoding.source_features[stride] for stride in strides),)
    if encoding.garment_landmarks is not None:
        parts += (encoding.garment_landmarks, tuple(encoding.pixels))
    return parts


class TracedMotion:
    """The traced motion of one model, for one precision."""

    def __init__(self, model, bf16: bool) -> None:
        blank, image, _, keypoints = _blank_session(model)
        self.size, self.device, self.bf16 = model.config.image_size, image.device, bf16
        model.traced_motion = None  # the trace records the eager motion
        with torch.no_grad(), _precision(self.device, bf16), warnings.catch_warnings():
            # the tracer warns of every shape check it turns into a constant: the trace is for one
            # shape, and fits() sends any other to the eager modules
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            encoding = model.encode_session(blank)
            example = model.motion(encoding, keypoints, image, keypoints, image)
            arguments = (keypoints, keypoints, image, keypoints, image, *_session_parts(encoding))
            self._motion = torch.jit.freeze(torch.jit.trace(_FlatMotion(model).eval(), arguments,
                                                            check_trace=False))
        self._present = [tensor is not None for tensor in _motion_tensors(example)]
        self._scales = [field.scale for field in example.fields]

    def fits(self, skeleton_next: Tensor) -> bool:
        """Whether a motion to this p^{t+1}, in the caller's autocast state, is what the trace is for."""
        return _serves(skeleton_next, self.size, self.device, self.bf16)

    def __call__(self, encoding, keypoints: Tensor, skeleton: Tensor, keypoints_next: Tensor,
                 skeleton_next: Tensor):
        from .mirror import Motion

        with torch.autocast(device_type=self.device.type, enabled=False):
            flat = iter(self._motion(encoding.inputs.source_keypoints, keypoints, skeleton, keypoints_next,
                                     skeleton_next, *_session_parts(encoding)))
        tensors = [next(flat) if present else None for present in self._present]
        fields = [FlowField(*tensors[4 * i:4 * i + 2], scale, *tensors[4 * i + 2:4 * i + 4])
                  for i, scale in enumerate(self._scales)]
        rest = tensors[4 * len(fields):]
        pixel_prior = PixelPrior(*rest[:4]) if rest[0] is not None else None
        strides = sorted(encoding.source_features, reverse=True)
        side = SourceSide(dict(zip(strides, rest[4:4 + len(strides)])), *rest[4 + len(strides):])
        return Motion(keypoints, keypoints_next, skeleton_next, fields, pixel_prior, side)


def trace_motion(model, bf16: bool = False) -> TracedMotion:
    """Trace ``model``'s motion (eval mode, weights final: after loading, folding and any
    memory-format change) for calls under bf16 autocast (``bf16``) or in float32, and make
    ``model.motion`` use it."""
    if model.training:
        raise ValueError("trace_motion needs a model in eval mode")
    _without_jit_autocast()
    model.traced_motion = TracedMotion(model, bf16)
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
        blank, image, mask, keypoints = _blank_session(model)
        self.size, self.device, self.bf16 = model.config.image_size, image.device, bf16
        with torch.no_grad(), _precision(self.device, bf16), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            encoding = model.encode_session(blank)
            state = model.first_state(blank)
            motion = model.motion(encoding, keypoints, image, keypoints, image)
            inputs = _render_inputs(encoding, state, motion, mask)
            self._render = torch.jit.freeze(torch.jit.trace(_FlatRender(model).eval(), inputs, check_trace=False))

    def fits(self, frame: Tensor) -> bool:
        """Whether a render of this h^t, in the caller's autocast state, is what the trace is for."""
        return _serves(frame, self.size, self.device, self.bf16)

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
    _without_jit_autocast()
    model.traced_render = TracedRender(model, bf16)
    return model.traced_render
