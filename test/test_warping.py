"""Gaussian sampling (GFLA-style 4x4 neighbourhood) and flow resizing."""
import math

import pytest
import torch

from fashionmirror_ros.models.warping import gaussian_warp, resize_flow


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def reference_warp(features, flow, sigma):
    """Direct per-pixel transcription of the definition (slow, float64)."""
    batch, channels, height, width = features.shape
    out = torch.zeros(batch, channels, height, width, dtype=torch.float64)
    for b in range(batch):
        for y in range(height):
            for x in range(width):
                qx = x + float(flow[b, 0, y, x])
                qy = y + float(flow[b, 1, y, x])
                x0, y0 = math.floor(qx), math.floor(qy)
                total = torch.zeros(channels, dtype=torch.float64)
                weight_sum = 0.0
                for oy in (-1, 0, 1, 2):
                    for ox in (-1, 0, 1, 2):
                        sx, sy = x0 + ox, y0 + oy
                        w = math.exp(-((qx - sx) ** 2) / (2 * sigma ** 2)) * \
                            math.exp(-((qy - sy) ** 2) / (2 * sigma ** 2))
                        ix = min(max(sx, 0), width - 1)
                        iy = min(max(sy, 0), height - 1)
                        total += w * features[b, :, iy, ix].double()
                        weight_sum += w
                out[b, :, y, x] = total / weight_sum
    return out


def test_matches_direct_definition_for_fractional_flow_and_borders():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 5, 6)
    flow = torch.randn(2, 2, 5, 6) * 2.5  # reaches past the borders
    for sigma in (0.7, 2.0):
        expected = reference_warp(features, flow, sigma)
        assert torch.allclose(gaussian_warp(features, flow, sigma).double(), expected, atol=1e-5)


def test_zero_flow_is_identity_as_sigma_goes_to_zero():
    torch.manual_seed(1)
    features = torch.randn(2, 4, 9, 11)
    zero = torch.zeros(2, 2, 9, 11)
    assert (gaussian_warp(features, zero, 0.05) - features).abs().max() < 1e-5
    assert (gaussian_warp(features, zero, 0.01) - features).abs().max() < 1e-5


def test_zero_flow_with_sigma_two_is_a_normalised_blur():
    # a constant map stays constant (weights sum to 1); a non-constant map is smoothed
    constant = torch.full((1, 2, 7, 7), 3.25)
    assert torch.allclose(gaussian_warp(constant, torch.zeros(1, 2, 7, 7), 2.0), constant)
    torch.manual_seed(2)
    noise = torch.randn(1, 1, 16, 16)
    blurred = gaussian_warp(noise, torch.zeros(1, 2, 16, 16), 2.0)
    assert blurred.var() < 0.5 * noise.var()


def test_integer_translation_moves_features_exactly():
    torch.manual_seed(3)
    features = torch.randn(1, 5, 12, 14)
    flow = torch.zeros(1, 2, 12, 14)
    flow[:, 0], flow[:, 1] = 3.0, -2.0  # out(y, x) = in(y - 2, x + 3)
    warped = gaussian_warp(features, flow, 0.05)
    # grid_sample takes the sampling points in [-1, 1]: float32 rounding of that round trip
    # leaves about 1e-4 of a neighbour in each value
    assert torch.allclose(warped[:, :, 2:, :-3], features[:, :, :-2, 3:], atol=2e-4)


def test_sampling_far_outside_replicates_the_border_and_stays_finite():
    features = torch.arange(12.0).view(1, 1, 3, 4)
    far_right = torch.zeros(1, 2, 3, 4)
    far_right[:, 0] = 1e30
    expected = features[0, 0, :, -1:].expand(3, 4)
    assert torch.allclose(gaussian_warp(features, far_right, 0.05)[0, 0], expected)
    far_corner = torch.full((1, 2, 3, 4), -1e30)  # every neighbour clamps to pixel (0, 0)
    assert torch.allclose(gaussian_warp(features, far_corner, 2.0), torch.zeros(1, 1, 3, 4))
    nan_flow = torch.full((1, 2, 3, 4), float("nan"))
    assert torch.isfinite(gaussian_warp(features, nan_flow, 2.0)).all()


