"""CMN loss (eq. 2), sample correctness (eq. 5-6) and the try-on loss (eq. 9-11)."""
import math

import pytest
import torch
import torch.nn.functional as F

from fashionmirror_ros.models import FlowField, TryOnLoss, VGG19FeatureExtractor, tiny_config
from fashionmirror_ros.models.losses import (
    FlowCorrectnessLoss,
    binary_cross_entropy,
    cmn_multi_loss,
    cmn_single_loss,
    flow_smoothness,
    gram_matrix,
    mask_box,
    masked_l1,
    max_source_cosine,
    person_ssim_loss,
    prior_residual,
    ssim_map,
    patch_loss,
    sample_correctness_loss,
)
from fashionmirror_ros.models.mirror import SessionInputs

SIZE = 64


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def vgg():
    return VGG19FeatureExtractor(("relu3_1", "relu4_1"))


def smooth_texture(seed=0, size=SIZE):
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size // 4, size // 4, generator=generator)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


# -- CMN ----------------------------------------------------------------------------------
def test_patch_loss_compares_patch_means():
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :2] = 1.0  # top-left patch full
    prediction = torch.zeros(1, 1, 4, 4)
    prediction[..., 0, :2] = 1.0  # same patch half full
    # patch means: target (1, 0, 0, 0), prediction (0.5, 0, 0, 0) -> mean |diff| = 0.5 / 4
    assert torch.isclose(patch_loss(prediction, target, 2), torch.tensor(0.125))
    assert patch_loss(target, target, 2) == 0
    assert patch_loss(prediction, target, 3).shape == ()  # partial patches are fine


def test_cmn_losses_are_zero_l1_and_patch_for_a_perfect_mask():
    target = (torch.rand(2, 1, 32, 32) > 0.5).float()
    config = tiny_config().loss
    perfect = cmn_single_loss(target, target, target, target, config)
    assert perfect["removed_l1"] == 0 and perfect["cloth_patch"] == 0
    assert perfect["cloth_bce"] < 1e-5
    wrong = cmn_single_loss(1 - target, 1 - target, target, target, config)
    assert wrong["total"] > 10 * perfect["total"]
    multi = cmn_multi_loss(torch.full_like(target, 0.5), target, config)
    assert set(multi) == {"cloth_l1", "cloth_bce", "cloth_patch", "total"}
    assert torch.isclose(multi["cloth_bce"], torch.tensor(math.log(2.0)), atol=1e-5)


def test_bce_is_finite_at_saturated_probabilities():
    target = torch.tensor([0.0, 1.0])
    assert torch.isfinite(binary_cross_entropy(torch.tensor([1.0, 0.0]), target))


# -- sample correctness -------------------------------------------------------------------
def test_max_source_cosine_matches_the_full_matrix_in_any_chunking():
    torch.manual_seed(0)
    source, target = torch.randn(2, 8, 30), torch.randn(2, 8, 25)
    full = torch.einsum("bcs,bct->bst", F.normalize(source, dim=1), F.normalize(target, dim=1)).amax(dim=1)
    for chunk in (1, 7, 25, 100):
        assert torch.allclose(max_source_cosine(source, target, chunk), full, atol=1e-6)


def test_correctness_is_zero_for_identical_frames_and_identity_flow(vgg):
    features = vgg(smooth_texture())["relu3_1"]
    loss = sample_correctness_loss(features, features, torch.zeros(1, 2, 16, 16), sigma=0.05)
    assert abs(loss.item()) < 1e-5


def textured_object(position, size=SIZE, patch=24, seed=1):
    """A smooth textured square at ``position`` (x, y) on a plain grey background."""
    image = torch.full((1, 3, size, size), 0.5)
    x, y = position
    image[:, :, y:y + patch, x:x + patch] = smooth_texture(seed, patch)
    return image


@pytest.mark.parametrize("seed", [1, 2])
def test_correctness_prefers_the_true_flow_on_a_translated_image(vgg, seed):
    # an object moved 8 px right and 8 px down on a plain background (a person in front of a
    # wall): border padding of the VGG sees the same background in both frames
    source = textured_object((16, 16), seed=seed)
    target = textured_object((24, 24), seed=seed)
    features_s, features_t = vgg(source), vgg(target)
    for layer, stride in (("relu3_1", 4), ("relu4_1", 8)):
        size = SIZE // stride
        true_flow = torch.full((1, 2, size, size), -8.0 / stride)  # backward: sample up-left
        losses = {name: sample_correctness_loss(features_s[layer], features_t[layer], flow, sigma=2.0).item()
                  for name, flow in (("true", true_flow), ("zero", torch.zeros_like(true_flow)),
                                     ("opposite", -true_flow))}
        assert losses["true"] < losses["zero"] < losses["opposite"], (layer, losses)


