"""Configs, backbones, CMN, SFE, HSG, FashionMirror and model_info."""
import copy
import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from fashionmirror_ros.models import (
    PRESETS,
    CoAttentionMaskNetwork,
    FashionMirror,
    HumanSequenceGenerator,
    ModelConfig,
    ResNetBackbone,
    SkeletonFlowExtractor,
    VGG19FeatureExtractor,
    WeightLoadError,
    cmn_single_loss,
    get_preset,
    load_torchvision_weights,
    model_info,
    tiny_config,
)
from fashionmirror_ros.models.backbones import vgg19_layer_indices
from fashionmirror_ros.models.hsg import GarmentSTN
from fashionmirror_ros.models.layers import depth_to_space, fold_batch_norms, half_size
from fashionmirror_ros.models.traced import trace_motion
from fashionmirror_ros.models.mirror import SessionInputs, cmn_frames_for
from fashionmirror_ros.models.prior import keypoint_warp
from fashionmirror_ros.pose.layout import BODY
from fashionmirror_ros.models.losses import FlowCorrectnessLoss
from fashionmirror_ros.models.sfe import FlowField, PriorFlows, local_correlation
from fashionmirror_ros.models.warping import gaussian_warp

SIZE = 64


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture
def config():
    return tiny_config(SIZE)


def images(batch=2, channels=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, SIZE, SIZE, generator=generator)


# -- config -------------------------------------------------------------------------------
def test_presets_round_trip_through_json():
    for name, preset in PRESETS.items():
        restored = ModelConfig.from_dict(json.loads(json.dumps(preset.to_dict())))
        assert restored == preset and restored.name == name
    assert get_preset("realtime") is PRESETS["realtime"]


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ValueError, match="paper.*realtime"):
        get_preset("fast")


def test_config_rejects_unknown_keys_and_inconsistent_values():
    data = tiny_config().to_dict()
    data["hsg"]["colour"] = 1
    with pytest.raises(ValueError, match="colour"):
        ModelConfig.from_dict(data)
    with pytest.raises(ValueError, match="lambda_ci"):
        dataclasses.replace(tiny_config(), hsg=dataclasses.replace(tiny_config().hsg, lambda_ci=(1.0,)))


def test_presets_stride_8_and_realtime_runs_at_128_internally():
    for preset in PRESETS.values():
        assert preset.cmn.output_stride == 8
        assert preset.sfe.attentive_strides == (8, 4)
        assert preset.hsg.lambda_ci[0] < preset.hsg.lambda_ci[-1]  # grows toward finer layers
    assert PRESETS["realtime"].cmn.internal_size == 128


# -- backbones ----------------------------------------------------------------------------
def test_resnet_has_torchvision_names_and_output_stride_8():
    net = ResNetBackbone("bottleneck", (1, 1, 2, 1), (8, 8, 8, 8), stem_width=8,
                         dilate_stages=(False, False, True, True))
    keys = set(net.state_dict())
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.conv3.weight",
                "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight",
                "layer3.1.bn2.num_batches_tracked", "layer4.0.conv2.weight"):
        assert key in keys
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 32, 8, 8)
    assert net.layer4[0].conv2.dilation == (2, 2)  # first block keeps the previous dilation
    assert net.layer3[1].conv2.dilation == (2, 2)


def test_vgg19_layer_positions_match_torchvision():
    indices = vgg19_layer_indices()
    assert (indices["relu1_1"], indices["relu2_1"], indices["relu3_1"], indices["relu4_1"]) == (1, 6, 11, 20)
    vgg = VGG19FeatureExtractor(("relu3_1", "relu4_1"))
    out = vgg(torch.rand(1, 3, 64, 64))
    assert out["relu3_1"].shape == (1, 256, 16, 16) and out["relu4_1"].shape == (1, 512, 8, 8)
    assert len(vgg.features) == 21 and "features.19.weight" in vgg.state_dict()
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    again = VGG19FeatureExtractor(("relu3_1", "relu4_1"))
    assert torch.equal(again.features[0].weight, vgg.features[0].weight)  # fixed seed


def _torchvision_style_file(module, tmp_path, extra):
    state = {key: torch.randn_like(value.float()).to(value.dtype) if value.is_floating_point()
             else value.clone() for key, value in module.state_dict().items()}
    state.update(extra)
    return state


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_backbone_weights_load_from_safetensors_and_pth(tmp_path, suffix):
    from safetensors.torch import save_file

    net = ResNetBackbone("basic", (1, 1, 1, 1), (8, 8, 16, 16), stem_width=8)
    state = _torchvision_style_file(net, tmp_path, {"fc.weight": torch.randn(10, 16), "fc.bias": torch.randn(10)})
    state.pop("layer2.0.bn1.num_batches_tracked")  # old torchvision files lack these
    path = tmp_path / f"resnet{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, str(path))
    loaded = load_torchvision_weights(net, path)
    assert "fc.weight" not in loaded and "conv1.weight" in loaded
    assert torch.equal(net.layer2[0].conv1.weight, state["layer2.0.conv1.weight"])


