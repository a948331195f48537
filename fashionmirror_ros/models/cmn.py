"""Co-attention Mask Network, CMN (paper sec. 3.1, eq. 1-2; COSNet's vanilla co-attention).

    M_r, M_c = CMN(h^s, C)                                   (eq. 1, single-frame mode)
    M_c^{t+1} = CMN(h^{t-2}, h^{t-1}, h^t, C)                (multi-frame mode)

M_r in [0,1]: the clothing region to remove from the human image (where its own clothes are).
M_c in [0,1]: where garment C should lie on that human's body (the try-on clothing shape).
Both masks are (B, 1, H, W) on the human image's grid.

Structure
- Siamese encoder (shared weights for human frames and garment): clamp to [0, 1], ImageNet
  normalisation, ResNet (stem + layer1..4, dilated layer3/4 -> output stride 8), ASPP -> a
  (B, C, h, w) map; flattened it is e_h (C x N_h) or e_c (C x N_c).
- Co-attention: S = e_h^T W e_c (N_h x N_c), W a bias-free C x C linear map. Softmax normalises
  S column-wise in each direction:
      A_c[j, i] = softmax over j of S[i, j]   ->  e_cA = e_c A_c   (C x N_h)
      A_h[i, j] = softmax over i of S[i, j]   ->  e_hA = e_h A_h   (C x N_c)
  e_cA is garment content attended at every human position; e_hA is human content attended at
  every garment position. Gates: e'_cA = e_cA * sigmoid(conv1x1(e_cA)) (one channel), likewise
  e'_hA; they learn how much attention to put on the other image as backgrounds vary.
- Prediction layers: 3x3 conv + BN + ReLU, 1x1 classifier, bilinear upsampling of the logits to
  the input size, sigmoid.

Open choices (the paper leaves them open; Fig. 3 is not specific):
- Both masks live on the human grid, so the spatial input of the prediction layers is the
  human-grid concatenation [e_h, e'_cA] (2C x N_h). The garment-grid concatenation
  [e_c, e'_hA] has no spatial correspondence with the human image; it is averaged over garment
  positions into a descriptor (what kind of garment, which parts matched the person) that a
  linear layer turns into a per-channel bias of the 3x3 conv. One classifier gives two logits:
  channel 0 = M_r, channel 1 = M_c.
- W is initialised to I / sqrt(C) (scaled dot product) so the initial softmax is not one-hot.
- Multi-frame mode: each of the three human frames goes through the same siamese encoder; the
  three maps are concatenated (3C) and fused to C channels by a 1x1 conv + BN + ReLU, which
  plays the role of e_h. Co-attention (W and gates) is shared with the single-frame mode; the
  prediction layers are separate (one logit, M_c^{t+1}) because the task differs (the next
  frame's mask, extrapolated from motion).
- ``internal_size``: inputs are resized (antialiased bilinear) so their longer side has that many
  pixels; the masks are upsampled back to the human input's size.
- Inputs are RGB float (B, 3, H, W) nominally in [0, 1]; values outside are clamped and NaN
  becomes 0, so the masks stay finite and in [0, 1] whatever arrives.
- Streaming: ``encode`` exposes the siamese embedding, so a node can encode the garment once and
  each new frame once, and call ``masks_from_embeddings`` / ``next_cloth_mask_from_embeddings``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .aspp import ASPP
from .backbones import ImageNormalizer, ResNetBackbone
from .config import CMNConfig

Size = tuple[int, int]


class SiameseEncoder(nn.Module):
    """RGB (B, 3, H, W) in [0, 1] -> (B, aspp_channels, H/8, W/8) at the internal resolution."""

    def __init__(self, config: CMNConfig) -> None:
        super().__init__()
        self.internal_size = config.internal_size
        self.normalize = ImageNormalizer()
        self.backbone = ResNetBackbone(config.block, config.stage_blocks, config.stage_widths,
                                       config.stem_width, config.dilate_stages)
        self.aspp = ASPP(self.backbone.out_channels, config.aspp_channels, config.aspp_rates)

    def forward(self, image: Tensor) -> Tensor:
        image = sanitize_image(image)
        image = self._resize_to_internal(image)
        return self.aspp(self.backbone(self.normalize(image)))

    def _resize_to_internal(self, image: Tensor) -> Tensor:
        if self.internal_size is None:
            return image
        height, width = (int(side) for side in image.shape[-2:])  # ints, so a trace keeps them constant
        scale = self.internal_size / max(height, width)
        if scale == 1.0:
            return image
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return F.interpolate(image, size=size, mode="bilinear", align_corners=False,
                             antialias=scale < 1.0)


def sanitize_image(image: Tensor) -> Tensor:
    """NaN -> 0, +-inf and everything else clamped into [0, 1]."""
    return torch.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)


class CoAttention(nn.Module):
    """Vanilla co-attention (COSNet) with gates. See the module docstring for the formulas."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Linear(channels, channels, bias=False)  # W in S = e_h^T W e_c
        with torch.no_grad():
            self.weight.weight.copy_(torch.eye(channels) / math.sqrt(channels))
        self.gate_garment = nn.Conv1d(channels, 1, 1)  # on e_cA
        self.gate_human = nn.Conv1d(channels, 1, 1)  # on e_hA

    def similarity(self, e_h: Tensor, e_c: Tensor) -> Tensor:
        """S = e_h^T W e_c: (B, C, N_h), (B, C, N_c) -> (B, N_h, N_c)."""
        w_e_c = self.weight(e_c.transpose(1, 2))  # (B, N_c, C) = (W e_c)^T
        return torch.bmm(e_h.transpose(1, 2), w_e_c.transpose(1, 2))

    def co_attention(self, e_h: Tensor, e_c: Tensor) -> tuple[Tensor, Tensor]:
        """(e_cA (B, C, N_h), e_hA (B, C, N_c)) before gating."""
        s = self.similarity(e_h, e_c)  # (B, N_h, N_c)
        attend_garment = torch.softmax(s, dim=2)  # over garment positions j, for each human i
        attend_human = torch.softmax(s, dim=1)  # over human positions i, for each garment j
        e_ca = torch.bmm(e_c, attend_garment.transpose(1, 2))  # (B, C, N_h)
        e_ha = torch.bmm(e_h, attend_human)  # (B, C, N_c)
        return e_ca, e_ha

    def forward(self, e_h: Tensor, e_c: Tensor) -> tuple[Tensor, Tensor]:
        """Gated (e'_cA, e'_hA)."""
        e_ca, e_ha = self.co_attention(e_h, e_c)
        e_ca = e_ca * torch.sigmoid(self.gate_garment(e_ca))
        e_ha = e_ha * torch.sigmoid(self.gate_human(e_ha))
        return e_ca, e_ha


