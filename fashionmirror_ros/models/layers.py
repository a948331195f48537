"""Small building blocks shared by SFE and HSG (conv + normalisation + LeakyReLU)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval


def make_norm(kind: str, channels: int) -> nn.Module:
    """"none" -> Identity, "instance" -> affine InstanceNorm, "batch" -> BatchNorm."""
    if kind == "none":
        return nn.Identity()
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}")


class ConvNormAct(nn.Sequential):
    """kxk conv (stride s) + norm + LeakyReLU. The conv has a bias only without BatchNorm.

    Weights use Kaiming-normal init for LeakyReLU(slope) (fan-in), biases zero: without
    normalisation layers PyTorch's default init shrinks activations at every layer, which
    starves deep conv stacks of gradient at the start of training.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str, slope: float,
                 kernel: int = 3, stride: int = 1) -> None:
        conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                         bias=norm != "batch")
        nn.init.kaiming_normal_(conv.weight, a=slope, nonlinearity="leaky_relu")
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
        super().__init__(conv, make_norm(norm, out_channels), nn.LeakyReLU(slope, inplace=True))


class StridedEncoder(nn.Module):
    """A chain of stride-2 ConvNormAct layers; returns the feature of every level.

    (B, in, H, W) -> [(B, widths[0], H/2, W/2), (B, widths[1], H/4, W/4), ...].
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], norm: str, slope: float) -> None:
        super().__init__()
        channels = (in_channels,) + tuple(widths)
        self.layers = nn.ModuleList(
            ConvNormAct(channels[i], channels[i + 1], norm, slope, stride=2)
            for i in range(len(widths))
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


def half_size(image: Tensor) -> Tensor:
    """2x2 means (= avg_pool2d(image, 2)), from four strided views: 4x faster here than the
    pooling kernel on a 9-channel full-resolution map."""
    return (image[..., 0::2, 0::2] + image[..., 1::2, 0::2] + image[..., 0::2, 1::2]
            + image[..., 1::2, 1::2]) * 0.25


def upsample_features(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of a feature map. A bf16 map goes through channels-last and back: the
    same values, and the CPU kernel then vectorises over channels (measured here: 0.39 against
    0.67 ms for the decoder's 16 x 64 x 64 map to 128 x 128; no gain in float32)."""
    if x.dtype != torch.bfloat16 or x.is_contiguous(memory_format=torch.channels_last):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    x = F.interpolate(x.contiguous(memory_format=torch.channels_last), size=size, mode="bilinear",
                      align_corners=False)
    return x.contiguous()


def depth_to_space(x: Tensor, factor: int) -> Tensor:
    """``F.pixel_shuffle`` (B, C r^2, H, W) -> (B, C, H r, W r), as one reshaping copy: the same
    values, measured 2.7x faster here on the decoder's bf16 output (0.25 against 0.69 ms)."""
    batch, channels, height, width = x.shape
    out = channels // (factor * factor)
    x = x.reshape(batch, out, factor, factor, height, width).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(batch, out, height * factor, width * factor)


class UpsampleFuse(nn.Module):
    """LeakyReLU(W [up(x), skip] + b) for a 1x1 conv W, computed as up(W_x x) + W_s skip + b.

    A 1x1 conv commutes with bilinear upsampling (both are linear and the interpolation weights
    sum to 1, so the bias commutes too): applying W_x before upsampling gives the same result
    with 4x less work on x and no upsampled copy of the wide input.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, slope: float) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, out_channels, 1)
        self.skip = nn.Conv2d(skip_channels, out_channels, 1, bias=False) if skip_channels else None
        for conv in (self.reduce, self.skip):
            if conv is not None:
                nn.init.kaiming_normal_(conv.weight, a=slope, nonlinearity="leaky_relu")
        nn.init.zeros_(self.reduce.bias)
        self.activation = nn.LeakyReLU(slope, inplace=True)

    def forward(self, x: Tensor, size: tuple[int, int], skip: Tensor | None = None) -> Tensor:
        x = upsample_features(self.reduce(x), size)
        if self.skip is not None and skip is not None:
            x = x + self.skip(skip)
        return self.activation(x)



def fold_batch_norms(module: nn.Module) -> int:
    """Fold BatchNorms into the convs they directly follow, for inference; returns how many.

    In eval mode a BatchNorm is a per-channel affine map with its running statistics, so the conv
    before it can absorb it (W' = W g / sqrt(var + eps), b' = beta - mean g / sqrt(var + eps)):
    the same output to float rounding without a normalisation pass. Folded: a Conv2d followed by
    a BatchNorm2d in an nn.Sequential (ConvNormAct, ASPP branches), and the (conv, norm) attribute
    pairs a module lists in ``CONV_BN_PAIRS`` (the ResNet blocks, whose forward applies the norm
    to the conv's output and nothing between). The folded module has no BatchNorm state left to
    train or save: call this only on a model that serves frames.
    """
    if module.training:
        raise ValueError("fold_batch_norms needs a model in eval mode (BatchNorm's running "
                         "statistics are what gets folded)")
    folded = 0
    for block in list(module.modules()):
        if isinstance(block, nn.Sequential):
            for index in range(len(block) - 1):
                if isinstance(block[index], nn.Conv2d) and isinstance(block[index + 1], nn.BatchNorm2d):
                    block[index] = fuse_conv_bn_eval(block[index], block[index + 1])
                    block[index + 1] = nn.Identity()
                    folded += 1
        for conv_name, norm_name in getattr(block, "CONV_BN_PAIRS", ()):
            norm = getattr(block, norm_name)
            if isinstance(norm, nn.BatchNorm2d):
                setattr(block, conv_name, fuse_conv_bn_eval(getattr(block, conv_name), norm))
                setattr(block, norm_name, nn.Identity())
                folded += 1
    return folded
