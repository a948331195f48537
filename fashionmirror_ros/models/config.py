"""Model configuration: every width, dilation, sigma, lambda and loss weight lives here.

Two presets:

- ``paper``: the widths the paper's references imply. CMN is a DeepLabv3-class siamese
  ResNet-101 (Bottleneck blocks 3-4-23-3, stem 64, layer3/layer4 dilated for output stride 8)
  with ASPP 256 and rates 12/24/36, as in COSNet; SFE and HSG use GFLA-like widths
  (flow estimator 32..256, generator 64..256) with instance normalisation; attentive layers at
  1/8 and 1/4 of a 256 input (VGG19 relu4_1 / relu3_1 for the sample correctness loss).
  It builds and runs; it is not meant to be fast.
- ``realtime``: the product default, sized for a 2-core CPU where pose estimation, CMN and
  SFE+HSG run in separate processes: CMN runs internally at 128 px with a one-block-per-stage
  BasicBlock ResNet, SFE/HSG use 16..64 channels and BatchNorm, and the keypoint prior
  (``PriorConfig``: prior flows into SFE, warped source boost, keypoint garment placement,
  full-resolution composition; ours, DESIGN.md 2b) is on. (Measured on a tiny batch:
  without normalisation the generator's loss fell about half as fast; in eval mode BatchNorm
  treats each sample on its own, and its inference cost measured within noise.)

``tiny_config()`` builds a deliberately minimal configuration for unit tests and smoke runs
(it is not a preset users pick).

All dataclasses are frozen; ``ModelConfig.to_dict()`` gives a JSON-safe dict (tuples become
lists) and ``ModelConfig.from_dict()`` restores it (lists become tuples again, unknown keys
raise ``ValueError``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

NORM_KINDS = ("none", "instance", "batch")
BLOCK_KINDS = ("basic", "bottleneck")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(item) for item in value)
    return value


def _reject_unknown(cls: type, data: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")


@dataclass(frozen=True)
class CMNConfig:
    """Co-attention Mask Network (paper sec. 3.1, eq. 1-2)."""

    block: str = "bottleneck"  # ResNet block: "basic" or "bottleneck"
    stem_width: int = 64  # conv1 output channels
    stage_blocks: tuple[int, ...] = (3, 4, 23, 3)  # blocks in layer1..layer4
    stage_widths: tuple[int, ...] = (64, 128, 256, 512)  # "planes" of layer1..layer4
    # layer i replaces its stride 2 by dilation (layer1 never strides): (F, F, T, T) -> stride 8
    dilate_stages: tuple[bool, ...] = (False, False, True, True)
    aspp_channels: int = 256
    aspp_rates: tuple[int, ...] = (12, 24, 36)  # three dilated 3x3 branches
    head_channels: int = 256  # 3x3 conv of the prediction layers
    # None: run at the input size. An int: resize so the longer side has this many pixels,
    # predict there, upsample the masks to the input size.
    internal_size: int | None = None

    def __post_init__(self) -> None:
        _require(self.block in BLOCK_KINDS, f"cmn.block must be one of {BLOCK_KINDS}")
        _require(len(self.stage_blocks) == len(self.stage_widths) == len(self.dilate_stages),
                 "cmn.stage_blocks, stage_widths and dilate_stages need one entry per stage")
        _require(len(self.stage_blocks) >= 2, "cmn needs at least two ResNet stages")
        _require(not self.dilate_stages[0], "cmn.dilate_stages[0] must be False (layer1 has stride 1)")
        _require(len(self.aspp_rates) == 3, "cmn.aspp_rates needs three dilation rates")
        _require(all(n >= 1 for n in self.stage_blocks), "cmn.stage_blocks must be >= 1")
        _require(self.internal_size is None or self.internal_size >= 32,
                 "cmn.internal_size must be None or >= 32")

    @property
    def output_stride(self) -> int:
        """Backbone output stride: 4 after the stem, x2 for each non-dilated stage after layer1."""
        return 4 * 2 ** sum(1 for dilated in self.dilate_stages[1:] if not dilated)


@dataclass(frozen=True)
class SFEConfig:
    """Skeleton Flow Extraction (paper eq. 4)."""

    encoder_widths: tuple[int, ...] = (32, 64, 128, 256, 256)  # 5 stride-2 layers per skeleton
    # decoder channels from stride 2^(L-1) down to the finest attentive stride
    decoder_widths: tuple[int, ...] = (256, 128, 64)
    attentive_strides: tuple[int, ...] = (8, 4)  # attentive layers, coarse to fine
    correlation_radius: int = 3  # local correlation p^{t+1} vs p^t over (2r+1)^2 offsets; 0 = off
    # ours: SFE reads p^t, p^{t+1} (and the prior) downscaled by this power of two; strides
    # (attentive, decoder) stay in pixels of the image
    input_stride: int = 1
    norm: str = "instance"
    leaky_slope: float = 0.2

    def __post_init__(self) -> None:
        _require(self.norm in NORM_KINDS, f"sfe.norm must be one of {NORM_KINDS}")
        _require(len(self.attentive_strides) >= 1, "sfe needs at least one attentive layer")
        _require(list(self.attentive_strides) == sorted(self.attentive_strides, reverse=True),
                 "sfe.attentive_strides must be ordered coarse to fine")
        for stride in self.attentive_strides:
            _require(_is_power_of_two(stride) and stride >= 2,
                     "sfe.attentive_strides must be powers of two >= 2")
        _require(_is_power_of_two(self.input_stride), "sfe.input_stride must be a power of two")
        _require(min(self.attentive_strides) >= 2 * self.input_stride,
                 "sfe.attentive_strides must be at least twice sfe.input_stride (the encoder's "
                 "finest level)")
        bottom = self.bottom_stride()
        _require(max(self.attentive_strides) < bottom,
                 "sfe.attentive_strides must be finer than the encoder's last stride")
        levels = int(math.log2(bottom // min(self.attentive_strides)))
        _require(len(self.decoder_widths) == levels,
                 f"sfe.decoder_widths needs {levels} entries (strides {bottom // 2} .. "
                 f"{min(self.attentive_strides)})")
        _require(self.correlation_radius >= 0, "sfe.correlation_radius must be >= 0")

    def bottom_stride(self) -> int:
        """Image stride of the encoder's last level."""
        return self.input_stride * 2 ** len(self.encoder_widths)

    def decoder_strides(self) -> tuple[int, ...]:
        """Image strides of the decoder levels, coarse to fine (one per decoder width)."""
        bottom = self.bottom_stride()
        return tuple(bottom // 2 ** (i + 1) for i in range(len(self.decoder_widths)))

    def encoder_index(self, stride: int) -> int:
        """Which encoder level is at this image stride (2 * input_stride -> 0, ...)."""
        return (stride // self.input_stride).bit_length() - 2


@dataclass(frozen=True)
class HSGConfig:
    """Human Sequence Generation (paper eq. 7-8)."""

    encoder_widths: tuple[int, ...] = (64, 128, 256)  # channels at strides 2, 4, 8, ...
    lambda_hs: float = 1.0  # weight of the source-human boost lambda_{h^s}
    # lambda_{c_i}, one per attentive layer in SFE order (coarse to fine): grows as the
    # receptive field shrinks (finer layers carry more garment detail, paper sec. 3.2)
    lambda_ci: tuple[float, ...] = (0.5, 1.0)
    warp_sigma: float = 2.0  # Gaussian sampling sigma (GFLA), in pixels of each level
    stn_hidden: int = 64  # channels of the STN localisation conv
    refine_convs: int = 2  # 3x3 convs per decoder level
    norm: str = "instance"
    leaky_slope: float = 0.2

    def __post_init__(self) -> None:
        _require(self.norm in NORM_KINDS, f"hsg.norm must be one of {NORM_KINDS}")
        _require(self.warp_sigma > 0, "hsg.warp_sigma must be > 0")
        _require(len(self.encoder_widths) >= 1, "hsg.encoder_widths must not be empty")
        _require(self.refine_convs >= 1, "hsg.refine_convs must be >= 1")

    def width_at(self, stride: int) -> int:
        """Channels of the encoder features at ``stride`` (2 -> first entry)."""
        return self.encoder_widths[int(math.log2(stride)) - 1]


@dataclass(frozen=True)
class PriorConfig:
    """The keypoint prior and what builds on it (ours, not the paper's: DESIGN.md section 2b).

    ``enabled=False`` is the paper's literal model: SFE sees two skeleton images, eq. 8 adds the
    unwarped source features, the STN starts from the identity and the decoder paints every
    pixel. Each switch below adds one piece (the ablation of issue 11 turns them on in turn).
    """

    enabled: bool = False
    min_confidence: float = 0.2  # joints below it drop their body parts from the prior
    # the prior flows are computed on a grid this many times coarser than the image, then
    # resized: inside a part the flow is affine, and the soft seams between parts are about as
    # wide as 4 pixels of a 256 image anyway (16x fewer pixels)
    flow_stride: int = 4
    # eq. 8's source boost lambda_hs e_m^s m^t takes e_m^s warped along p^0 -> p^{t+1}
    warped_source_boost: bool = True
    # a full-resolution mask composes the pixel-warped h^s, the placed C and the decoder output
    composition: bool = True
    # the garment STN starts from the keypoint placement of C (models/placement.py)
    garment_placement: bool = True
    # each entry of the STN's correction to that placement (normalised affine_grid units) is
    # bounded by this, smoothly (tanh); 0 = unbounded, as checkpoints before 2026-12-06 were
    # trained. Unbounded, the STN learned one garment-blind zoom (+1.2 on theta_xx, -0.8 on
    # theta_yy) that covered M_c with a uniformly coloured generated garment wherever the
    # placement left a gap, and threw a real product photo off the body (checkpoints/realtime/
    # TRAINING.md, stage 4)
    stn_correction_limit: float = 0.0
    # initial composition logit in favour of the pixel-warped h^s outside M_c and of the placed
    # C inside it, so an untrained network starts as the keypoint warp
    composition_bias: float = 4.0
    # the face region (pose/part_flow.face_region) is always the pixel-warped h^s and M_r never
    # removes it: identity is copied, never painted. Trained on generated faces only, the
    # decoder's logits and CMN's M_r put grey smudges over a real photo's eyes (docs/eval)
    face_from_source: bool = True

    def __post_init__(self) -> None:
        _require(self.flow_stride in (1, 2, 4), "prior.flow_stride must be 1, 2 or 4")
        _require(0.0 <= self.min_confidence <= 1.0, "prior.min_confidence must be in [0, 1]")
        _require(self.stn_correction_limit >= 0.0, "prior.stn_correction_limit must be >= 0")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (eq. 2, 5-6, 9-11). GFLA's reference weights: L1 5, correctness 5,
    style 500, content 0.5."""

    # CMN, eq. 2
    cmn_l1: float = 1.0
    cmn_bce: float = 1.0
    cmn_patch: float = 1.0
    cmn_patch_size: int = 16  # patch side in pixels of the mask
    # spatial human / clothes (eq. 10)
    human_l1: float = 5.0
    human_content: float = 0.5
    human_style: float = 500.0
    clothes_l1: float = 5.0
    clothes_content: float = 0.5
    # ours: L1 inside the target person mask, on top of the full-frame term (the static
    # background is easy; the person is what the viewer looks at). 0 in the paper preset.
    person_l1: float = 0.0
    # ours: 1 - SSIM (11x11 Gaussian window, sigma 1.5, as the evaluation's) averaged over the box
    # of the person masks of h^s and the frame. L1 alone rewards a blur where the pose is
    # uncertain; SSIM scores local structure, what a viewer reads as a sharp person.
    person_ssim: float = 0.0
    # ours: the mean weight the composition gives the decoder's painting. Copied pixels (warped
    # h^s, placed C) carry over from generated people to real ones, painted pixels were learned
    # on generated people only: painting has to earn its place. Unused without the composition.
    paint_share: float = 0.0
    # temporal (eq. 11)
    flow_correctness: float = 5.0
    flow_level_weights: tuple[float, ...] = (1.0, 1.0)  # per attentive layer, coarse to fine
    flow_smoothness: float = 0.01  # total variation of F^t (regulariser, replaces GFLA's affine one)
    # ours, with the keypoint prior: mean |SFE residual| over the prior flows, in input pixels.
    # Residuals learned on generated people were 7 times larger on real ones (2.7 against 0.36
    # px) and cost 0.025 person SSIM there; the prior is what carries over.
    prior_residual: float = 0.0
    temporal_human: float = 1.0
    temporal_clothes: float = 1.0
    # VGG19 layers
    content_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    style_layers: tuple[str, ...] = ("relu2_1", "relu3_1", "relu4_1")
    # which VGG layer supervises the flow of each attentive stride
    correctness_layers: tuple[tuple[int, str], ...] = ((8, "relu4_1"), (4, "relu3_1"))
    correctness_chunk: int = 1024  # target positions per block of the N x N cosine matrix
    vgg_seed: int = 0  # init seed of the VGG19 when no ImageNet weight file is given

    def __post_init__(self) -> None:
        _require(self.cmn_patch_size >= 1, "loss.cmn_patch_size must be >= 1")
        _require(self.correctness_chunk >= 1, "loss.correctness_chunk must be >= 1")

    def correctness_layer_for(self, stride: int) -> str:
        for layer_stride, layer in self.correctness_layers:
            if layer_stride == stride:
                return layer
        raise ValueError(f"loss.correctness_layers has no VGG layer for stride {stride}")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "paper"
    image_size: int = 256
    cmn: CMNConfig = field(default_factory=CMNConfig)
    sfe: SFEConfig = field(default_factory=SFEConfig)
    hsg: HSGConfig = field(default_factory=HSGConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        attentive = self.sfe.attentive_strides
        _require(len(self.hsg.lambda_ci) == len(attentive),
                 f"hsg.lambda_ci needs one value per attentive layer ({len(attentive)})")
        _require(len(self.loss.flow_level_weights) == len(attentive),
                 f"loss.flow_level_weights needs one value per attentive layer ({len(attentive)})")
        needed = int(math.log2(max(attentive)))
        _require(len(self.hsg.encoder_widths) == needed,
                 f"hsg.encoder_widths needs {needed} entries (strides 2 .. {max(attentive)})")
        for stride in attentive:
            self.loss.correctness_layer_for(stride)
        _require(self.image_size >= self.sfe.bottom_stride(),
                 "image_size is smaller than the SFE encoder's total stride")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Inverse of ``to_dict``; missing keys take the defaults, unknown keys raise."""
        sections = {"cmn": CMNConfig, "sfe": SFEConfig, "hsg": HSGConfig, "prior": PriorConfig,
                    "loss": LossConfig}
        _reject_unknown(cls, data, "config")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                _reject_unknown(sections[key], value, key)
                kwargs[key] = sections[key](**{k: _tupled(v) for k, v in value.items()})
            else:
                kwargs[key] = value
        return cls(**kwargs)


def _paper() -> ModelConfig:
    return ModelConfig(name="paper")


# the realtime STN may move, scale or shear C by at most this much (normalised units: 0.15 of
# a translation is 7.5 % of the image) away from the keypoint placement
STN_CORRECTION_LIMIT = 0.15


def _realtime() -> ModelConfig:
    return ModelConfig(
        name="realtime",
        cmn=CMNConfig(
            block="basic",
            stem_width=16,
            stage_blocks=(1, 1, 1, 1),
            stage_widths=(16, 32, 48, 64),
            dilate_stages=(False, False, True, True),
            aspp_channels=48,
            # the 128 px internal input gives a 16 x 16 map at stride 8: DeepLab's 12/24/36
            # would reach past the map, so the rates shrink with it
            aspp_rates=(2, 4, 6),
            head_channels=48,
            internal_size=128,
        ),
        sfe=SFEConfig(
            # read at half resolution: the encoders' levels at image strides 4-32 have the widths
            # of the full-resolution encoder's (16, 24, 32, 48, 64) at those strides
            input_stride=2,
            encoder_widths=(24, 32, 48, 64),
            decoder_widths=(48, 32, 24),
            attentive_strides=(8, 4),
            # the prior gives the motion and SFE refines it; the local cost volume cost a third
            # of SFE's time for that refinement (docs/bench/bench.md), so it is off
            correlation_radius=0,
            norm="batch",
        ),
        hsg=HSGConfig(
            encoder_widths=(16, 32, 48),
            lambda_hs=1.0,
            lambda_ci=(0.5, 1.0),
            warp_sigma=2.0,
            stn_hidden=32,
            refine_convs=1,
            norm="batch",
        ),
        # a CPU budget buys quality through the keypoint prior, not through training time
        prior=PriorConfig(enabled=True, stn_correction_limit=STN_CORRECTION_LIMIT),
        # No ImageNet VGG19 can be had here and a random one measured unreliable, so its terms
        # (perceptual, style, sample correctness) are off; --loss NAME=VALUE with --vgg-weights
        # turns them back on. The person-region L1 focuses the budget on the person.
        loss=LossConfig(person_l1=5.0, person_ssim=2.0, paint_share=0.5, prior_residual=0.1,
                        human_content=0.0, human_style=0.0, clothes_content=0.0,
                        flow_correctness=0.0),
    )


PRESETS: dict[str, ModelConfig] = {"paper": _paper(), "realtime": _realtime()}


def _realtime_without(**prior_switches: bool) -> ModelConfig:
    realtime = _realtime()
    return dataclasses.replace(realtime, name=realtime.name,
                               prior=dataclasses.replace(realtime.prior, **prior_switches))


# The realtime preset with parts of the prior switched off, for the ablation of issue 11 (trained
# and scored like the preset itself; their checkpoints say "realtime" with their switches).
ABLATIONS: dict[str, ModelConfig] = {
    "realtime_literal": _realtime_without(enabled=False),  # the paper's eq. 8 as it stands
    "realtime_prior_only": _realtime_without(warped_source_boost=False, composition=False),
    "realtime_no_composition": _realtime_without(composition=False),
}


def get_preset(name: str) -> ModelConfig:
    """The preset (or ablation variant) called ``name``; ``ValueError`` naming the valid ones."""
    if name in PRESETS:
        return PRESETS[name]
    if name in ABLATIONS:
        return ABLATIONS[name]
    raise ValueError(f"unknown model preset {name!r}; valid presets: "
                     f"{', '.join(sorted(PRESETS))} (ablations: {', '.join(sorted(ABLATIONS))})")


def tiny_config(image_size: int = 64, prior: bool = False) -> ModelConfig:
    """A minimal configuration for unit tests and smoke runs (milliseconds per step); ``prior``
    turns the keypoint prior on as the realtime preset has it."""
    return ModelConfig(
        name="tiny",
        image_size=image_size,
        cmn=CMNConfig(block="basic", stem_width=8, stage_blocks=(1, 1, 1, 1),
                      stage_widths=(8, 8, 16, 16), aspp_channels=16, aspp_rates=(1, 2, 3),
                      head_channels=16, internal_size=None),
        sfe=SFEConfig(encoder_widths=(8, 8, 16, 16, 16), decoder_widths=(16, 16, 8),
                      correlation_radius=1, norm="batch"),
        hsg=HSGConfig(encoder_widths=(8, 16, 16), stn_hidden=8, refine_convs=1, norm="batch"),
        prior=PriorConfig(enabled=prior),
        loss=LossConfig(correctness_chunk=256),
    )
