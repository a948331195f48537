"""Atrous spatial pyramid pooling (DeepLabv3, Chen et al. 2017), as CMN uses it after the backbone.

Five parallel branches on the backbone feature, concatenated and projected by a 1x1 conv:
a 1x1 conv, three 3x3 convs with the configured dilation rates, and image pooling (global
average -> 1x1 conv -> broadcast back to the map). Conv branches use BatchNorm + ReLU.

Open choice: the image-pooling branch has a biased 1x1 conv and no BatchNorm, because a
BatchNorm over a 1x1 map fails in training with batch size 1 (one value per channel). DeepLab's
dropout after the projection is left out (the mask targets are dense and the model small).
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn
import torch


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """(B, in_channels, h, w) -> (B, out_channels, h, w)."""

    def __init__(self, in_channels: int, out_channels: int, rates: Sequence[int]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_bn_relu(in_channels, out_channels, 1)]
            + [_conv_bn_relu(in_channels, out_channels, 3, rate) for rate in rates]
        )
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1),
            nn.ReLU(inplace=True),
        )
        self.project = _conv_bn_relu(out_channels * (len(rates) + 2), out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        outputs = [branch(x) for branch in self.branches]
        pooled = self.image_pool(x)  # (B, out, 1, 1)
        outputs.append(pooled.expand(-1, -1, x.shape[-2], x.shape[-1]))
        return self.project(torch.cat(outputs, dim=1))