def test_vgg_extractor_loads_a_torchvision_file(tmp_path):
    from safetensors.torch import save_file

    state = {"features.0.weight": torch.randn(64, 3, 3, 3), "features.0.bias": torch.randn(64),
             "features.2.weight": torch.randn(64, 64, 3, 3), "classifier.0.weight": torch.randn(4, 4)}
    path = tmp_path / "vgg19.safetensors"
    save_file(state, str(path))
    vgg = VGG19FeatureExtractor(("relu1_1",), weights_path=path)
    assert vgg.pretrained and torch.equal(vgg.features[0].weight, state["features.0.weight"])


def test_shape_mismatch_and_missing_file_raise_naming_the_problem(tmp_path):
    from safetensors.torch import save_file

    net = ResNetBackbone("basic", (1, 1), (8, 16), stem_width=8)
    state = _torchvision_style_file(net, tmp_path, {})
    state["layer2.0.conv2.weight"] = torch.randn(16, 16, 1, 1)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightLoadError, match=r"layer2\.0\.conv2\.weight.*\(16, 16, 1, 1\).*\(16, 16, 3, 3\)"):
        load_torchvision_weights(net, path)
    with pytest.raises(WeightLoadError, match="not found"):
        load_torchvision_weights(net, tmp_path / "absent.pth")
    del state["layer2.0.conv2.weight"]
    save_file(state, str(path))
    with pytest.raises(WeightLoadError, match="layer2.0.conv2.weight"):
        load_torchvision_weights(net, path)


# -- CMN ----------------------------------------------------------------------------------
def test_co_attention_matches_einsum(config):
    torch.manual_seed(0)
    cmn = CoAttentionMaskNetwork(config.cmn)
    with torch.no_grad():
        cmn.attention.weight.weight.normal_()
    e_h, e_c = torch.randn(2, 16, 12), torch.randn(2, 16, 20)  # N_h = 12, N_c = 20
    e_ca, e_ha = cmn.co_attention(e_h, e_c)
    w = cmn.attention.weight.weight
    s = torch.einsum("bci,cd,bdj->bij", e_h, w, e_c)  # S = e_h^T W e_c
    expected_ca = torch.einsum("bcj,bij->bci", e_c, torch.softmax(s, dim=2))
    expected_ha = torch.einsum("bci,bij->bcj", e_h, torch.softmax(s, dim=1))
    assert e_ca.shape == (2, 16, 12) and e_ha.shape == (2, 16, 20)
    assert torch.allclose(e_ca, expected_ca, atol=1e-5)
    assert torch.allclose(e_ha, expected_ha, atol=1e-5)


def test_masks_stay_in_unit_range_for_extreme_inputs(config):
    cmn = CoAttentionMaskNetwork(config.cmn).eval()
    garment = images(1)
    extremes = [torch.full((1, 3, SIZE, SIZE), 1e6), torch.full((1, 3, SIZE, SIZE), -1e6),
                torch.full((1, 3, SIZE, SIZE), float("nan")), torch.full((1, 3, SIZE, SIZE), float("inf")),
                torch.randn(1, 3, SIZE, SIZE) * 1e4]
    with torch.no_grad():
        for human in extremes:
            for mask in (*cmn(human, garment), cmn.forward_multi(human, human, human, garment),
                         cmn(garment, human)[0]):
                assert mask.shape == (1, 1, SIZE, SIZE)
                assert torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1


def test_cmn_internal_resolution_returns_masks_at_input_size(config):
    cmn_config = dataclasses.replace(config.cmn, internal_size=32)
    cmn = CoAttentionMaskNetwork(cmn_config).eval()
    with torch.no_grad():
        assert cmn.encode(images(1)).shape[-2:] == (4, 4)  # 32 px / stride 8
        removed, cloth = cmn(images(1), images(1, seed=1))
    assert removed.shape == cloth.shape == (1, 1, SIZE, SIZE)


def test_cmn_cached_embeddings_give_the_same_masks(config):
    cmn = CoAttentionMaskNetwork(config.cmn).eval()
    a, b, c, g = images(1, seed=1), images(1, seed=2), images(1, seed=3), images(1, seed=4)
    with torch.no_grad():
        direct = cmn.forward_multi(a, b, c, g)
        cached = cmn.next_cloth_mask_from_embeddings(cmn.encode(a), cmn.encode(b), cmn.encode(c),
                                                     cmn.encode(g), (SIZE, SIZE))
    assert torch.allclose(direct, cached)


