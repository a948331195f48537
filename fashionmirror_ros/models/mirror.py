"""FashionMirror: CMN + SFE + HSG behind one module (paper sec. 3, eq. 1-8).

Conventions every caller (trainer, evaluation, ROS nodes) relies on
- Images: RGB float (B, 3, H, W) in [0, 1]; masks (B, 1, H, W) in [0, 1]; skeleton images p^t
  (B, 3, H, W) in [0, 1]; keypoints (B, 137, 3) in pixels of the H x W grid (OpenPose layout).
  All on one H x W grid (``config.image_size``, 256 by default).
- M_r ("removed mask"): the clothes region of the *source* human h^s, removed before generation:
  h_m^s = h^s * (1 - M_r). M_c^t ("clothing mask"): where garment C lies on the person in frame t.

The one home of the recurrence, used by training, ``fashionmirror eval`` and hsg_node alike:
- ``encode_session(SessionInputs)`` once per (h^s, M_r, C): the cached encodings.
- ``first_state(inputs)``: h^0 = h^s masked by M_r, p^0 = the pose of h^s (eq. 7).
- ``step(encoding, state, keypoints, skeleton, M_c^{t+1})``: SFE (eq. 4) then HSG (eq. 8),
  h^t -> h_g^{t+1}; the new state masks h_g^{t+1} with M_c^{t+1}. It is ``motion`` (what the
  poses alone decide: SFE and the keypoint geometry) then ``render`` (HSG on h^t); a stream may
  compute the next frame's motion while the current frame renders. The paper masks h^t in every
  frame during training (its footnote 3: the clothes on h^t are the garment C itself), and
  inference masks the same way so the network sees the inputs it was trained on.
- ``cmn_frames_for(t + 1)``: which frames CMN reads for M_c^{t+1} (the single/multi-frame
  schedule, used by ``generate_sequence``, the trainer and cmn_node's session).
- ``generate_sequence`` runs the recurrence over T-1 steps and returns the outputs for frames
  1..T-1. Clothing masks come from the caller (ground truth, or CMN on real frames in training)
  or from CMN on the generated frames.
With ``config.prior.enabled`` the step also computes the keypoint prior flows (pose/part_flow)
and the keypoint placement of C (placement.py); see sfe.py and hsg.py for what they change.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from fashionmirror_ros.pose.layout import NUM_KEYPOINTS
from fashionmirror_ros.pose.part_flow import face_region, keypoint_flow

from .cmn import CoAttentionMaskNetwork
from .config import ModelConfig, get_preset
from .hsg import HSGOutput, HumanSequenceGenerator, PixelInputs, PixelPrior, SourceSide
from .garment_match import same_garment
from .placement import garment_footprint, garment_landmarks, keypoint_placement
from .prior import premultiplied
from .sfe import FlowField, PriorFlows, SkeletonFlowExtractor
from .warping import resize_flow

SINGLE_FRAME_STEPS = 2  # the paper's "first two frames" use single-frame CMN


def cmn_frames_for(frame: int) -> tuple[int, ...]:
    """Indices of the frames h^k (h^0 = h^s) CMN reads to predict M_c^{frame}, frame >= 1:
    single-frame mode on h^{frame-1} for frames 1 and 2, then multi-frame mode on
    (h^{frame-3}, h^{frame-2}, h^{frame-1}) (paper sec. 3.1)."""
    if frame < 1:
        raise ValueError(f"M_c^{frame}: frames are numbered from 1 (h^0 is the source)")
    if frame <= SINGLE_FRAME_STEPS:
        return (frame - 1,)
    return (frame - 3, frame - 2, frame - 1)


class SessionInputs(NamedTuple):
    """What stays fixed while a person tries a garment on."""

    source: Tensor  # h^s (B, 3, H, W)
    removed_mask: Tensor  # M_r (B, 1, H, W)
    garment: Tensor  # C (B, 3, H, W)
    source_keypoints: Tensor  # pose of h^s (B, 137, 3)
    source_skeleton: Tensor  # p^0 (B, 3, H, W)
    person_mask: Tensor | None = None  # of h^s (B, 1, H, W); the prior needs it
    background: Tensor | None = None  # h^s with the person removed and filled; the prior needs it
    garment_mask: Tensor | None = None  # of C (B, 1, H, W); the prior needs it

    @classmethod
    def blank(cls, size: int, device: torch.device | str = "cpu",
              memory_format: torch.memory_format = torch.contiguous_format) -> "SessionInputs":
        """A session of one blank (zero) image, mask and pose at ``size``: what the networks are
        warmed up and traced with (their cost and their operations do not depend on the values)."""
        image = torch.zeros(1, 3, size, size, device=device).contiguous(memory_format=memory_format)
        mask = torch.zeros(1, 1, size, size, device=device)
        keypoints = torch.zeros(1, NUM_KEYPOINTS, 3, device=device)
        return cls(image, mask, image, keypoints, image, mask, image, mask)


class SessionEncoding(NamedTuple):
    inputs: SessionInputs
    source_features: dict  # (e_m^s)_i by stride
    garment_features: dict  # (e_c)_i by stride
    garment_landmarks: Tensor | None  # C's collar and shoulder band (placement.py)
    pixels: PixelInputs | None = None  # the composition's full-resolution inputs, with the prior


class FrameState(NamedTuple):
    """h^t and p^t, what the next step starts from."""

    frame: Tensor  # h^t (B, 3, H, W)
    clothes_mask: Tensor  # what h^t is masked with: M_r for h^0 = h^s, M_c^t after
    keypoints: Tensor  # (B, 137, 3)
    skeleton: Tensor  # p^t (B, 3, H, W)


class Motion(NamedTuple):
    """What a step takes from the poses alone (``FashionMirror.motion``)."""

    start_keypoints: Tensor  # p^t's keypoints (B, 137, 3): the state this motion starts from
    keypoints: Tensor  # p^{t+1}'s keypoints (B, 137, 3)
    skeleton: Tensor  # p^{t+1} (B, 3, H, W)
    fields: list[FlowField]  # F^t, m^t per attentive layer, coarse to fine (SFE eq. 4)
    pixel_prior: PixelPrior | None  # with the prior: the full-resolution geometry of the composition
    source_side: SourceSide  # h^s's part of eq. 8 and of the composition along these flows

    def starts_from(self, state: FrameState) -> bool:
        """Whether this motion was computed from ``state``'s pose (the same keypoints tensor)."""
        return self.start_keypoints is state.keypoints


