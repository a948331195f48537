"""Skeleton Flow Extraction, SFE (paper eq. 4):  F^t, m^t = SFE(p^t, p^{t+1}).

p^t, p^{t+1}: skeleton images (B, 3, H, W) in [0, 1] (the pose images of eq. 3).
Output, per attentive layer i (coarse to fine, default strides 8 and 4 of the input):
- F^t_i (B, 2, H/s, W/s): backward flow in pixels of that level, channel 0 = x, 1 = y: the
  frame-(t+1) feature at p is sampled from the frame-t feature at p + F(p) (``gaussian_warp``).
- m^t_i (B, 1, H/s, W/s) in [0, 1]: selection mask, how much of frame t+1 comes from the source
  human h^s rather than the warped h^t (eq. 8 weighs e_m^s by it).

Structure
- Two separate (not weight-shared) encoders of stride-2 conv layers (``encoder_widths``: 5 in
  the paper preset), one per skeleton.
- Decoder from the bottleneck (stride 32) up to the finest attentive stride. At each level:
  upsample, concatenate both encoders' features of that level (and at attentive levels a local
  correlation), 1x1 conv to the level width, 3x3 conv. (The 1x1 conv's share on the upsampled
  input runs before the upsampling, which gives the same result more cheaply.)
- Attentive layers: a 3x3 conv predicts a flow increment and a 3x3 conv the mask logit.

Open choices
- Correlation (the paper "calculates the correlation between p^t and p^{t+1} at the feature
  level"): a local cost volume corr_d(p) = mean_c f^{t+1}_c(p) f^t_c(p + d) over offsets
  d in [-r, r]^2 (``correlation_radius``), on the encoder features of the attentive levels; it
  is expressed on the frame-(t+1) grid, where the flow is defined.
- Coarse to fine: the finer flow is the coarser one resized (offsets scaled x2) plus the
  predicted increment, so both levels describe one motion.
- The flow and mask convs start at zero: initially F = 0 (identity warp) and m = 0.5.
- With the keypoint prior (ours, ``PriorConfig``): the p^{t+1} encoder also reads the prior
  flows p^{t+1} -> p^t and p^{t+1} -> p^0 and the prior's support (``PriorFlows``), the heads
  predict residuals, and each FlowField carries prior + residual. A third head per attentive
  layer gives the residual of the source flow (p^{t+1} -> p^0), used to warp h^s's features
  (eq. 8's source boost) and, at full resolution, h^s's pixels. Residual heads start at zero, so
  an untrained SFE returns the prior itself.
- ``input_stride`` (ours; realtime: 2): the encoders read p^t, p^{t+1} and the prior at half
  (or a smaller power-of-two) resolution, 2x2 means; their first level is then at image stride
  4 and one layer fewer reaches the bottleneck. The skeletons' limbs are 4+ pixels wide at 256,
  so they survive the halving. With the cost volume off too (realtime: the prior gives the
  motion), SFE costs 6.6 against 9.4 ms a frame (traced, one thread).
- Normalisation is configurable (paper preset: instance norm as in GFLA; realtime: BatchNorm,
  which trained about twice as fast as no normalisation on a tiny batch and measured within
  noise of it at inference; eval mode treats every sample on its own).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import SFEConfig
from .layers import ConvNormAct, StridedEncoder, UpsampleFuse, half_size
from .warping import resize_flow


class FlowField(NamedTuple):
    """One attentive layer's output: F^t (B, 2, h, w), m^t (B, 1, h, w), scale = h / H, and with
    the prior the source flow p^{t+1} -> p^0 (B, 2, h, w) and SFE's residuals over the prior
    flows (B, 4, h, w: F^t's, then the source flow's), which the loss keeps small."""

    flow: Tensor
    selection_mask: Tensor
    scale: float
    source_flow: Tensor | None = None
    prior_residual: Tensor | None = None

    @property
    def stride(self) -> int:
        """Input pixels per level pixel (8 for scale 1/8)."""
        return round(1.0 / self.scale)


# Prior flows enter the encoder as fractions of the image size times this gain (body motions of
# a few to 60 pixels at 256 become inputs of order 0.1 to 2).
PRIOR_INPUT_GAIN = 8.0


class PriorFlows(NamedTuple):
    """The keypoint prior of one step on the image grid: backward flows in pixels."""

    previous: Tensor  # (B, 2, H, W) p^{t+1} -> p^t, stilled away from the body
    source: Tensor  # (B, 2, H, W) p^{t+1} -> p^0, stilled away from the body
    support: Tensor  # (B, 1, H, W) of the source flow (1 on the body)

    def downscaled(self, factor: int) -> "PriorFlows":
        """The prior on a grid ``factor`` (a power of two) times coarser, flows in its pixels."""
        return PriorFlows(downscaled(self.previous, factor) / factor, downscaled(self.source, factor) / factor,
                          downscaled(self.support, factor))

    def encoder_input(self) -> Tensor:
        size = float(self.previous.shape[-1])
        return torch.cat([self.previous * (PRIOR_INPUT_GAIN / size),
                          self.source * (PRIOR_INPUT_GAIN / size), self.support], 1)


PRIOR_INPUT_CHANNELS = 5


def downscaled(image: Tensor, factor: int) -> Tensor:
    """``image`` (B, C, H, W) as means of factor x factor blocks (a power of two)."""
    while factor > 1:
        image, factor = half_size(image), factor // 2
    return image


def local_correlation(target: Tensor, source: Tensor, radius: int) -> Tensor:
    """corr_d(p) = mean_c target_c(p) * source_c(p + d), d in [-r, r]^2 -> (B, (2r+1)^2, H, W).

    ``source`` is zero-padded; offsets are ordered row-major (dy outer, dx inner). A loop over
    offsets on shifted views: about 5x faster on CPU than an unfold, and needs no (2r+1)^2-fold
    copy of the features.
    """
    batch, channels, height, width = target.shape
    window = 2 * radius + 1
    padded = F.pad(source, (radius, radius, radius, radius))
    offsets = [
        (padded[:, :, dy:dy + height, dx:dx + width] * target).sum(dim=1)
        for dy in range(window) for dx in range(window)
    ]
    return torch.stack(offsets, dim=1) / channels


class AttentiveLayer(nn.Module):
    """Decoder feature -> (flow increment (B, 2, h, w), selection mask (B, 1, h, w), source flow
    increment (B, 2, h, w) or None)."""

    def __init__(self, channels: int, source_flow: bool = False) -> None:
        super().__init__()
        self.flow = nn.Conv2d(channels, 2, 3, padding=1)
        self.mask = nn.Conv2d(channels, 1, 3, padding=1)
        self.source_flow = nn.Conv2d(channels, 2, 3, padding=1) if source_flow else None
        for conv in (self.flow, self.mask, self.source_flow):
            if conv is not None:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        # the three 3x3 convs read the same x: one conv with their kernels stacked is the same
        # sum, in one pass over x (a frozen trace keeps the stacked kernels as constants)
        convs = [conv for conv in (self.flow, self.mask, self.source_flow) if conv is not None]
        out = F.conv2d(x, torch.cat([conv.weight for conv in convs]), torch.cat([conv.bias for conv in convs]),
                       padding=1)  # (B, 2 + 1 [+ 2], h, w)
        source = out[:, 3:5] if self.source_flow is not None else None
        return out[:, 0:2], torch.sigmoid(out[:, 2:3]), source


class DecoderLevel(nn.Module):
    """[upsample(x), skips (, correlation)] -> 1x1 conv -> 3x3 conv (see ``UpsampleFuse``)."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, norm: str,
                 slope: float) -> None:
        super().__init__()
        self.fuse = UpsampleFuse(in_channels, skip_channels, out_channels, slope)
        self.refine = ConvNormAct(out_channels, out_channels, norm, slope, kernel=3)

    def forward(self, x: Tensor, skips: list[Tensor]) -> Tensor:
        return self.refine(self.fuse(x, tuple(skips[0].shape[-2:]), torch.cat(skips, dim=1)))


