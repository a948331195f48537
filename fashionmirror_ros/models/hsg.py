"""Human Sequence Generation, HSG (paper eq. 7-8).

Inputs (all (B, C, H, W) float in [0, 1] on the same H x W grid):
- h_m^s = h^s * (1 - M_r): the source human with its clothes removed (masking is done by the
  caller, ``FashionMirror.generate``);
- h_m^t: the previous frame h^t, masked by the caller (with M_r for h^0 = h^s, with M_c^t
  after; see ``mirror``);
- C: the garment image; M_c^{t+1}: the try-on clothing mask of the next frame (B, 1, H, W);
- the SFE flow fields (F^t_i, m^t_i), coarse to fine.

At each attentive layer i (eq. 8):

    (e_g^{t+1})_i = GaussianWarp((e_m^t)_i, (F^t)_i)
                    + lambda_hs * (e_m^s)_i * (m^t)_i
                    + lambda_ci * STN((e_c)_i) * (e_{M_c^{t+1}})_i

and a decoder refines the e_g^{t+1} into h_g^{t+1} (B, 3, H, W) in [0, 1] (sigmoid).

Open choices
- One human encoder (shared weights) for h_m^s and h_m^t, so that warped previous-frame features
  and source features live in the same space before they are added; separate encoders for C
  (3 channels) and M_c^{t+1} (1 channel). Each is a chain of stride-2 conv layers; the features
  at the attentive strides (default 1/8 and 1/4) are used; widths of the garment and mask
  encoders are equal so STN(e_c) * e_Mc is elementwise.
- STN: one affine transform per sample, predicted from [e_c, e_Mc] at the coarsest attentive
  level (stride-2 conv, global average, linear layer initialised to the identity transform) and
  applied to e_c at every attentive level (bilinear ``grid_sample``, zeros outside,
  align_corners=False, so one theta means the same placement at every resolution).
- lambda_ci per layer comes from the config, coarse to fine, growing toward finer layers.
- Decoder: starting from e_g at the coarsest attentive stride, each finer level upsamples,
  concatenates the e_g of that level when it is attentive, fuses with a 1x1 conv and refines
  with ``refine_convs`` 3x3 convs; the last level (stride 2) predicts 3 x 4 channels that a
  pixel shuffle turns into the full-resolution image (no full-resolution conv, for CPU speed).
- Pose enters HSG through F^t, m^t and M_c^{t+1} only, as eq. 8 states.
- Streaming: ``encode_source`` and ``encode_garment`` can be cached (the source and garment do not
  change between frames); per frame, ``source_side`` takes what h^s contributes once the flows
  are known (it does not need h^t), ``generate_from_encodings`` the rest.

With the keypoint prior (ours, ``PriorConfig``; the ``paper`` preset keeps the literal eq. 8):
- F^t is the prior flow p^{t+1} -> p^t plus SFE's residual (see ``sfe``).
- ``warped_source_boost``: the source term becomes lambda_hs * GaussianWarp(e_m^s, F^s) * m^t
  with F^s the prior flow p^{t+1} -> p^0 plus SFE's residual: h^s's features are moved to the
  frame's pose before they are added, instead of being added where h^s stood.
- ``garment_placement``: theta = the keypoint placement of C (``placement``) + the STN's
  correction (the STN's output minus the identity it starts from), each entry bounded by
  ``stn_correction_limit`` (tanh) when set: a correction, not a second placement.
- ``composition``: M_c^{t+1} falls back to the keypoint placement of C's mask where CMN missed
  the person, and is kept off the face (``cloth_mask_with_placement``); then three
  full-resolution candidates, the person layer of h^s (clothes removed
  by M_r) pixel-warped along F^s and laid over h^s's background, C placed by theta, and the
  decoder's image, are blended by a softmax over three logits the decoder predicts. The decoder
  also sees the two pixel candidates (at stride 2), so it knows what they hold. The logits start
  biased to C where it is placed inside M_c^{t+1} and h^s has nothing left there (M_r removed
  it), and to the warped h^s everywhere else, so identity and texture are copied where they
  exist and the decoder paints only where they do not.
- ``face_from_source``: in the face region (from the keypoints) the composition takes the warped
  h^s alone: a face is never painted or covered.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import HSGConfig, PriorConfig
from .layers import ConvNormAct, StridedEncoder, UpsampleFuse, depth_to_space, half_size
from .sfe import FlowField
from .warping import gaussian_warp, resize_flow
from .placement import affine_warp
from .prior import composite_layer

PIXEL_SHUFFLE_FACTOR = 2  # the decoder's last level is at stride 2
COMPOSITION_SOURCES = 3  # warped h^s, placed C, the decoder's painting
# CMN's M_c is trusted fully when it covers this share of the placed C, not at all below
# CMN_TRUST_FROM (``cloth_mask_with_placement``)
CMN_TRUST_FROM = 0.2
CMN_TRUST_AT = 0.45


class GarmentSTN(nn.Module):
    """Predicts one affine theta (B, 2, 3) from [e_c, e_Mc] and warps garment features with it."""

    def __init__(self, channels: int, hidden: int, slope: float, correction_limit: float = 0.0) -> None:
        super().__init__()
        self.correction_limit = correction_limit
        self.localization = nn.Sequential(
            ConvNormAct(2 * channels, hidden, "none", slope, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.theta = nn.Linear(hidden, 6)
        self.restart_theta()

    IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

    @torch.no_grad()
    def restart_theta(self) -> None:
        """The start: theta is the identity whatever the input (with the keypoint placement, no
        correction to it)."""
        self.theta.weight.zero_()
        self.theta.bias.copy_(torch.tensor(self.IDENTITY))

    def predict(self, garment_feature: Tensor, mask_feature: Tensor) -> Tensor:
        hidden = self.localization(torch.cat([garment_feature, mask_feature], dim=1))
        return self.theta(hidden).view(-1, 2, 3)

    def correct(self, placement: Tensor, garment_feature: Tensor, mask_feature: Tensor) -> Tensor:
        """theta = ``placement`` (B, 2, 3) + the learned correction (zero at initialisation),
        each entry within +-``correction_limit`` when that is set."""
        identity = torch.tensor(self.IDENTITY, dtype=placement.dtype, device=placement.device)
        correction = self.predict(garment_feature, mask_feature) - identity.view(1, 2, 3)
        if self.correction_limit > 0.0:
            correction = self.correction_limit * torch.tanh(correction / self.correction_limit)
        return placement + correction

    @staticmethod
    def warp(feature: Tensor, theta: Tensor) -> Tensor:
        """STN(feature): ``feature`` sampled through ``theta`` (a float32 result, ``affine_warp``)."""
        return affine_warp(feature, theta)


class DecoderLevel(nn.Module):
    """[upsample(x), e_g of this level if attentive] -> 1x1 fuse -> refine_convs x 3x3."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, config: HSGConfig) -> None:
        super().__init__()
        self.fuse = UpsampleFuse(in_channels, skip_channels, out_channels, config.leaky_slope)
        self.refine = nn.Sequential(*[
            ConvNormAct(out_channels, out_channels, config.norm, config.leaky_slope)
            for _ in range(config.refine_convs)
        ])

    def forward(self, x: Tensor, size: tuple[int, int], fused: Tensor | None,
                guidance: Tensor | None = None) -> Tensor:
        x = self.fuse(x, size, fused)
        return self.refine(x if guidance is None else x + guidance)