class GenerateOutput(NamedTuple):
    image: Tensor  # h_g^{t+1} (B, 3, H, W) in [0, 1]
    flow_fields: list[FlowField]  # F^t, m^t per attentive layer, coarse to fine
    composition: Tensor | None = None  # (B, 3, H, W) weights of warped h^s, placed C, decoder


class FashionMirror(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        with_prior = config.prior.enabled
        self.cmn = CoAttentionMaskNetwork(config.cmn)
        self.sfe = SkeletonFlowExtractor(config.sfe, with_prior=with_prior)
        self.hsg = HumanSequenceGenerator(config.hsg, config.sfe.attentive_strides, config.prior)
        # TorchScript of motion for one input shape and precision (models/traced.py), set by
        # trace_motion for hsg_node; None: motion runs the eager modules
        self.traced_motion = None
        # TorchScript of render for one input shape and precision (trace_render); None: eager
        self.traced_render = None

    @classmethod
    def from_preset(cls, name: str) -> "FashionMirror":
        return cls(get_preset(name))

    @property
    def uses_prior(self) -> bool:
        return self.config.prior.enabled

    # -- CMN -------------------------------------------------------------------------------
    def masks_single(self, human: Tensor, garment: Tensor) -> tuple[Tensor, Tensor]:
        """(M_r, M_c) = CMN(h, C), eq. 1."""
        return self.cmn(human, garment)

    def cloth_mask_multi(self, prev2: Tensor, prev1: Tensor, current: Tensor, garment: Tensor) -> Tensor:
        """M_c^{t+1} = CMN(h^{t-2}, h^{t-1}, h^t, C)."""
        return self.cmn.forward_multi(prev2, prev1, current, garment)

    def cloth_mask_for(self, frame: int, frames: list[Tensor], garment: Tensor) -> Tensor:
        """M_c^{frame} from ``frames`` = [h^0, h^1, ...] by the schedule of ``cmn_frames_for``."""
        inputs = [frames[k] for k in cmn_frames_for(frame)]
        if len(inputs) == 1:
            return self.masks_single(inputs[0], garment)[1]
        return self.cloth_mask_multi(*inputs, garment)

    # -- the recurrence --------------------------------------------------------------------
    def encode_session(self, inputs: SessionInputs, replace_worn_garment: bool = False) -> SessionEncoding:
        """The cached encodings of a session. With the prior, M_r first becomes what the
        generator removes (``removed_for_generation``)."""
        if self.uses_prior and (inputs.person_mask is None or inputs.background is None
                                or inputs.garment_mask is None):
            raise ValueError("the keypoint prior needs the source's person mask and background "
                             "and the garment's mask")
        if self.uses_prior:
            inputs = inputs._replace(removed_mask=self.removed_for_generation(inputs, replace_worn_garment))
        source_masked = inputs.source * (1.0 - inputs.removed_mask)  # h_m^s
        landmarks = pixels = None
        if self.uses_prior:
            landmarks = garment_landmarks(inputs.garment_mask)
            person_alpha = inputs.person_mask * (1.0 - inputs.removed_mask)
            pixels = PixelInputs(premultiplied(inputs.source, person_alpha), inputs.background,
                                 premultiplied(inputs.garment, inputs.garment_mask))
        return SessionEncoding(inputs, self.hsg.encode_source(source_masked),
                               self.hsg.encode_garment(inputs.garment), landmarks, pixels)

    def removed_for_generation(self, inputs: SessionInputs, replace_worn_garment: bool) -> Tensor:
        """M_r as the realtime generator uses it (ours). CMN's M_r marks the clothes h^s wears;
        when C is that garment (``same_garment``) they are kept: h^s's pixels are their best
        picture. ``replace_worn_garment`` (a kiosk, whose catalogue never holds the garment worn)
        removes instead, also what C covers on the person when placed on h^s: the realtime CMN
        learned on generated people and misses clothes on real photos."""
        removed = inputs.removed_mask * self._kept_face(inputs)
        if replace_worn_garment:
            covered = garment_footprint(inputs.garment_mask, inputs.source_keypoints,
                                        self.config.image_size, self.config.prior.min_confidence)
            return torch.maximum(removed, covered * inputs.person_mask)
        same = same_garment(inputs.source, removed, inputs.garment, inputs.garment_mask)
        return removed * (1.0 - same.view(-1, 1, 1, 1))

    def _kept_face(self, inputs: SessionInputs) -> Tensor | float:
        """1 - h^s's face region (``face_from_source``): M_r never takes the face off h^s. On a
        real photo CMN's M_r marked the eyes and mouth, and the warped h^s showed the filled
        background there."""
        if not self.config.prior.face_from_source:
            return 1.0
        height, width = inputs.removed_mask.shape[-2:]
        face = face_region(inputs.source_keypoints, height, width, self.config.prior.min_confidence)
        return 1.0 - face.to(inputs.removed_mask.dtype)

    @staticmethod
    def first_state(inputs: SessionInputs) -> FrameState:
        """h^0 = h^s (masked with M_r), p^0 = the pose of h^s."""
        return FrameState(inputs.source, inputs.removed_mask, inputs.source_keypoints,
                          inputs.source_skeleton)

    def step(self, encoding: SessionEncoding, state: FrameState, keypoints_next: Tensor,
             skeleton_next: Tensor, cloth_mask_next: Tensor) -> tuple[GenerateOutput, FrameState]:
        """One recurrent step h^t -> h_g^{t+1} (SFE eq. 4, then HSG eq. 8)."""
        motion = self.motion(encoding, state.keypoints, state.skeleton, keypoints_next, skeleton_next)
        return self.render(encoding, state, motion, cloth_mask_next)

    def motion(self, encoding: SessionEncoding, keypoints: Tensor, skeleton: Tensor,
               keypoints_next: Tensor, skeleton_next: Tensor) -> Motion:
        """The part of a step that reads the poses alone: SFE (eq. 4) on p^t -> p^{t+1}, with the
        prior the keypoint geometry, and h^s's part of HSG along the flows. It does not need h^t,
        so a stream can compute frame t+1's motion while frame t is still being generated
        (hsg_node does). Runs traced where ``traced_motion`` fits."""
        traced = self.traced_motion
        if traced is not None and not self.training and traced.fits(skeleton_next):
            return traced(encoding, keypoints, skeleton, keypoints_next, skeleton_next)
        prior = pixel_prior = None
        if self.uses_prior:
            prior, source_flow_full = self.prior_flows(encoding.inputs.source_keypoints, keypoints,
                                                       keypoints_next, tuple(skeleton_next.shape[-2:]))
        fields = self.sfe(skeleton, skeleton_next, prior)
        if self.uses_prior:
            confidence = self.config.prior.min_confidence
            pixel_prior = PixelPrior(
                self._pixel_source_flow(source_flow_full, prior, fields[-1]), prior.support,
                keypoint_placement(encoding.garment_landmarks, keypoints_next,
                                   self.config.image_size, confidence),
                face_region(keypoints_next, *skeleton_next.shape[-2:], confidence).to(skeleton_next.dtype))
        source_side = self.hsg.source_side(encoding.source_features, fields, encoding.pixels, pixel_prior)
        return Motion(keypoints, keypoints_next, skeleton_next, fields, pixel_prior, source_side)

    def render(self, encoding: SessionEncoding, state: FrameState, motion: Motion,
               cloth_mask_next: Tensor) -> tuple[GenerateOutput, FrameState]:
        """The rest of the step: HSG (eq. 8) on h^t along ``motion``, which must start from
        ``state``'s pose (``motion.starts_from``). Runs traced where ``traced_render`` fits."""
        if not motion.starts_from(state):
            raise ValueError("this motion was computed from another pose than the state's p^t "
                             "(compute it again with FashionMirror.motion)")
        traced = self.traced_render
        if traced is not None and not self.training and traced.fits(state.frame):
            generated = HSGOutput(*traced(encoding, state, motion, cloth_mask_next))
        else:
            previous_masked = state.frame * (1.0 - state.clothes_mask)  # h_m^t
            generated = self.hsg.generate_from_encodings(
                motion.source_side, previous_masked, encoding.garment_features, cloth_mask_next,
                motion.fields, encoding.pixels, motion.pixel_prior)
        output = GenerateOutput(generated.image, motion.fields, generated.composition)
        return output, FrameState(generated.image, cloth_mask_next, motion.keypoints, motion.skeleton)

    def prior_flows(self, source_keypoints: Tensor, keypoints: Tensor, keypoints_next: Tensor,
                    size: tuple[int, int]) -> tuple[PriorFlows, Tensor]:
        """The prior flows p^{t+1} -> p^t and p^{t+1} -> p^0 on the image grid (stilled away
        from the body, for features), and the unstilled p^{t+1} -> p^0 (for h^s's pixels).
        Both are computed in one batched call on a grid ``flow_stride`` times coarser."""
        stride = self.config.prior.flow_stride
        coarse = (size[0] // stride, size[1] // stride)

        def on_coarse_grid(points: Tensor) -> Tensor:  # pixel centres of the coarser grid
            return torch.cat([(points[..., :2] + 0.5) / stride - 0.5, points[..., 2:]], -1)

        batch = keypoints_next.shape[0]
        target = on_coarse_grid(keypoints_next).repeat(2, 1, 1)
        sources = on_coarse_grid(torch.cat([keypoints, source_keypoints]))
        flows = keypoint_flow(target, sources, *coarse, min_confidence=self.config.prior.min_confidence)
        dtype = keypoints_next.dtype
        flow = resize_flow(flows.flow.to(dtype), size)  # (2B, 2, H, W)
        support = nn.functional.interpolate(flows.support.to(dtype), size=size, mode="bilinear",
                                            align_corners=False)
        stilled = flow * support
        source_full = flow[batch:]
        return PriorFlows(stilled[:batch], stilled[batch:], support[batch:]), source_full

    @staticmethod
    def _pixel_source_flow(source_full: Tensor, prior: PriorFlows, finest: FlowField) -> Tensor:
        """Full-resolution p^{t+1} -> p^0: the unstilled prior plus SFE's finest residual."""
        size = tuple(finest.source_flow.shape[-2:])
        residual = finest.source_flow - resize_flow(prior.source, size)
        return source_full + resize_flow(residual, tuple(source_full.shape[-2:]))

    def generate_sequence(self, inputs: SessionInputs, keypoints: Tensor, skeletons: Tensor,
                          cloth_masks: Tensor | None = None,
                          detach_previous: bool = False) -> list[GenerateOutput]:
        """Recurrent generation of frames 1..T-1.

        keypoints (B, T, 137, 3) and skeletons (B, T, 3, H, W): index 0 is the pose of h^s
        (p^0), index t the pose of frame t. cloth_masks (B, T, 1, H, W) or None (then CMN
        predicts M_c^t from the generated frames by ``cmn_frames_for``). ``detach_previous``
        cuts the gradient through h^t (truncated backpropagation, saves memory in training).
        """
        steps = skeletons.shape[1] - 1
        if steps < 1:
            raise ValueError("skeletons must hold at least two frames (p^0 and p^1)")
        encoding = self.encode_session(inputs)
        state = self.first_state(inputs)
        frames = [inputs.source]  # h^0 = h^s
        outputs: list[GenerateOutput] = []
        for t in range(steps):
            cloth_mask = (cloth_masks[:, t + 1] if cloth_masks is not None
                          else self.cloth_mask_for(t + 1, frames, inputs.garment))
            if detach_previous:
                state = state._replace(frame=state.frame.detach())
            output, state = self.step(encoding, state, keypoints[:, t + 1], skeletons[:, t + 1], cloth_mask)
            outputs.append(output)
            frames.append(output.image)
        return outputs


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