class MaskHead(nn.Module):
    """[e_h, e'_cA] on the human grid (+ garment descriptor bias) -> mask logits."""

    def __init__(self, channels: int, head_channels: int, outputs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, head_channels, 3, padding=1, bias=False)
        self.garment_bias = nn.Linear(2 * channels, head_channels)
        self.bn = nn.BatchNorm2d(head_channels)
        self.relu = nn.ReLU(inplace=True)
        self.classifier = nn.Conv2d(head_channels, outputs, 1)

    def forward(self, human_branch: Tensor, garment_descriptor: Tensor) -> Tensor:
        x = self.conv(human_branch) + self.garment_bias(garment_descriptor)[:, :, None, None]
        return self.classifier(self.relu(self.bn(x)))


class CoAttentionMaskNetwork(nn.Module):
    """CMN. ``forward(human, garment) -> (M_r, M_c)``;
    ``forward_multi(prev2, prev1, current, garment) -> M_c^{t+1}``."""

    def __init__(self, config: CMNConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.aspp_channels
        self.encoder = SiameseEncoder(config)
        self.attention = CoAttention(channels)
        self.single_head = MaskHead(channels, config.head_channels, outputs=2)
        self.frame_fusion = nn.Sequential(
            nn.Conv2d(3 * channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.multi_head = MaskHead(channels, config.head_channels, outputs=1)

    @property
    def backbone(self) -> ResNetBackbone:
        """The ResNet (torchvision names): ``load_torchvision_weights(cmn.backbone, path)``."""
        return self.encoder.backbone

    def co_attention(self, e_h: Tensor, e_c: Tensor) -> tuple[Tensor, Tensor]:
        """(e_cA, e_hA) from e_h (B, C, N_h) and e_c (B, C, N_c), before gating."""
        return self.attention.co_attention(e_h, e_c)

    def encode(self, image: Tensor) -> Tensor:
        """Siamese embedding (B, C, h, w) of a human frame or a garment image."""
        return self.encoder(image)

    def forward(self, human: Tensor, garment: Tensor) -> tuple[Tensor, Tensor]:
        """Single-frame mode: (M_r, M_c), each (B, 1, H, W) in [0, 1], H x W = human's size."""
        return self.masks_from_embeddings(self.encode(human), self.encode(garment),
                                          tuple(human.shape[-2:]))

    def forward_multi(self, prev2: Tensor, prev1: Tensor, current: Tensor, garment: Tensor) -> Tensor:
        """Multi-frame mode: M_c^{t+1} (B, 1, H, W) from h^{t-2}, h^{t-1}, h^t and C."""
        return self.next_cloth_mask_from_embeddings(
            self.encode(prev2), self.encode(prev1), self.encode(current), self.encode(garment),
            tuple(current.shape[-2:]))

    def masks_from_embeddings(self, e_h: Tensor, e_c: Tensor, output_size: Size) -> tuple[Tensor, Tensor]:
        logits = self._predict(self.single_head, e_h, e_c, output_size)  # (B, 2, H, W)
        masks = torch.sigmoid(logits)
        return masks[:, 0:1], masks[:, 1:2]

    def next_cloth_mask_from_embeddings(self, e_prev2: Tensor, e_prev1: Tensor, e_current: Tensor,
                                        e_c: Tensor, output_size: Size) -> Tensor:
        e_h = self.frame_fusion(torch.cat([e_prev2, e_prev1, e_current], dim=1))
        return torch.sigmoid(self._predict(self.multi_head, e_h, e_c, output_size))

    def _predict(self, head: MaskHead, e_h_map: Tensor, e_c_map: Tensor, output_size: Size) -> Tensor:
        batch, channels, height, width = e_h_map.shape
        e_h = e_h_map.flatten(2)  # (B, C, N_h)
        e_c = e_c_map.flatten(2)  # (B, C, N_c)
        e_ca, e_ha = self.attention(e_h, e_c)
        human_branch = torch.cat([e_h, e_ca], dim=1).view(batch, 2 * channels, height, width)
        garment_descriptor = torch.cat([e_c, e_ha], dim=1).mean(dim=2)  # (B, 2C)
        logits = head(human_branch, garment_descriptor)  # (B, k, h, w)
        return F.interpolate(logits, size=tuple(output_size), mode="bilinear", align_corners=False)