class PixelInputs(NamedTuple):
    """Full-resolution inputs of the composition (fixed for a source and garment, so made once:
    ``FashionMirror.encode_session``); the layers are premultiplied (``prior.premultiplied``)."""

    person_layer: Tensor  # (B, 4, H, W) h^s times its alpha (person mask * (1 - M_r)), the alpha
    background: Tensor  # (B, 3, H, W) h^s with the person removed and filled
    garment_layer: Tensor  # (B, 4, H, W) C times its mask, the mask

    @property
    def garment_mask(self) -> Tensor:
        return self.garment_layer[:, 3:]


class PixelPrior(NamedTuple):
    """Per-frame full-resolution geometry of the composition."""

    source_flow: Tensor  # (B, 2, H, W) p^{t+1} -> p^0 in pixels, prior + SFE residual
    support: Tensor  # (B, 1, H, W) where the warped person layer is kept
    placement: Tensor  # (B, 2, 3) the keypoint placement of C (affine_grid theta)
    face: Tensor  # (B, 1, H, W) where the face is (pose/part_flow.face_region): never a garment


class SourceSide(NamedTuple):
    """What a step takes from h^s once its flows are known and before h^t is (ours: so hsg_node
    can compute it on its motion thread, ``FashionMirror.motion``): eq. 8's second term at each
    attentive stride and, with the composition, the pixel-warped h^s and C's mask at the
    keypoint placement."""

    boosts: dict[int, Tensor]  # lambda_hs e_m^s m^t by stride (e_m^s warped along F^s with the prior)
    person: Tensor | None = None  # (B, 3, H, W) h^s's person layer warped over its background
    person_alpha: Tensor | None = None  # (B, 1, H, W)
    placed_mask: Tensor | None = None  # (B, 1, H, W) C's mask where the keypoint placement puts it