def test_correctness_gradient_reaches_the_flow_only(vgg):
    source, target = textured_object((16, 16), seed=2), textured_object((20, 16), seed=2)
    features_s, features_t = vgg(source)["relu3_1"], vgg(target)["relu3_1"]
    flow = torch.zeros(1, 2, 16, 16, requires_grad=True)
    sample_correctness_loss(features_s, features_t, flow, sigma=2.0).backward()
    assert torch.isfinite(flow.grad).all() and flow.grad.abs().sum() > 0
    assert flow.grad[:, 0].mean() > 0  # descending moves x toward the true -1 px


def test_flow_correctness_loss_maps_strides_to_vgg_layers():
    config = tiny_config()
    loss = FlowCorrectnessLoss(config.loss, config.hsg.warp_sigma)
    source = smooth_texture(3)
    fields = [FlowField(torch.zeros(1, 2, 8, 8), torch.ones(1, 1, 8, 8), 1 / 8),
              FlowField(torch.zeros(1, 2, 16, 16), torch.ones(1, 1, 16, 16), 1 / 4)]
    terms = loss(source, torch.roll(source, 4, dims=3), fields)
    assert set(terms) == {"correctness_s8", "correctness_s4", "correctness", "smoothness", "total"}
    assert torch.isclose(terms["correctness"], terms["correctness_s8"] + terms["correctness_s4"])
    assert terms["smoothness"] == 0


def test_flow_smoothness_is_total_variation():
    flow = torch.zeros(1, 2, 3, 3)
    flow[..., :, 2] = 3.0  # one vertical edge of height 3 in both channels
    # x differences: (0, 3) per row -> mean 1.5; y differences: 0
    assert torch.isclose(flow_smoothness(flow), torch.tensor(1.5))


# -- try-on -------------------------------------------------------------------------------
def test_gram_and_masked_l1():
    features = torch.ones(1, 2, 2, 2)
    assert torch.allclose(gram_matrix(features), torch.full((1, 2, 2), 4.0 / 8.0))
    a, b = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    mask = torch.zeros(1, 1, 2, 2)
    mask[..., 0, 0] = 1
    assert masked_l1(a, b, mask) == 1.0
    assert masked_l1(a, b, torch.zeros_like(mask)) == 0.0


def test_ssim_map_matches_the_evaluation_ssim_away_from_the_border():
    import numpy as np

    from fashionmirror_ros.evaluation.metrics import ssim

    rng = np.random.default_rng(3)
    a = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-50, 50, a.shape), 0, 255).astype(np.uint8)
    as_tensor = lambda x: torch.tensor(x / 255.0).permute(2, 0, 1)[None]  # noqa: E731
    inner = ssim_map(as_tensor(a), as_tensor(b))[0, 0, 5:-5, 5:-5].mean().item()
    assert inner == pytest.approx(ssim(a, b), abs=1e-9)


def test_mask_box_is_the_bounding_box_of_each_mask():
    masks = torch.zeros(2, 1, 10, 12)
    masks[0, 0, 2:4, 3] = 1
    masks[0, 0, 6, 8] = 1
    box = mask_box(masks)
    expected = torch.zeros(10, 12)
    expected[2:7, 3:9] = 1
    assert torch.equal(box[0, 0], expected)
    assert box[1].sum() == 0  # an empty mask has an empty box


def test_person_ssim_loss_scores_only_inside_the_box_and_prefers_structure():
    real = smooth_texture(1)
    box = torch.zeros(1, 1, SIZE, SIZE)
    box[..., 16:48, 16:48] = 1
    outside = real.clone()
    outside[..., :8, :] = 0.0  # wrong far outside the box only
    assert person_ssim_loss(outside, real, box) < 1e-6
    blurred = F.avg_pool2d(real, 5, stride=1, padding=2, count_include_pad=False)
    shifted = (real + 0.05).clamp(0, 1)  # the same L1 scale, the structure intact
    assert person_ssim_loss(shifted, real, box) < person_ssim_loss(blurred, real, box)
    assert person_ssim_loss(blurred, real, torch.zeros_like(box)) == 0


def test_tryon_loss_person_ssim_and_paint_share_terms():
    import dataclasses

    config = tiny_config()
    loss = TryOnLoss(dataclasses.replace(config.loss, person_ssim=2.0, paint_share=0.5,
                                         flow_correctness=0.0), config.hsg.warp_sigma)
    real, masks, fields = _sequence()
    person = torch.zeros(1, 3, 1, SIZE, SIZE)
    person[..., 10:50, 20:40] = 1
    weights = torch.softmax(torch.randn(1, 2, 3, SIZE, SIZE), 2)
    perfect = loss(real[:, 1:].clone(), real, masks, fields, person_masks=person, compositions=weights)
    assert perfect["person_ssim"].abs() < 1e-6
    assert torch.isclose(perfect["paint_share"], weights[:, :, 2].mean())
    noisy = (real[:, 1:] + 0.2 * torch.randn_like(real[:, 1:])).clamp(0, 1)
    terms = loss(noisy, real, masks, fields, person_masks=person, compositions=weights)
    assert terms["person_ssim"] > 0.1
    without = loss(noisy, real, masks, fields)
    assert without["person_ssim"] == 0 and without["paint_share"] == 0
    assert torch.isclose(terms["total"] - without["total"],
                         2.0 * terms["person_ssim"] + 0.5 * terms["paint_share"]
                         + config.loss.person_l1 * terms["person_l1"], atol=1e-5)


