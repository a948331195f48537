"""Losses: CMN (eq. 2), sample correctness (eq. 5-6) and try-on (eq. 9-11).

Every loss returns a dict of scalar tensors so the trainer can log each term; the weighted sum
is under "total". Unweighted terms are stored under their own names, weights come from
``LossConfig`` (GFLA's reference weights for orientation: L1 5, correctness 5, style 500,
content 0.5).

CMN (eq. 2), per predicted mask M against the true mask M^:
    L_CMN = lambda_L1 |M - M^|_1 + lambda_BCE BCE(M, M^) + lambda_Patch L_Patch
- Open choice, L_Patch: the masks are cut into non-overlapping P x P patches (``cmn_patch_size``,
  the last partial patch included); the loss is the mean over patches of the absolute
  difference of the patch means, |mean_patch(M) - mean_patch(M^)|. Per-pixel L1 and BCE
  score every pixel on its own; the patch term scores the amount of garment per region, so a
  missing sleeve or a shifted hem costs as a whole rather than as a thin boundary.
- Single-frame CMN sums the terms over M_r and M_c; multi-frame CMN only scores M_c^{t+1}.
- BCE is computed from probabilities clamped to [1e-6, 1 - 1e-6] (works under autocast).

Sample correctness (eq. 5-6), as GFLA computes it, for each attentive layer:
- frozen VGG19 features of h^t (source) and h^{t+1} (target) at the layer whose size matches
  the flow (``correctness_layers``: relu4_1 for stride 8, relu3_1 for stride 4);
- mu(a, b) = cosine similarity; mu_max(l) = max over all source positions l' of
  mu(e^t_{l'}, e^{t+1}_l), from the N x N cosine matrix of L2-normalised features, computed in
  blocks of ``correctness_chunk`` target positions to bound memory;
- the source features are warped with F^t by ``gaussian_warp`` (same sigma as HSG);
- L_corr = mean_l exp(-mu(warped_l, target_l) / mu_max(l)) - e^-1, so 0 is the best value
  (a warped feature as similar to the target as the best single source position).

Try-on (eq. 9-11), over a sequence of generated frames h_g^1..h_g^S against real h^1..h^S:
- spatial, human (L^s_human): L1 + VGG content (L1 between features) + VGG style (L1 between
  Gram matrices normalised by C*h*w) on the whole frame;
- spatial, clothes (L^s_clothes): L1 inside the true clothing mask M^_c (normalised by the mask
  area) + VGG content between the masked frames;
- temporal, flow (L_flow): the weighted sample correctness over steps and layers, computed on
  the real frames (h^t -> h^{t+1}), plus a small total-variation term on F^t
  (``flow_smoothness``; a regulariser in place of GFLA's local affine one);
- temporal, human (L^t_human): L1 between the change of consecutive generated frames and the
  change of consecutive real frames, (h_g^{t+1} - h_g^t) - (h^{t+1} - h^t), with h_g^0 = h^0;
- temporal, clothes (L^t_clothes): the same inside M^_c^{t+1}.

Ours, not the paper's (0 in the paper preset):
- person_l1: L1 inside the true person mask of each frame;
- person_ssim: 1 - SSIM over the box of the true person masks of h^s and the frame, with the
  evaluation's window (11 x 11 Gaussian, sigma 1.5, K1 0.01, K2 0.03, data range 1);
- paint_share: the mean composition weight of the decoder's painting (see ``hsg``);
- prior_residual: with the keypoint prior, the mean absolute residual SFE adds to the prior
  flows, in input pixels (level pixels times the stride), over steps and attentive layers.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fashionmirror_ros.evaluation.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW_SIZE

from .backbones import VGG19FeatureExtractor
from .config import LossConfig, ModelConfig
from .sfe import FlowField
from .warping import gaussian_warp, resize_flow

PROBABILITY_EPS = 1e-6
COSINE_EPS = 1e-8
MU_MAX_FLOOR = 1e-3  # mu_max of a target with no similar source position (all-zero features)
EXP_MINUS_ONE = math.exp(-1.0)
# SSIM as the yardstick computes it (evaluation.metrics: its window and constants), on images in [0, 1]
SSIM_C1 = SSIM_K1 ** 2
SSIM_C2 = SSIM_K2 ** 2
PAINT_CHANNEL = 2  # composition weights: warped h^s, placed C, the decoder's painting


# -- CMN (eq. 2) ----------------------------------------------------------------------------
def binary_cross_entropy(prediction: Tensor, target: Tensor) -> Tensor:
    p = prediction.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
    return -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p)).mean()


def patch_loss(prediction: Tensor, target: Tensor, patch_size: int) -> Tensor:
    """Mean over P x P patches of |patch mean of prediction - patch mean of target|."""
    pool = lambda x: F.avg_pool2d(x, patch_size, stride=patch_size, ceil_mode=True)  # noqa: E731
    return (pool(prediction) - pool(target)).abs().mean()


def cmn_mask_terms(prediction: Tensor, target: Tensor, config: LossConfig) -> dict[str, Tensor]:
    """Unweighted L1, BCE and patch terms for one mask (B, 1, H, W)."""
    return {
        "l1": (prediction - target).abs().mean(),
        "bce": binary_cross_entropy(prediction, target),
        "patch": patch_loss(prediction, target, config.cmn_patch_size),
    }


def _weighted_cmn(terms: dict[str, Tensor], config: LossConfig) -> Tensor:
    return config.cmn_l1 * terms["l1"] + config.cmn_bce * terms["bce"] + config.cmn_patch * terms["patch"]


def cmn_single_loss(removed_mask: Tensor, cloth_mask: Tensor, removed_target: Tensor,
                    cloth_target: Tensor, config: LossConfig) -> dict[str, Tensor]:
    """Eq. 2 for single-frame CMN, over M_r and M_c. Keys: removed_*, cloth_*, total."""
    removed = cmn_mask_terms(removed_mask, removed_target, config)
    cloth = cmn_mask_terms(cloth_mask, cloth_target, config)
    losses = {f"removed_{k}": v for k, v in removed.items()}
    losses.update({f"cloth_{k}": v for k, v in cloth.items()})
    losses["total"] = _weighted_cmn(removed, config) + _weighted_cmn(cloth, config)
    return losses


def cmn_multi_loss(cloth_mask_next: Tensor, cloth_target_next: Tensor,
                   config: LossConfig) -> dict[str, Tensor]:
    """Eq. 2 for multi-frame CMN: only M_c^{t+1} is scored."""
    cloth = cmn_mask_terms(cloth_mask_next, cloth_target_next, config)
    losses = {f"cloth_{k}": v for k, v in cloth.items()}
    losses["total"] = _weighted_cmn(cloth, config)
    return losses


# -- sample correctness (eq. 5-6) ---------------------------------------------------------
def max_source_cosine(source: Tensor, target: Tensor, chunk: int) -> Tensor:
    """mu_max (B, N_t): for each target position, the max cosine over all source positions.

    source (B, C, N_s), target (B, C, N_t); the (N_s x chunk) blocks bound the memory.
    """
    source_n = F.normalize(source, dim=1, eps=COSINE_EPS).transpose(1, 2)  # (B, N_s, C)
    target_n = F.normalize(target, dim=1, eps=COSINE_EPS)
    blocks = [torch.bmm(source_n, target_n[:, :, start:start + chunk]).amax(dim=1)
              for start in range(0, target_n.shape[2], chunk)]
    return torch.cat(blocks, dim=1)


def sample_correctness_loss(source_features: Tensor, target_features: Tensor, flow: Tensor,
                            sigma: float, chunk: int = 1024) -> Tensor:
    """Eq. 5: mean_l exp(-mu(warped_l, target_l) / mu_max(l)) - e^-1 (0 at best).

    source/target features (B, C, h, w) of h^t and h^{t+1}; flow F^t (B, 2, h', w') in pixels
    of its own level (resized to h x w if needed). Gradients flow to the flow.
    """
    flow = resize_flow(flow, tuple(source_features.shape[-2:]))
    with torch.no_grad():
        mu_max = max_source_cosine(source_features.flatten(2), target_features.flatten(2), chunk)
    warped = gaussian_warp(source_features, flow, sigma)
    cosine = F.cosine_similarity(warped.flatten(2), target_features.flatten(2), dim=1, eps=COSINE_EPS)
    return (torch.exp(-cosine / mu_max.clamp_min(MU_MAX_FLOOR)) - EXP_MINUS_ONE).mean()


def prior_residual(fields: Sequence[FlowField]) -> Tensor | None:
    """Mean |residual| over the prior flows in input pixels, over the layers; None without
    the prior."""
    residuals = [field.prior_residual.abs().mean() * field.stride for field in fields
                 if field.prior_residual is not None]
    return torch.stack(residuals).mean() if residuals else None


def flow_smoothness(flow: Tensor) -> Tensor:
    """Total variation of a flow (B, 2, h, w): mean |dF/dx| + mean |dF/dy|."""
    return ((flow[..., :, 1:] - flow[..., :, :-1]).abs().mean()
            + (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean())


class FlowCorrectnessLoss(nn.Module):
    """L_flow for one step: weighted sample correctness over the attentive layers (+ TV).

    ``forward(source_image, target_image, flow_fields)`` with real frames h^t, h^{t+1}
    (B, 3, H, W) in [0, 1]. Keys: correctness_s{stride} per layer, correctness (weighted sum
    over layers), smoothness, total = flow_correctness * correctness + flow_smoothness *
    smoothness.
    """

    def __init__(self, config: LossConfig, warp_sigma: float,
                 vgg: VGG19FeatureExtractor | None = None, vgg_weights: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.warp_sigma = warp_sigma
        layers = [layer for _, layer in config.correctness_layers]
        self.vgg = vgg if vgg is not None else VGG19FeatureExtractor(layers, vgg_weights, config.vgg_seed)

    def forward(self, source_image: Tensor, target_image: Tensor,
                flow_fields: Sequence[FlowField]) -> dict[str, Tensor]:
        with torch.no_grad():  # real frames through a frozen network: constants
            features = self.vgg(torch.cat([source_image, target_image], dim=0))
        batch = source_image.shape[0]
        losses: dict[str, Tensor] = {}
        correctness = source_image.new_zeros(())
        smoothness = source_image.new_zeros(())
        for field, weight in zip(flow_fields, self.config.flow_level_weights):
            layer = self.config.correctness_layer_for(field.stride)
            source, target = features[layer][:batch], features[layer][batch:]
            term = sample_correctness_loss(source, target, field.flow, self.warp_sigma,
                                           self.config.correctness_chunk)
            losses[f"correctness_s{field.stride}"] = term
            correctness = correctness + weight * term
            smoothness = smoothness + flow_smoothness(field.flow)
        losses["correctness"] = correctness
        losses["smoothness"] = smoothness
        losses["total"] = (self.config.flow_correctness * correctness
                           + self.config.flow_smoothness * smoothness)
        return losses


# -- try-on (eq. 9-11) --------------------------------------------------------------------
def gram_matrix(features: Tensor) -> Tensor:
    """(N, C, h, w) -> (N, C, C) / (C h w)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def masked_l1(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L1 inside ``mask`` (N, 1, H, W), normalised by the mask area (and channels)."""
    area = mask.sum() * prediction.shape[1]
    return ((prediction - target).abs() * mask).sum() / area.clamp_min(1.0)


def _gaussian_blur(images: Tensor) -> Tensor:
    """Separable SSIM window over (N, C, H, W), reflect-padded so the size is kept."""
    offsets = torch.arange(SSIM_WINDOW_SIZE, dtype=images.dtype, device=images.device)
    offsets = offsets - (SSIM_WINDOW_SIZE - 1) / 2
    window = torch.exp(-offsets ** 2 / (2 * SSIM_SIGMA ** 2))
    window = window / window.sum()
    channels = images.shape[1]
    radius = SSIM_WINDOW_SIZE // 2
    x = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, window.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(x, window.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def ssim_map(a: Tensor, b: Tensor) -> Tensor:
    """Per-pixel SSIM of images in [0, 1], (N, C, H, W) -> (N, 1, H, W) (channel mean)."""
    mu_a, mu_b = _gaussian_blur(a), _gaussian_blur(b)
    var_a = _gaussian_blur(a * a) - mu_a ** 2
    var_b = _gaussian_blur(b * b) - mu_b ** 2
    cov = _gaussian_blur(a * b) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_a ** 2 + mu_b ** 2 + SSIM_C1) * (var_a + var_b + SSIM_C2))
    return value.mean(1, keepdim=True)


def mask_box(mask: Tensor) -> Tensor:
    """The bounding box of each mask (N, 1, H, W) as a 0/1 mask of the same shape."""
    def span(present: Tensor) -> Tensor:  # (N, L) bool -> inside [first, last]
        return present.cummax(1).values & present.flip(1).cummax(1).values.flip(1)
    inside = mask > 0.5
    rows = span(inside.any(-1).squeeze(1))  # (N, H)
    cols = span(inside.any(-2).squeeze(1))  # (N, W)
    return (rows[:, None, :, None] & cols[:, None, None, :]).to(mask.dtype)


def person_ssim_loss(generated: Tensor, real: Tensor, person_box: Tensor) -> Tensor:
    """1 - mean SSIM inside ``person_box`` (N, 1, H, W); 0 when every box is empty."""
    area = person_box.sum()
    if area == 0:
        return generated.new_zeros(())
    return 1.0 - (ssim_map(generated, real) * person_box).sum() / area


class TryOnLoss(nn.Module):
    """L_tryon = L_spatial + L_temporal (eq. 9-11). See the module docstring for the terms.

    forward(generated (B, S, 3, H, W) = h_g^1..h_g^S,
            real (B, S+1, 3, H, W) = h^0..h^S (h^0 = the source frame),
            cloth_masks (B, S+1, 1, H, W) = true M^_c^0..M^_c^S,
            flow_fields: S lists of FlowField, step t holding F^t, m^t (h^t -> h^{t+1}),
            person_masks (B, S+1, 1, H, W) = true person masks of h^0..h^S (optional),
            compositions (B, S, 3, H, W) = HSG's composition weights (optional))
    Keys: human_l1, person_l1, person_ssim, paint_share, human_content, human_style, clothes_l1,
    clothes_content, flow_correctness, prior_residual,
    flow_smoothness, temporal_human, temporal_clothes (unweighted), spatial, temporal, total
    (weighted).
    """

    def __init__(self, config: LossConfig, warp_sigma: float, vgg_weights: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        layers = set(config.content_layers) | set(config.style_layers)
        layers |= {layer for _, layer in config.correctness_layers}
        self.vgg = VGG19FeatureExtractor(sorted(layers), vgg_weights, config.vgg_seed)
        self.flow_loss = FlowCorrectnessLoss(config, warp_sigma, vgg=self.vgg)

    @classmethod
    def from_model_config(cls, config: ModelConfig, vgg_weights: str | Path | None = None) -> "TryOnLoss":
        return cls(config.loss, config.hsg.warp_sigma, vgg_weights)

    def forward(self, generated: Tensor, real: Tensor, cloth_masks: Tensor,
                flow_fields: Sequence[Sequence[FlowField]],
                person_masks: Tensor | None = None,
                compositions: Tensor | None = None) -> dict[str, Tensor]:
        steps = generated.shape[1]
        if real.shape[1] != steps + 1 or cloth_masks.shape[1] != steps + 1 or len(flow_fields) != steps:
            raise ValueError("expected S generated frames, S+1 real frames and masks, S flow lists")
        terms = self._spatial_terms(generated.flatten(0, 1), real[:, 1:].flatten(0, 1),
                                    cloth_masks[:, 1:].flatten(0, 1))
        zero = generated.new_zeros(())
        terms["person_l1"] = terms["person_ssim"] = zero
        if person_masks is not None:
            frames, frame_masks = real[:, 1:].flatten(0, 1), person_masks[:, 1:].flatten(0, 1)
            terms["person_l1"] = masked_l1(generated.flatten(0, 1), frames, frame_masks)
            if self.config.person_ssim:
                with_source = torch.maximum(frame_masks, person_masks[:, :1].expand_as(
                    person_masks[:, 1:]).flatten(0, 1))
                terms["person_ssim"] = person_ssim_loss(generated.flatten(0, 1), frames,
                                                        mask_box(with_source))
        terms["paint_share"] = zero if compositions is None else compositions[:, :, PAINT_CHANNEL].mean()
        terms.update(self._temporal_terms(generated, real, cloth_masks, flow_fields))
        c = self.config
        spatial = (c.human_l1 * terms["human_l1"] + c.person_l1 * terms["person_l1"]
                   + c.person_ssim * terms["person_ssim"] + c.paint_share * terms["paint_share"]
                   + c.human_content * terms["human_content"]
                   + c.human_style * terms["human_style"] + c.clothes_l1 * terms["clothes_l1"]
                   + c.clothes_content * terms["clothes_content"])
        temporal = (c.flow_correctness * terms["flow_correctness"]
                    + c.flow_smoothness * terms["flow_smoothness"]
                    + c.prior_residual * terms["prior_residual"]
                    + c.temporal_human * terms["temporal_human"]
                    + c.temporal_clothes * terms["temporal_clothes"])
        terms.update(spatial=spatial, temporal=temporal, total=spatial + temporal)
        return terms

    def _content(self, a: dict[str, Tensor], b: dict[str, Tensor]) -> Tensor:
        return sum((a[layer] - b[layer]).abs().mean() for layer in self.config.content_layers)

    def _style(self, a: dict[str, Tensor], b: dict[str, Tensor]) -> Tensor:
        return sum((gram_matrix(a[layer]) - gram_matrix(b[layer])).abs().mean()
                   for layer in self.config.style_layers)

    def _spatial_terms(self, generated: Tensor, real: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """generated, real (N, 3, H, W); mask (N, 1, H, W)."""
        n = generated.shape[0]
        c = self.config
        terms = {"human_l1": (generated - real).abs().mean(),
                 "clothes_l1": masked_l1(generated, real, mask)}
        if c.human_content == c.human_style == c.clothes_content == 0:
            # VGG19 costs ~30x the try-on networks per frame on a CPU: skip it when unweighted.
            zero = generated.new_zeros(())
            return {**terms, "human_content": zero, "human_style": zero, "clothes_content": zero}
        features = self.vgg(torch.cat([generated, generated * mask], dim=0))
        with torch.no_grad():
            real_features = self.vgg(torch.cat([real, real * mask], dim=0))
        whole = ({k: v[:n] for k, v in features.items()}, {k: v[:n] for k, v in real_features.items()})
        inside = ({k: v[n:] for k, v in features.items()}, {k: v[n:] for k, v in real_features.items()})
        return {**terms, "human_content": self._content(*whole), "human_style": self._style(*whole),
                "clothes_content": self._content(*inside)}

    def _temporal_terms(self, generated: Tensor, real: Tensor, cloth_masks: Tensor,
                        flow_fields: Sequence[Sequence[FlowField]]) -> dict[str, Tensor]:
        # h_g^0 = h^0: the first generated change is measured from the source frame
        previous_generated = torch.cat([real[:, :1], generated[:, :-1]], dim=1)
        generated_change = (generated - previous_generated).flatten(0, 1)
        real_change = (real[:, 1:] - real[:, :-1]).flatten(0, 1)
        next_masks = cloth_masks[:, 1:].flatten(0, 1)
        correctness, smoothness = [], []
        for t, fields in enumerate(flow_fields):
            if self.config.flow_correctness == 0:  # no VGG pass when the term is unweighted
                correctness.append(real.new_zeros(()))
                smoothness.append(sum(flow_smoothness(field.flow) for field in fields))
                continue
            flow_terms = self.flow_loss(real[:, t], real[:, t + 1], fields)
            correctness.append(flow_terms["correctness"])
            smoothness.append(flow_terms["smoothness"])
        residuals = [r for r in map(prior_residual, flow_fields) if r is not None]
        return {
            "flow_correctness": torch.stack(correctness).mean(),
            "flow_smoothness": torch.stack(smoothness).mean(),
            "prior_residual": torch.stack(residuals).mean() if residuals else real.new_zeros(()),
            "temporal_human": (generated_change - real_change).abs().mean(),
            "temporal_clothes": masked_l1(generated_change, real_change, next_masks),
        }