# -- SFE ----------------------------------------------------------------------------------
def test_local_correlation_matches_direct_products():
    torch.manual_seed(0)
    target, source = torch.randn(1, 4, 5, 6), torch.randn(1, 4, 5, 6)
    corr = local_correlation(target, source, radius=1)
    assert corr.shape == (1, 9, 5, 6)
    y, x = 2, 3
    for k, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
        expected = (target[0, :, y, x] * source[0, :, y + dy, x + dx]).mean()
        assert torch.allclose(corr[0, k, y, x], expected, atol=1e-6)
    assert corr[0, 0, 0, 0] == 0  # zero padding outside


def test_sfe_outputs_coarse_to_fine_fields_starting_at_identity(config):
    sfe = SkeletonFlowExtractor(config.sfe)
    fields = sfe(images(2), images(2, seed=1))
    assert [f.stride for f in fields] == [8, 4]
    assert fields[0].flow.shape == (2, 2, 8, 8) and fields[1].selection_mask.shape == (2, 1, 16, 16)
    for field in fields:
        assert torch.all(field.flow == 0) and torch.allclose(field.selection_mask, torch.tensor(0.5))


def test_sfe_with_input_stride_2_reads_2x2_means_and_keeps_the_image_strides(config):
    """input_stride 2 (the realtime SFE): the same fields at image strides 8 and 4, computed from
    the 2x2 means of p^t, p^{t+1} and the prior, whose flows are halved with the grid."""
    half = dataclasses.replace(config.sfe, input_stride=2, encoder_widths=(8, 16, 16, 16))
    torch.manual_seed(0)
    sfe = _with_trained_statistics(SkeletonFlowExtractor(half, with_prior=True)).eval()
    for head in sfe.heads.values():  # heads start at zero: make the fields depend on the input
        for conv in (head.flow, head.mask, head.source_flow):
            torch.nn.init.normal_(conv.weight, std=0.1)
    prior = PriorFlows(images(1, 2, seed=1) * 8, images(1, 2, seed=2) * 8, images(1, 1, seed=3))
    p_t, p_next = images(1, seed=4), images(1, seed=5)
    swapped = p_next.clone()  # other pixels, the same 2x2 means: columns swapped inside each pair
    swapped[..., 0::2], swapped[..., 1::2] = p_next[..., 1::2], p_next[..., 0::2]
    with torch.no_grad():
        fields, same = sfe(p_t, p_next, prior), sfe(p_t, swapped, prior)
        other = sfe(p_t, images(1, seed=6), prior)
    assert [f.stride for f in fields] == [8, 4] and fields[1].flow.shape == (1, 2, SIZE // 4, SIZE // 4)
    assert all(torch.allclose(a.flow, b.flow, atol=1e-6) for a, b in zip(fields, same))
    assert not torch.allclose(fields[1].flow, other[1].flow)
    coarse = prior.downscaled(2)
    assert coarse.previous.shape[-1] == SIZE // 2
    assert torch.allclose(coarse.previous, half_size(prior.previous) / 2)
    assert torch.allclose(coarse.support, half_size(prior.support))
    with pytest.raises(ValueError, match="input_stride"):
        dataclasses.replace(half, input_stride=3)
    with pytest.raises(ValueError, match="input_stride"):
        dataclasses.replace(half, input_stride=4)  # the finest attentive stride (4) is too fine


def test_upsample_fuse_equals_a_1x1_conv_on_the_upsampled_concatenation():
    from fashionmirror_ros.models.layers import UpsampleFuse

    torch.manual_seed(0)
    fuse = UpsampleFuse(6, 4, 5, slope=0.2)
    x, skip = torch.randn(2, 6, 5, 7), torch.randn(2, 4, 10, 13)
    weight = torch.cat([fuse.reduce.weight, fuse.skip.weight], dim=1)
    upsampled = F.interpolate(x, size=(10, 13), mode="bilinear", align_corners=False)
    expected = F.leaky_relu(F.conv2d(torch.cat([upsampled, skip], 1), weight, fuse.reduce.bias), 0.2)
    assert torch.allclose(fuse(x, (10, 13), skip), expected, atol=1e-5)


# -- HSG ----------------------------------------------------------------------------------
def test_hsg_fusion_is_equation_8(config):
    torch.manual_seed(0)
    hsg = HumanSequenceGenerator(config.hsg, config.sfe.attentive_strides)
    e_t, e_s, e_c, e_mc = (torch.randn(1, 16, 8, 8) for _ in range(4))
    flow, mask = torch.randn(1, 2, 8, 8), torch.rand(1, 1, 8, 8)
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    field = FlowField(flow, mask, 1 / 8)
    fused = hsg.fuse_level(e_t, hsg.source_boost(e_s, field), e_c, e_mc, field, identity, lambda_ci=0.7)
    expected = (gaussian_warp(e_t, flow, config.hsg.warp_sigma)
                + config.hsg.lambda_hs * e_s * mask + 0.7 * e_c * e_mc)
    assert torch.allclose(fused, expected, atol=1e-5)


def session(source, removed, garment, skeleton, keypoints=None, person=None, background=None,
            garment_mask=None):
    """SessionInputs for a batch of one; the prior's extras default to blank layers."""
    batch = source.shape[0]
    keypoints = torch.zeros(batch, 137, 3) if keypoints is None else keypoints
    person = torch.ones(batch, 1, SIZE, SIZE) if person is None else person
    background = torch.zeros_like(source) if background is None else background
    garment_mask = torch.ones(batch, 1, SIZE, SIZE) if garment_mask is None else garment_mask
    return SessionInputs(source, removed, garment, keypoints, skeleton, person, background, garment_mask)


def one_step(model, inputs, skeleton_next, cloth, keypoints_next=None):
    keypoints_next = inputs.source_keypoints if keypoints_next is None else keypoints_next
    return model.step(model.encode_session(inputs), model.first_state(inputs), keypoints_next,
                      skeleton_next, cloth)[0]


def test_generate_removes_the_masked_source_region(config):
    model = FashionMirror(config).eval()
    garment, skeleton_a, skeleton_b, cloth = images(1, seed=5), images(1, seed=6), images(1, seed=7), images(1, 1, 8)
    removed = torch.zeros(1, 1, SIZE, SIZE)
    removed[..., :, : SIZE // 2] = 1.0  # left half removed
    source_a = images(1, seed=1)
    source_b = source_a.clone()
    source_b[..., :, : SIZE // 2] = torch.rand(1, 3, SIZE, SIZE // 2)  # differs only where removed
    with torch.no_grad():
        out_a = one_step(model, session(source_a, removed, garment, skeleton_a), skeleton_b, cloth)
        out_b = one_step(model, session(source_b, removed, garment, skeleton_a), skeleton_b, cloth)
        out_c = one_step(model, session(images(1, seed=9), removed, garment, skeleton_a), skeleton_b, cloth)
    assert torch.equal(out_a.image, out_b.image)
    assert not torch.allclose(out_a.image, out_c.image)
    assert out_a.image.shape == (1, 3, SIZE, SIZE) and 0 <= out_a.image.min() and out_a.image.max() <= 1


def standing_pose() -> torch.Tensor:
    """(1, 137, 3) keypoints of a person standing in the middle of a SIZE x SIZE image, arms down."""
    pose = torch.zeros(1, 137, 3)
    joints = {"Neck": (32, 14), "RShoulder": (26, 16), "LShoulder": (38, 16), "MidHip": (32, 34),
              "RHip": (28, 34), "LHip": (36, 34), "RElbow": (24, 25), "RWrist": (23, 33),
              "LElbow": (40, 25), "LWrist": (41, 33), "Nose": (32, 8), "REye": (31, 7), "LEye": (33, 7)}
    for name, (x, y) in joints.items():
        pose[0, BODY[name]] = torch.tensor([x, y, 1.0])
    return pose


def _with_trained_statistics(model):
    """BatchNorm running statistics and affine parameters away from their identity start, as a
    trained checkpoint has them (folding the start would prove little)."""
    generator = torch.Generator().manual_seed(11)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator) * 0.3)
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(channels, generator=generator) * 0.2)
    return model