def test_prior_residual_is_in_input_pixels_and_absent_without_the_prior():
    coarse = torch.zeros(1, 4, 8, 8)
    coarse[:, 0] = 0.5  # half a level pixel at stride 8 = 4 input pixels, on 1 of 4 channels
    fine = torch.zeros(1, 4, 16, 16)
    fields = [FlowField(torch.zeros(1, 2, 8, 8), torch.ones(1, 1, 8, 8), 1 / 8, torch.zeros(1, 2, 8, 8), coarse),
              FlowField(torch.zeros(1, 2, 16, 16), torch.ones(1, 1, 16, 16), 1 / 4, torch.zeros(1, 2, 16, 16), fine)]
    assert prior_residual(fields) == pytest.approx((4.0 / 4 + 0.0) / 2)
    assert prior_residual([field._replace(prior_residual=None) for field in fields]) is None


def _sequence(steps=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    real = torch.rand(1, steps + 1, 3, SIZE, SIZE, generator=generator)
    masks = (torch.rand(1, steps + 1, 1, SIZE, SIZE, generator=generator) > 0.5).float()
    fields = [[FlowField(torch.zeros(1, 2, 8, 8), torch.ones(1, 1, 8, 8), 1 / 8),
               FlowField(torch.zeros(1, 2, 16, 16), torch.ones(1, 1, 16, 16), 1 / 4)]
              for _ in range(steps)]
    return real, masks, fields


@pytest.fixture(scope="module")
def tryon_loss():
    return TryOnLoss.from_model_config(tiny_config())


def test_tryon_loss_vanishes_for_perfect_frames_except_the_flow_term(tryon_loss):
    real, masks, fields = _sequence()
    terms = tryon_loss(real[:, 1:].clone(), real, masks, fields)
    for name in ("human_l1", "human_content", "human_style", "clothes_l1", "clothes_content",
                 "temporal_human", "temporal_clothes"):
        assert terms[name].abs() < 1e-6, name
    assert torch.isclose(terms["total"], terms["spatial"] + terms["temporal"])
    assert torch.isclose(terms["temporal"], tryon_loss.config.flow_correctness * terms["flow_correctness"])


def test_tryon_loss_temporal_terms_compare_frame_changes(tryon_loss):
    real, masks, fields = _sequence()
    offset = real[:, 1:] + 0.1  # every frame brighter: frame changes equal except the first step
    terms = tryon_loss(offset, real, masks, fields)
    # changes: step 1 differs by 0.1 everywhere (h_g^0 = h^0), step 2 matches -> mean 0.05
    assert torch.isclose(terms["temporal_human"], torch.tensor(0.05), atol=1e-5)
    assert torch.isclose(terms["human_l1"], torch.tensor(0.1), atol=1e-5)


def test_tryon_loss_gradient_reaches_generated_frames(tryon_loss):
    real, masks, fields = _sequence()
    generated = torch.rand(1, 2, 3, SIZE, SIZE, requires_grad=True)
    tryon_loss(generated, real, masks, fields)["total"].backward()
    assert torch.isfinite(generated.grad).all() and generated.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in tryon_loss.vgg.parameters())


def test_tryon_loss_checks_sequence_lengths(tryon_loss):
    real, masks, fields = _sequence()
    with pytest.raises(ValueError, match="S generated"):
        tryon_loss(real[:, 1:], real[:, 1:], masks, fields)


def test_tryon_loss_skips_vgg_when_its_terms_are_unweighted():
    import dataclasses

    import torch

    from fashionmirror_ros.models.config import tiny_config
    from fashionmirror_ros.models.losses import TryOnLoss
    from fashionmirror_ros.models.mirror import FashionMirror

    config = tiny_config()
    loss_config = dataclasses.replace(config.loss, human_content=0.0, human_style=0.0,
                                      clothes_content=0.0, flow_correctness=0.0)
    loss = TryOnLoss(loss_config, config.hsg.warp_sigma)
    calls = []
    loss.vgg.register_forward_hook(lambda *args: calls.append(1))
    model = FashionMirror(config)
    frames = torch.rand(1, 3, 3, config.image_size, config.image_size)
    masks = (torch.rand(1, 3, 1, config.image_size, config.image_size) > 0.5).float()
    skeletons = torch.rand_like(frames)
    inputs = SessionInputs(frames[:, 0], masks[:, 0], frames[:, 0], torch.zeros(1, 137, 3), skeletons[:, 0])
    outputs = model.generate_sequence(inputs, torch.zeros(1, 3, 137, 3), skeletons, masks)
    generated = torch.stack([o.image for o in outputs], dim=1)
    terms = loss(generated, frames, masks, [o.flow_fields for o in outputs])
    assert not calls
    assert terms["total"] > 0 and terms["human_style"] == 0 and terms["flow_smoothness"] >= 0
    terms["total"].backward()