def test_gradients_reach_features_and_flow():
    torch.manual_seed(4)
    features = torch.randn(2, 3, 8, 8, requires_grad=True)
    flow = (torch.randn(2, 2, 8, 8) * 1.3).requires_grad_()
    target = torch.randn(2, 3, 8, 8)
    loss = (gaussian_warp(features, flow, 2.0) - target).square().mean()
    loss.backward()
    for grad in (features.grad, flow.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_gradcheck_in_double_precision():
    torch.manual_seed(5)
    features = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    # keep q = p + flow away from integers, where floor(q) switches neighbourhoods
    flow = (torch.randint(-2, 3, (1, 2, 4, 5)).double() + 0.3 + 0.4 * torch.rand(1, 2, 4, 5))
    flow.requires_grad_()
    assert torch.autograd.gradcheck(lambda f, fl: gaussian_warp(f, fl, 1.5), (features, flow))


def test_shape_errors_are_explicit():
    with pytest.raises(ValueError, match="resize_flow"):
        gaussian_warp(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 8, 8), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_warp(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 4), 0.0)


def test_resize_flow_scales_offsets_per_axis():
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0], flow[:, 1] = 1.5, -2.0
    resized = resize_flow(flow, (16, 32))  # H x2, W x4
    assert resized.shape == (1, 2, 16, 32)
    assert torch.allclose(resized[:, 0], torch.full((1, 16, 32), 6.0))
    assert torch.allclose(resized[:, 1], torch.full((1, 16, 32), -4.0))
    assert resize_flow(flow, (8, 8)) is flow


def test_resized_translation_warps_consistently_across_levels():
    torch.manual_seed(6)
    fine = torch.randn(1, 3, 16, 16)
    coarse_flow = torch.zeros(1, 2, 8, 8)
    coarse_flow[:, 0] = 2.0  # 2 coarse pixels = 4 fine pixels
    warped = gaussian_warp(fine, resize_flow(coarse_flow, (16, 16)), 0.05)
    assert torch.allclose(warped[:, :, :, :-4], fine[:, :, :, 4:], atol=1e-6)


def test_bfloat16_features_sample_at_float32_coordinates():
    torch.manual_seed(7)
    features = torch.randn(1, 2, 8, 70)
    flow = torch.zeros(1, 2, 8, 70)
    flow[:, 0] = 1.0  # out(x) = in(x + 1): bf16 alone would round x + 1 for x > 64
    warped = gaussian_warp(features.bfloat16(), flow.bfloat16(), 0.05)
    assert warped.dtype == torch.bfloat16
    assert torch.equal(warped[..., :-1], features.bfloat16()[..., 1:])


def _gather_reference(features, flow, sigma):
    """The 16-neighbour gather, written out: what the four bilinear samples must equal."""
    _, _, height, width = features.shape
    ys = torch.arange(height, dtype=flow.dtype).view(1, height, 1) + flow[:, 1]
    xs = torch.arange(width, dtype=flow.dtype).view(1, 1, width) + flow[:, 0]
    out = torch.zeros_like(features)
    total = torch.zeros_like(flow[:, :1])
    for dy in (-1, 0, 1, 2):
        for dx in (-1, 0, 1, 2):
            qy, qx = torch.floor(ys) + dy, torch.floor(xs) + dx
            weight = torch.exp(-((ys - qy) ** 2 + (xs - qx) ** 2) / (2 * sigma * sigma)).unsqueeze(1)
            index = (qy.clamp(0, height - 1) * width + qx.clamp(0, width - 1)).long().view(flow.shape[0], 1, -1)
            sampled = torch.gather(features.flatten(2), 2, index.expand(-1, features.shape[1], -1))
            out = out + weight * sampled.view_as(features)
            total = total + weight
    return out / total


def test_four_bilinear_samples_equal_the_sixteen_neighbour_window():
    torch.manual_seed(7)
    features = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    flow = torch.randn(2, 2, 9, 11, dtype=torch.float64) * 3.0
    assert torch.allclose(gaussian_warp(features, flow, 1.7), _gather_reference(features, flow, 1.7), atol=1e-9)