class HSGOutput(NamedTuple):
    image: Tensor  # h_g^{t+1} (B, 3, H, W) in [0, 1]
    composition: Tensor | None  # (B, 3, H, W) weights of warped h^s, placed C, decoder


class HumanSequenceGenerator(nn.Module):
    """HSG. ``forward(source_masked, previous_masked, garment, cloth_mask_next, flow_fields)``
    -> h_g^{t+1} (B, 3, H, W) in [0, 1]."""

    def __init__(self, config: HSGConfig, attentive_strides: Sequence[int],
                 prior: PriorConfig | None = None) -> None:
        super().__init__()
        self.config = config
        self.prior = prior if prior is not None and prior.enabled else None
        self.attentive_strides = tuple(attentive_strides)
        if len(config.lambda_ci) != len(self.attentive_strides):
            raise ValueError("hsg.lambda_ci needs one value per attentive layer")
        widths = config.encoder_widths
        slope = config.leaky_slope
        self.human_encoder = StridedEncoder(3, widths, config.norm, slope)
        self.garment_encoder = StridedEncoder(3, widths, config.norm, slope)
        self.mask_encoder = StridedEncoder(1, widths, config.norm, slope)
        self.stn = GarmentSTN(config.width_at(max(self.attentive_strides)), config.stn_hidden, slope,
                              self.prior.stn_correction_limit if self.prior is not None else 0.0)
        self.bottom = nn.Sequential(*[
            ConvNormAct(widths[-1], widths[-1], config.norm, slope) for _ in range(config.refine_convs)
        ])
        self.levels = nn.ModuleList()
        for index in range(len(widths) - 2, -1, -1):  # strides max/2 .. 2
            stride = 2 ** (index + 1)
            skip_channels = widths[index] if stride in self.attentive_strides else 0
            self.levels.append(DecoderLevel(widths[index + 1], skip_channels, widths[index], config))
        self.composes = self.prior is not None and self.prior.composition
        # the image, and with the composition its three logits too, from one conv + pixel shuffle
        outputs = 3 + (COMPOSITION_SOURCES if self.composes else 0)
        self.to_rgb = nn.Conv2d(widths[0], outputs * PIXEL_SHUFFLE_FACTOR ** 2, 3, padding=1)
        if self.composes:
            # warped h^s (3) + its alpha (1) + placed C (3) + its alpha (1) + M_c^{t+1} (1),
            # added into the last decoder level before its refining conv
            self.guidance = nn.Conv2d(9, widths[0], 3, padding=1)
            self.restart_composition_logits()
            self.composition_bias = nn.Parameter(torch.tensor(float(self.prior.composition_bias)))

    @torch.no_grad()
    def restart_composition_logits(self) -> None:
        """The start: the three composition logits at zero, so the start rule weighed by
        composition_bias alone decides the blend (``compose``)."""
        outputs = 3 + COMPOSITION_SOURCES
        self.to_rgb.weight.view(outputs, -1, *self.to_rgb.weight.shape[1:])[3:].zero_()
        self.to_rgb.bias.view(outputs, -1)[3:].zero_()

    # -- encoders (cacheable) -------------------------------------------------------------
    def _at_strides(self, features: list[Tensor]) -> dict[int, Tensor]:
        return {stride: features[stride.bit_length() - 2] for stride in self.attentive_strides}

    def encode_source(self, source_masked: Tensor) -> dict[int, Tensor]:
        """(e_m^s)_i by stride."""
        return self._at_strides(self.human_encoder(source_masked))

    def encode_garment(self, garment: Tensor) -> dict[int, Tensor]:
        """(e_c)_i by stride."""
        return self._at_strides(self.garment_encoder(garment))

    # -- generation ----------------------------------------------------------------------
    def forward(self, source_masked: Tensor, previous_masked: Tensor, garment: Tensor,
                cloth_mask_next: Tensor, flow_fields: Sequence[FlowField]) -> Tensor:
        """The literal model's step (no prior): h_g^{t+1}."""
        source_side = self.source_side(self.encode_source(source_masked), flow_fields)
        return self.generate_from_encodings(source_side, previous_masked, self.encode_garment(garment),
                                            cloth_mask_next, flow_fields).image

    def source_side(self, source_features: dict[int, Tensor], flow_fields: Sequence[FlowField],
                    pixels: PixelInputs | None = None, pixel_prior: PixelPrior | None = None) -> SourceSide:
        """h^s's part of the step (``SourceSide``); ``pixels`` and ``pixel_prior`` with the
        composition."""
        fields = self._fields_by_stride(flow_fields)
        boosts = {stride: self.source_boost(source_features[stride], fields[stride])
                  for stride in self.attentive_strides}
        if not self.composes:
            return SourceSide(boosts)
        person, alpha = composite_layer(pixels.person_layer, pixels.background, pixel_prior.source_flow,
                                        pixel_prior.support)
        placed_mask = GarmentSTN.warp(pixels.garment_mask, pixel_prior.placement).clamp(0.0, 1.0)
        return SourceSide(boosts, person, alpha, placed_mask)

    def source_boost(self, e_m_s: Tensor, field: FlowField) -> Tensor:
        """Eq. 8's second term at one attentive layer: lambda_hs e_m^s m^t (with the prior's
        ``warped_source_boost``, e_m^s moved along F^s first)."""
        size = tuple(e_m_s.shape[-2:])
        selection = field.selection_mask
        if tuple(selection.shape[-2:]) != size:
            selection = F.interpolate(selection, size=size, mode="bilinear", align_corners=False)
        if self.prior is not None and self.prior.warped_source_boost:
            e_m_s = gaussian_warp(e_m_s, resize_flow(field.source_flow, size), self.config.warp_sigma)
        return self.config.lambda_hs * e_m_s * selection

    def generate_from_encodings(self, source_side: SourceSide, previous_masked: Tensor,
                                garment_features: dict[int, Tensor], cloth_mask_next: Tensor,
                                flow_fields: Sequence[FlowField], pixels: PixelInputs | None = None,
                                pixel_prior: PixelPrior | None = None) -> HSGOutput:
        fields = self._fields_by_stride(flow_fields)
        if self.composes:
            cloth_mask_next = self.cloth_mask_with_placement(cloth_mask_next, source_side.placed_mask,
                                                             pixel_prior.face)
        previous_features = self._at_strides(self.human_encoder(previous_masked))
        mask_features = self._at_strides(self.mask_encoder(cloth_mask_next))
        coarsest = max(self.attentive_strides)
        if self.prior is not None and self.prior.garment_placement:
            theta = self.stn.correct(pixel_prior.placement, garment_features[coarsest], mask_features[coarsest])
        else:
            theta = self.stn.predict(garment_features[coarsest], mask_features[coarsest])
        fused = {}
        for stride, lambda_ci in zip(self.attentive_strides, self.config.lambda_ci):
            fused[stride] = self.fuse_level(
                previous_features[stride], source_side.boosts[stride], garment_features[stride],
                mask_features[stride], fields[stride], theta, lambda_ci)
        output_size = tuple(previous_masked.shape[-2:])
        if not self.composes:
            return HSGOutput(self._to_output(self.decode(fused), output_size), None)
        candidates = self.pixel_candidates(source_side, pixels, theta)
        guidance = torch.cat([*candidates, cloth_mask_next], 1)  # (B, 9, H, W)
        features = self.decode(fused, self.guidance(half_size(guidance)))
        face = pixel_prior.face if self.prior.face_from_source else None
        return self.compose(self._to_output(features, output_size), candidates, cloth_mask_next, face)

    def fuse_level(self, e_m_t: Tensor, source_boost: Tensor, e_c: Tensor, e_mc: Tensor,
                   field: FlowField, theta: Tensor, lambda_ci: float) -> Tensor:
        """Eq. 8 at one attentive layer, its second term given (``source_boost``)."""
        size = tuple(e_m_t.shape[-2:])
        warped_previous = gaussian_warp(e_m_t, resize_flow(field.flow, size), self.config.warp_sigma)
        garment_term = lambda_ci * GarmentSTN.warp(e_c, theta) * e_mc
        return warped_previous + source_boost + garment_term

    @staticmethod
    def cloth_mask_with_placement(cloth_mask: Tensor, placed: Tensor, face: Tensor) -> Tensor:
        """M_c^{t+1} as HSG uses it with the composition, kept off the ``face``; ``placed``: C's
        mask at the keypoint placement. Where CMN's mask covers little of where the placement
        puts C, CMN has missed the person (it learned on generated people: on a real photo it
        marked the neck and the background) and the placement stands in; where it covers much,
        CMN's own shape is kept (it knows the sleeves, the occluding arms). Agreement = share of
        the placed C that CMN covers: measured 0.54-0.96 on generated clips, 0.05-0.10 on a real
        photo."""
        agreement = (cloth_mask * placed).sum((1, 2, 3)) / placed.sum((1, 2, 3)).clamp_min(1.0)
        trust = ((agreement - CMN_TRUST_FROM) / (CMN_TRUST_AT - CMN_TRUST_FROM)).clamp(0.0, 1.0)
        trust = trust.view(-1, 1, 1, 1)
        united = torch.maximum(cloth_mask, placed)
        return (trust * cloth_mask + (1.0 - trust) * united) * (1.0 - face)

    @staticmethod
    def pixel_candidates(source_side: SourceSide, pixels: PixelInputs, theta: Tensor) -> tuple[Tensor, ...]:
        """(warped h^s over its background (B,3,H,W), its alpha (B,1,H,W), placed C (B,3,H,W)
        premultiplied, its alpha (B,1,H,W))."""
        placed = GarmentSTN.warp(pixels.garment_layer, theta)
        return source_side.person, source_side.person_alpha, placed[:, :3], placed[:, 3:].clamp(0.0, 1.0)

    def decode(self, fused: dict[int, Tensor], guidance: Tensor | None = None) -> Tensor:
        """e_g^{t+1} at every attentive stride -> decoder features at stride 2 (B, w_0, H/2, W/2);
        ``guidance`` (B, w_0, H/2, W/2) joins the last level before its refining convs."""
        coarsest = max(self.attentive_strides)
        x = self.bottom(fused[coarsest])
        stride = coarsest
        for index, level in enumerate(self.levels):
            stride //= 2
            skip = fused.get(stride)
            # an attentive level fixes the size; between them the size doubles
            size = tuple(skip.shape[-2:]) if skip is not None else (2 * x.shape[-2], 2 * x.shape[-1])
            last = index == len(self.levels) - 1
            x = level(x, size, skip, guidance if last else None)
        return x

    def _to_output(self, features: Tensor, output_size: tuple[int, int]) -> Tensor:
        """The painted image (sigmoid) and, when composing, the logits: (B, 3 [+3], H, W)."""
        output = depth_to_space(self.to_rgb(features), PIXEL_SHUFFLE_FACTOR)
        if tuple(output.shape[-2:]) != tuple(output_size):
            output = F.interpolate(output, size=output_size, mode="bilinear", align_corners=False)
        return torch.cat([torch.sigmoid(output[:, :3]), output[:, 3:]], 1) if self.composes \
            else torch.sigmoid(output)

    def compose(self, output: Tensor, candidates: tuple[Tensor, ...], cloth_mask_next: Tensor,
                face: Tensor | None = None) -> HSGOutput:
        person, person_alpha, placed, placed_alpha = candidates
        painted, logits = output[:, :3], output[:, 3:]
        # C where it is placed, M_c wants it, and h^s has nothing left to show: M_r removed the
        # clothes C replaces; trying on what one wears removes nothing and keeps h^s's pixels
        garment_here = cloth_mask_next * placed_alpha * (1.0 - person_alpha)
        start = torch.cat([1.0 - garment_here, garment_here, torch.zeros_like(garment_here)], 1)
        weights = torch.softmax(logits + self.composition_bias * start, 1)  # (B, 3, H, W)
        if face is not None:  # the face is h^s's, warped: weights (1, 0, 0) there
            keep = 1.0 - face
            weights = torch.cat([weights[:, :1] * keep + face, weights[:, 1:] * keep], 1)
        image = weights[:, 0:1] * person + weights[:, 1:2] * placed + weights[:, 2:3] * painted
        return HSGOutput(image, weights)

    def _fields_by_stride(self, flow_fields: Sequence[FlowField]) -> dict[int, FlowField]:
        fields = {field.stride: field for field in flow_fields}
        missing = [s for s in self.attentive_strides if s not in fields]
        if missing:
            raise ValueError(f"flow fields for strides {missing} are missing "
                             f"(got strides {sorted(fields)})")
        return fields