class SkeletonFlowExtractor(nn.Module):
    """SFE. ``forward(p_t, p_next) -> list[FlowField]`` ordered coarse to fine."""

    def __init__(self, config: SFEConfig, with_prior: bool = False) -> None:
        super().__init__()
        self.config = config
        self.with_prior = with_prior
        widths = config.encoder_widths
        self.encoder_prev = StridedEncoder(3, widths, config.norm, config.leaky_slope)
        next_channels = 3 + (PRIOR_INPUT_CHANNELS if with_prior else 0)
        self.encoder_next = StridedEncoder(next_channels, widths, config.norm, config.leaky_slope)
        radius = config.correlation_radius
        self.correlation_channels = (2 * radius + 1) ** 2 if radius else 0
        self.levels = nn.ModuleList()
        self.heads = nn.ModuleDict()
        in_channels = 2 * widths[-1]
        for stride, width in zip(config.decoder_strides(), config.decoder_widths):
            skip_channels = 2 * widths[config.encoder_index(stride)]
            if stride in config.attentive_strides:
                skip_channels += self.correlation_channels
                self.heads[str(stride)] = AttentiveLayer(width, source_flow=with_prior)
            self.levels.append(DecoderLevel(in_channels, skip_channels, width,
                                            config.norm, config.leaky_slope))
            in_channels = width

    def forward(self, p_t: Tensor, p_next: Tensor, prior: PriorFlows | None = None) -> list[FlowField]:
        if self.with_prior != (prior is not None):
            raise ValueError("this SFE was built " + ("with" if self.with_prior else "without")
                             + " the keypoint prior: pass prior flows exactly when it has one")
        stride = self.config.input_stride
        p_t, p_next = downscaled(p_t, stride), downscaled(p_next, stride)  # (B, 3, H/s, W/s)
        encoder_prior = prior.downscaled(stride) if prior is not None else None
        feats_prev = self.encoder_prev(p_t)
        next_input = p_next if prior is None else torch.cat([p_next, encoder_prior.encoder_input()], 1)
        feats_next = self.encoder_next(next_input)
        x = torch.cat([feats_prev[-1], feats_next[-1]], dim=1)  # (B, 2 w_L, H/bottom, W/bottom)
        fields: list[FlowField] = []
        flow: Tensor | None = None  # residuals, accumulated coarse to fine
        source_flow: Tensor | None = None
        for stride, level in zip(self.config.decoder_strides(), self.levels):
            index = self.config.encoder_index(stride)
            skips = [feats_next[index], feats_prev[index]]
            head = self.heads[str(stride)] if str(stride) in self.heads else None
            if head is not None and self.correlation_channels:
                skips.append(local_correlation(feats_next[index], feats_prev[index],
                                               self.config.correlation_radius))
            x = level(x, skips)  # (B, width, H/stride, W/stride)
            if head is None:
                continue
            increment, mask, source_increment = head(x)
            size = tuple(x.shape[-2:])
            flow = increment if flow is None else resize_flow(flow, size) + increment
            if prior is None:
                fields.append(FlowField(flow, mask, 1.0 / stride))
                continue
            source_flow = (source_increment if source_flow is None
                           else resize_flow(source_flow, size) + source_increment)
            fields.append(FlowField(resize_flow(prior.previous, size) + flow, mask, 1.0 / stride,
                                    resize_flow(prior.source, size) + source_flow,
                                    torch.cat([flow, source_flow], 1)))
        return fields
