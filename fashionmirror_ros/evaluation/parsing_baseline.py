"""Human-parsing network of the paper's baseline class, for the runtime comparison with CMN.

The paper (section 4.3, "Runtime") times its co-attention mask network against the pre-processed
semantic segmentation that try-on methods run, the part grouping network (PGN, Gong et al. ECCV
2018, the paper's [12]): CMN took 0.1983 s against the parser's 0.3469 s (57.16 %). PGN is a
DeepLab-style parser: a dilated ResNet-101 with atrous pyramid pooling predicting the 20 part
classes of CIHP/LIP (background, hat, hair, glove, sunglasses, upper clothes, dress, coat, socks,
pants, jumpsuits, scarf, skirt, face, left/right arm, left/right leg, left/right shoe).

What is built here (``ParsingNetwork``): a DeepLabv3 parser,
- backbone: the project's torchvision-layout ResNet (``fashionmirror_ros.models.backbones``,
  Bottleneck 3-4-23-3 = ResNet-101), whose last stages replace their stride by dilation for
  output stride 8 (layer3 and layer4 dilated) or 16 (layer4 dilated);
- head: ASPP (DeepLabv3, Chen et al. 2017) with a 1x1 branch, three dilated 3x3 branches
  (rates 12/24/36 at output stride 8, 6/12/18 at 16) and image pooling, each conv + BatchNorm +
  ReLU, a 1x1 projection, then a 3x3 conv + BatchNorm + ReLU and a 1x1 classifier;
- output: per-class logits bilinearly upsampled to the input size, (B, 20, H, W).
PGN's instance-edge branch, its refinement branch and multi-scale/flip testing are left out, so
this network's time is a LOWER bound on the parser the paper measured.

The network is RANDOMLY INITIALISED (from a fixed seed) and is for timing only: it is not a
trained parser and its outputs mean nothing. It is returned in eval mode (BatchNorm uses running
statistics, so batch size 1 works).

Presets (``parsing_network(preset)``):
- ``paper``: ResNet-101, output stride 8, ASPP 256 (the width and stride of the paper-preset CMN
  backbone, so the comparison isolates the co-attention design);
- ``paper_os16``: the same at output stride 16 (DeepLabv3's faster setting);
- ``tiny``: a few-channel BasicBlock network for unit tests only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fashionmirror_ros.models.backbones import ResNetBackbone

PARSING_CLASSES = 20
RESNET101_STAGE_BLOCKS = (3, 4, 23, 3)
RESNET_STAGE_WIDTHS = (64, 128, 256, 512)
ASPP_RATES_BY_OUTPUT_STRIDE = {8: (12, 24, 36), 16: (6, 12, 18)}
DILATED_STAGES_BY_OUTPUT_STRIDE = {8: (False, False, True, True), 16: (False, False, False, True)}
DEFAULT_SEED = 0


@dataclass(frozen=True)
class ParsingNetworkConfig:
    """Shape of the parser; ``aspp_rates`` None picks DeepLabv3's rates for the output stride."""

    num_classes: int = PARSING_CLASSES
    block: str = "bottleneck"
    stage_blocks: tuple[int, ...] = RESNET101_STAGE_BLOCKS
    stage_widths: tuple[int, ...] = RESNET_STAGE_WIDTHS
    stem_width: int = 64
    output_stride: int = 8
    aspp_channels: int = 256
    aspp_rates: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.output_stride not in DILATED_STAGES_BY_OUTPUT_STRIDE:
            raise ValueError(f"output_stride must be one of {sorted(DILATED_STAGES_BY_OUTPUT_STRIDE)}")
        if len(self.stage_blocks) != 4 or len(self.stage_widths) != 4:
            raise ValueError("the parser's ResNet has four stages (stage_blocks, stage_widths)")
        if self.aspp_rates is not None and len(self.aspp_rates) != 3:
            raise ValueError("aspp_rates needs three dilation rates")
        if self.num_classes < 1 or self.aspp_channels < 1:
            raise ValueError("num_classes and aspp_channels must be positive")

    @property
    def resolved_aspp_rates(self) -> tuple[int, int, int]:
        return self.aspp_rates or ASPP_RATES_BY_OUTPUT_STRIDE[self.output_stride]


PRESETS = {
    "paper": ParsingNetworkConfig(),
    "paper_os16": ParsingNetworkConfig(output_stride=16),
    "tiny": ParsingNetworkConfig(block="basic", stage_blocks=(1, 1, 1, 1), stage_widths=(8, 16, 32, 64),
                                 stem_width=8, aspp_channels=16),
}


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2),
                  dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DeepLabV3Head(nn.Module):
    """ASPP (1x1, three dilated 3x3, image pooling) -> 1x1 projection -> 3x3 conv -> classifier."""

    def __init__(self, in_channels: int, channels: int, rates: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_bn_relu(in_channels, channels, 1)] + [_conv_bn_relu(in_channels, channels, 3, r) for r in rates]
        )
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), _conv_bn_relu(in_channels, channels, 1))
        self.project = _conv_bn_relu(channels * (len(rates) + 2), channels, 1)
        self.refine = _conv_bn_relu(channels, channels, 3)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Tensor) -> Tensor:
        pyramid = [branch(features) for branch in self.branches]
        pooled = self.image_pool(features)
        pyramid.append(pooled.expand(-1, -1, features.shape[-2], features.shape[-1]))
        return self.classifier(self.refine(self.project(torch.cat(pyramid, dim=1))))


class ParsingNetwork(nn.Module):
    """(B, 3, H, W) image -> (B, num_classes, H, W) parsing logits (random weights; timing only)."""

    def __init__(self, config: ParsingNetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = ResNetBackbone(
            config.block, config.stage_blocks, config.stage_widths, stem_width=config.stem_width,
            dilate_stages=DILATED_STAGES_BY_OUTPUT_STRIDE[config.output_stride],
        )
        self.head = DeepLabV3Head(self.backbone.out_channels, config.aspp_channels,
                                  config.resolved_aspp_rates, config.num_classes)

    def forward(self, image: Tensor) -> Tensor:
        logits = self.head(self.backbone(image))
        return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)


def parsing_network(preset: str | ParsingNetworkConfig = "paper", seed: int = DEFAULT_SEED) -> ParsingNetwork:
    """The baseline parser for a preset name (``paper``, ``paper_os16``, ``tiny``) or a config,
    randomly initialised from ``seed`` without touching the global RNG, in eval mode."""
    if isinstance(preset, ParsingNetworkConfig):
        config = preset
    elif preset in PRESETS:
        config = PRESETS[preset]
    else:
        raise ValueError(f"unknown parsing preset {preset!r}; expected one of {sorted(PRESETS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = ParsingNetwork(config)
    return network.eval()