def test_the_garment_is_placed_on_a_float32_grid_under_bf16_autocast():
    """affine_grid's matrix product in bf16 moved the sampling points by up to 0.4 pixels."""
    theta = torch.tensor([[[0.62, 0.03, -0.05], [-0.02, 0.71, 0.18]]])
    image = torch.rand(1, 4, 256, 256, generator=torch.Generator().manual_seed(0))
    reference = GarmentSTN.warp(image, theta)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        served = GarmentSTN.warp(image, theta)
    assert served.dtype == torch.float32 and torch.allclose(served, reference, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_depth_to_space_moves_the_values_pixel_shuffle_moves(dtype):
    for factor, channels in ((2, 24), (3, 18)):
        x = torch.randn(2, channels, 5, 7).to(dtype)
        assert torch.equal(depth_to_space(x, factor), F.pixel_shuffle(x, factor))


def test_folding_batch_norms_keeps_every_output_and_leaves_no_batch_norm_in_the_served_parts():
    torch.manual_seed(0)
    model = _with_trained_statistics(FashionMirror(tiny_config(SIZE, prior=True))).eval()
    served = copy.deepcopy(model)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(copy.deepcopy(model).train())
    folded = fold_batch_norms(served)
    remaining = [name for name, module in served.named_modules() if isinstance(module, torch.nn.BatchNorm2d)]
    # only CMN's mask heads keep theirs (a garment bias is added between conv and norm)
    assert folded > 0 and all(".single_head." in f".{name}" or ".multi_head." in f".{name}"
                              for name in remaining), remaining
    source, garment, skeleton_a, skeleton_b = images(1, seed=1), images(1, seed=2), images(1, seed=3), images(1, seed=4)
    cloth = images(1, 1, seed=5)
    inputs = session(source, torch.zeros(1, 1, SIZE, SIZE), garment, skeleton_a)

    def outputs(network):
        with torch.no_grad():
            return (one_step(network, inputs, skeleton_b, cloth).image, *network.masks_single(source, garment),
                    network.cloth_mask_multi(source, garment, source, garment))

    for expected, actual in zip(outputs(model), outputs(served)):
        assert torch.allclose(expected, actual, atol=1e-5), (expected - actual).abs().max()


@pytest.mark.parametrize("prior", [False, True], ids=["literal", "prior"])
def test_traced_motion_gives_the_eager_motion_and_steps_aside_for_other_shapes(prior):
    """hsg_node runs the prior flows and SFE traced (models/traced.py): the same flows for poses
    with joints missing, and the eager modules for a batch the trace was not made for."""
    torch.manual_seed(0)
    model = _with_trained_statistics(FashionMirror(tiny_config(SIZE, prior=prior))).eval()
    pose = standing_pose()
    moved, no_hips, no_arm = pose.clone(), pose.clone(), pose.clone()
    moved[0, :, :2] += torch.tensor([5.0, 2.0])
    no_hips[0, [BODY["MidHip"], BODY["RHip"], BODY["LHip"]], 2] = 0.0
    no_arm[0, [BODY["RElbow"], BODY["RWrist"]], 2] = 0.0
    inputs = session(images(1, seed=1), torch.zeros(1, 1, SIZE, SIZE), images(1, seed=2),
                     images(1, seed=3), pose)
    with torch.no_grad():
        encoding = model.encode_session(inputs)
        cases = [(pose, moved), (moved, no_hips), (no_hips, no_arm), (pose, torch.zeros_like(pose))]
        eager = [model.motion(encoding, a, images(1, seed=4), b, images(1, seed=5)) for a, b in cases]
        trace_motion(model)
        traced = [model.motion(encoding, a, images(1, seed=4), b, images(1, seed=5)) for a, b in cases]
    for expected, actual in zip(eager, traced):
        for want, got in zip(expected.fields, actual.fields):
            for a, b in zip(want, got):
                assert a == b if isinstance(a, float) else (a is None and b is None) or torch.equal(a, b)
        if prior:
            assert torch.equal(expected.pixel_prior.source_flow, actual.pixel_prior.source_flow)
    assert model.traced_motion.fits(images(1)) and not model.traced_motion.fits(images(2))
    pair = session(images(2, seed=1), torch.zeros(2, 1, SIZE, SIZE), images(2, seed=2), images(2, seed=3),
                   torch.cat([pose, pose]))
    with torch.no_grad():  # a batch of two: the eager modules, whatever the trace
        encoding = model.encode_session(pair)
        arguments = (encoding, torch.cat([pose, moved]), images(2, seed=4), torch.cat([moved, no_hips]),
                     images(2, seed=5))
        with_trace = model.motion(*arguments)
        model.traced_motion = None
        without = model.motion(*arguments)
    assert torch.equal(with_trace.fields[-1].flow, without.fields[-1].flow)


def test_cmn_schedule_is_single_for_two_frames_then_multi():
    assert [cmn_frames_for(f) for f in (1, 2, 3, 4)] == [(0,), (1,), (0, 1, 2), (1, 2, 3)]
    with pytest.raises(ValueError):
        cmn_frames_for(0)


def test_generate_sequence_is_recurrent_from_the_source(config):
    model = FashionMirror(config).eval()
    source, garment = images(2), images(2, seed=1)
    skeletons = torch.rand(2, 5, 3, SIZE, SIZE)
    keypoints = torch.zeros(2, 5, 137, 3)
    cloth_masks = torch.rand(2, 5, 1, SIZE, SIZE)
    removed = torch.rand(2, 1, SIZE, SIZE)
    inputs = session(source, removed, garment, skeletons[:, 0])
    with torch.no_grad():
        outputs = model.generate_sequence(inputs, keypoints, skeletons, cloth_masks)
        encoding = model.encode_session(inputs)
        first, state = model.step(encoding, model.first_state(inputs), keypoints[:, 1], skeletons[:, 1],
                                  cloth_masks[:, 1])
        second, _ = model.step(encoding, state, keypoints[:, 2], skeletons[:, 2], cloth_masks[:, 2])
        predicted = model.generate_sequence(inputs, keypoints, skeletons)  # masks from CMN
        # frame 3's mask comes from multi-frame CMN on h^0 = h^s, h^1, h^2
        frames = [source] + [o.image for o in predicted[:2]]
        third_mask = model.cloth_mask_multi(frames[0], frames[1], frames[2], garment)
    assert len(outputs) == 4 and len(predicted) == 4
    assert torch.allclose(outputs[0].image, first.image) and torch.allclose(outputs[1].image, second.image)
    assert torch.equal(state.clothes_mask, cloth_masks[:, 1])  # h^1 is masked with M_c^1 next
    # the first two predicted frames' states must also be replayed with predicted masks
    encoding_state = model.first_state(inputs)
    with torch.no_grad():
        for t, frame in ((1, 0), (2, 1)):
            mask = model.cloth_mask_for(t, [source] + [o.image for o in predicted[:t - 1]], garment)
            replay, encoding_state = model.step(encoding, encoding_state, keypoints[:, t], skeletons[:, t], mask)
            assert torch.allclose(replay.image, predicted[frame].image)
        third, _ = model.step(encoding, encoding_state, keypoints[:, 3], skeletons[:, 3], third_mask)
    assert torch.allclose(third.image, predicted[2].image)


def test_untrained_prior_model_starts_as_the_keypoint_warp_outside_the_garment():
    """DESIGN.md 2b: residual flows at zero and the composition biased to the pixel warp of
    h^s, so training can only add to the keypoint warp."""
    torch.manual_seed(0)
    model = FashionMirror(tiny_config(SIZE, prior=True)).eval()
    pose = standing_pose()
    moved = pose.clone()
    moved[0, :, :2] += torch.tensor([5.0, 2.0])
    source, background = images(1, seed=3), images(1, seed=4)
    person = torch.zeros(1, 1, SIZE, SIZE)
    person[..., 6:40, 20:44] = 1.0
    no_clothes = torch.zeros(1, 1, SIZE, SIZE)  # no M_r, no M_c and a garment with no pixels
    inputs = session(source, no_clothes, images(1, seed=5), torch.zeros(1, 3, SIZE, SIZE), pose,
                     person, background, garment_mask=no_clothes)
    with torch.no_grad():
        output = one_step(model, inputs, torch.zeros(1, 3, SIZE, SIZE), no_clothes, moved)
        expected = keypoint_warp(source, person, background, pose, moved)
    assert (output.image - expected).abs().mean() < 0.02
    assert output.composition[:, 0].mean() > 0.95


def test_composition_keeps_the_face_from_the_warped_source_whatever_the_logits():
    model = FashionMirror(tiny_config(SIZE, prior=True)).eval()
    painted = torch.full((1, 3, SIZE, SIZE), 0.5)
    logits = torch.zeros(1, 3, SIZE, SIZE)
    logits[:, 2] = 50.0  # the decoder wants to paint everywhere
    person, placed = images(1, seed=1), images(1, seed=2)
    ones, zeros = torch.ones(1, 1, SIZE, SIZE), torch.zeros(1, 1, SIZE, SIZE)
    face = torch.zeros(1, 1, SIZE, SIZE)
    face[..., 4:16, 24:40] = 1.0
    candidates = (person, ones, placed, zeros)
    with torch.no_grad():
        kept = model.hsg.compose(torch.cat([painted, logits], 1), candidates, zeros, face)
        free = model.hsg.compose(torch.cat([painted, logits], 1), candidates, zeros)
    inside = face.bool().expand_as(person)
    assert torch.allclose(kept.image[inside], person[inside])
    assert torch.equal(kept.composition[:, 0:1][face.bool()], torch.ones(int(face.sum())))
    assert torch.allclose(kept.image[~inside], free.image[~inside])  # elsewhere unchanged
    assert (free.image[inside] - 0.5).abs().max() < 1e-3  # without the face rule it paints


def test_removed_mask_never_takes_the_face_off_the_source():
    import dataclasses

    from fashionmirror_ros.pose.part_flow import face_region

    config = tiny_config(SIZE, prior=True)
    pose = torch.zeros(1, 137, 3)
    for name, (x, y) in {"Neck": (32, 20), "Nose": (32, 10), "REye": (30, 8), "LEye": (34, 8),
                         "RShoulder": (25, 22), "LShoulder": (39, 22), "MidHip": (32, 44)}.items():
        pose[0, BODY[name]] = torch.tensor([x, y, 1.0])
    everything = torch.ones(1, 1, SIZE, SIZE)  # CMN's M_r marking the whole person, face too
    inputs = session(images(1), everything, images(1, seed=2), torch.zeros(1, 3, SIZE, SIZE), pose,
                     garment_mask=torch.zeros(1, 1, SIZE, SIZE))
    face = face_region(pose, SIZE, SIZE) > 0.99
    assert face.sum() > 10
    for kiosk in (False, True):
        kept = FashionMirror(config).removed_for_generation(inputs, kiosk)
        assert kept[face].max() < 0.01 and kept[~(face_region(pose, SIZE, SIZE) > 0)].min() == 1.0
    literal = dataclasses.replace(config, prior=dataclasses.replace(config.prior, face_from_source=False))
    assert torch.equal(FashionMirror(literal).removed_for_generation(inputs, False), everything)


# -- training signal on a tiny fixed batch ------------------------------------------------
def _train(parameters, loss_fn, steps, lr):
    optimiser = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def test_cmn_loss_decreases(config):
    torch.manual_seed(0)
    cmn = CoAttentionMaskNetwork(config.cmn).train()
    human, garment = images(2), images(2, seed=1)
    removed_target = torch.zeros(2, 1, SIZE, SIZE)
    removed_target[..., 16:48, 20:44] = 1
    cloth_target = torch.zeros(2, 1, SIZE, SIZE)
    cloth_target[..., 20:52, 16:48] = 1

    def loss_fn():
        removed, cloth = cmn(human, garment)
        return cmn_single_loss(removed, cloth, removed_target, cloth_target, config.loss)["total"]

    losses = _train(cmn.parameters(), loss_fn, steps=15, lr=3e-3)
    assert losses[-1] < 0.8 * losses[0]


def _textured_pair(shift):
    """A smooth random texture and its copy moved by ``shift`` = (dx, dy) pixels (circular)."""
    generator = torch.Generator().manual_seed(3)
    base = F.interpolate(torch.rand(1, 3, SIZE // 4, SIZE // 4, generator=generator), size=(SIZE, SIZE),
                         mode="bilinear", align_corners=False)
    moved = torch.roll(base, shifts=(shift[1], shift[0]), dims=(2, 3))
    return base, moved


def test_sfe_correctness_loss_decreases(config):
    torch.manual_seed(0)
    sfe = SkeletonFlowExtractor(config.sfe)
    source, target = _textured_pair((8, 4))
    flow_loss = FlowCorrectnessLoss(config.loss, config.hsg.warp_sigma)
    losses = _train(sfe.parameters(), lambda: flow_loss(source, target, sfe(source, target))["total"],
                    steps=12, lr=3e-3)
    assert losses[-1] < 0.8 * losses[0]
    # the learnt flow heads toward the true backward flow, (-8, -4) px / 4 = (-2, -1) at stride 4
    mean_flow = sfe(source, target)[-1].flow.mean(dim=(0, 2, 3))
    assert mean_flow[0] < -0.5 and mean_flow[1] < -0.2


def test_hsg_reconstruction_loss_decreases(config):
    torch.manual_seed(0)
    hsg = HumanSequenceGenerator(config.hsg, config.sfe.attentive_strides)
    source = _textured_pair((0, 0))[0].expand(2, -1, -1, -1)
    garment, mask = images(2, seed=1), torch.rand(2, 1, SIZE, SIZE)
    target = source  # reconstruct the (unmoved) previous frame
    fields = [FlowField(torch.zeros(2, 2, 8, 8), torch.full((2, 1, 8, 8), 0.5), 1 / 8),
              FlowField(torch.zeros(2, 2, 16, 16), torch.full((2, 1, 16, 16), 0.5), 1 / 4)]
    losses = _train(hsg.parameters(),
                    lambda: (hsg(source, source, garment, mask, fields) - target).abs().mean(),
                    steps=20, lr=3e-3)
    assert losses[-1] < 0.7 * losses[0]


# -- model_info ---------------------------------------------------------------------------
def test_model_info_positive_and_realtime_smaller_than_paper():
    realtime, paper = model_info("realtime"), model_info("paper")
    names = ("cmn_single", "cmn_multi", "sfe", "hsg", "total_per_frame")
    for info in (realtime, paper):
        for name in names:
            assert info["networks"][name]["params"] > 0 and info["networks"][name]["gflops"] > 0
        assert "FlopCounterMode" in info["flop_counting"]
        json.dumps(info)
    for name in names:
        assert realtime["networks"][name]["gflops"] < paper["networks"][name]["gflops"]
        assert realtime["networks"][name]["params"] < paper["networks"][name]["params"]
    # the real-time budget at 256 x 256
    assert realtime["networks"]["cmn_multi"]["gflops"] <= 1.0
    assert realtime["networks"]["sfe"]["gflops"] + realtime["networks"]["hsg"]["gflops"] <= 3.0


def test_model_info_cli_hooks_print_json(capsys):
    import argparse

    from fashionmirror_ros.models import info

    parser = argparse.ArgumentParser()
    info.add_arguments(parser)
    assert info.run(parser.parse_args(["--preset", "realtime", "--image-size", "64"])) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["preset"] == "realtime" and printed["image_size"] == 64
    assert info.run(parser.parse_args(["--image-size", "8"])) == 2


def test_same_garment_tells_the_worn_garment_from_another():
    from fashionmirror_ros.data.synthetic import SyntheticFashionVideo
    from fashionmirror_ros.models.garment_match import same_garment

    clips = SyntheticFashionVideo("test", 6, num_frames=1)
    as_image = lambda rgb: torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    as_mask = lambda m: torch.from_numpy(m.astype("float32"))[None, None]  # noqa: E731
    scores = {}
    for i in range(6):
        worn, other = clips[i], clips[(i + 1) % 6]
        for label, garment in (("own", worn), ("other", other)):
            scores[(i, label)] = float(same_garment(as_image(worn.frames[0]), as_mask(worn.cloth_masks[0]),
                                                    as_image(garment.garment), as_mask(garment.garment_mask)))
    assert sum(scores[(i, "own")] > 0.5 for i in range(6)) >= 5, scores
    assert sum(scores[(i, "other")] < 0.5 for i in range(6)) >= 5, scores
    empty = torch.zeros(1, 1, 8, 8)
    assert float(same_garment(torch.rand(1, 3, 8, 8), empty, torch.rand(1, 3, 8, 8), empty)) == 0.0


def test_cmn_mask_falls_back_to_the_placement_only_where_cmn_missed_the_person():
    from fashionmirror_ros.models.hsg import GarmentSTN, HumanSequenceGenerator

    garment_mask = torch.zeros(1, 1, SIZE, SIZE)
    garment_mask[..., 16:48, 16:48] = 1.0
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    placed = GarmentSTN.warp(garment_mask, identity).clamp(0.0, 1.0)
    no_face = torch.zeros(1, 1, SIZE, SIZE)
    cmn_agrees = torch.zeros(1, 1, SIZE, SIZE)
    cmn_agrees[..., 20:48, 16:48] = 1.0  # covers most of the placed garment, in its own shape
    kept = HumanSequenceGenerator.cloth_mask_with_placement(cmn_agrees, placed, no_face)
    assert torch.allclose(kept, cmn_agrees, atol=1e-4)
    cmn_missed = torch.zeros(1, 1, SIZE, SIZE)
    cmn_missed[..., 0:6, 0:6] = 1.0  # on the background
    fallback = HumanSequenceGenerator.cloth_mask_with_placement(cmn_missed, placed, no_face)
    assert fallback[0, 0, 30, 30] > 0.99 and fallback[0, 0, 2, 2] > 0.99
    face = torch.zeros(1, 1, SIZE, SIZE)
    face[..., 16:24, 16:48] = 1.0
    assert HumanSequenceGenerator.cloth_mask_with_placement(cmn_missed, placed, face)[0, 0, 20, 30] == 0


def test_the_stn_correction_stays_within_its_limit_and_is_free_without_one():
    torch.manual_seed(0)
    placement = torch.randn(2, 2, 3)
    garment_feature, mask_feature = torch.randn(2, 8, 8, 8), torch.randn(2, 8, 8, 8)
    bounded, free = GarmentSTN(8, 4, 0.2, correction_limit=0.15), GarmentSTN(8, 4, 0.2)
    for stn in (bounded, free):  # an STN that learned a large correction
        with torch.no_grad():
            stn.theta.weight.normal_(0.0, 3.0)
    free.load_state_dict(bounded.state_dict())
    unbounded = free.correct(placement, garment_feature, mask_feature) - placement
    limited = bounded.correct(placement, garment_feature, mask_feature) - placement
    assert unbounded.abs().max() > 1.0
    assert limited.abs().max() <= 0.15 + 1e-6
    # small corrections pass nearly unchanged (tanh is the identity near 0)
    assert torch.allclose(limited, 0.15 * torch.tanh(unbounded / 0.15))
    assert get_preset("realtime").prior.stn_correction_limit > 0
