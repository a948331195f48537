"""Tests of fashionmirror_ros.evaluation.metrics (no ROS needed)."""
import math

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage import data as skimage_data
from skimage.metrics import structural_similarity

from fashionmirror_ros.evaluation import metrics
from fashionmirror_ros.pipeline.stats import summarize

SSIM_TOLERANCE = 1e-3


def _skimage_ssim(a, b):
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    if a.ndim == 3:
        kwargs["channel_axis"] = 2
    return structural_similarity(a, b, **kwargs)


def _textured_sequence(frames=6, size=64, step_px=2, seed=0):
    """A smooth random texture seen through a window sliding ``step_px`` to the right per frame."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (size + 64, size + 16 + frames * step_px, 3)).astype(np.float32)
    texture = cv2.GaussianBlur(texture, (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.stack([texture[16 : 16 + size, 8 + t * step_px : 8 + t * step_px + size] for t in range(frames)])


# --- SSIM -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["noise", "astronaut_blur", "grey", "non_square"])
def test_ssim_matches_skimage(case):
    rng = np.random.default_rng(1)
    if case == "astronaut_blur":
        a = np.ascontiguousarray(skimage_data.astronaut()[100:228, 150:278])
        b = cv2.GaussianBlur(a, (0, 0), 1.2)
    else:
        shape = {"noise": (48, 48, 3), "grey": (40, 56), "non_square": (33, 70, 3)}[case]
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-30, 31, shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=SSIM_TOLERANCE)


def test_ssim_identical_is_one_and_rejects_bad_input():
    image = skimage_data.astronaut()[:64, :64]
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.ssim(image, image[:32])
    with pytest.raises(ValueError):
        metrics.ssim(image.astype(np.float32), image.astype(np.float32))
    with pytest.raises(ValueError):
        metrics.ssim(image[:8, :8], image[:8, :8])


# --- PSNR -----------------------------------------------------------------------------------
def test_psnr_known_value_for_known_noise():
    clean = np.full((32, 32, 3), 128, dtype=np.uint8)
    # +-10 on every pixel (checkerboard signs, no clipping) -> MSE exactly 100
    signs = np.where((np.indices((32, 32)).sum(axis=0) % 2) == 0, 1, -1)[..., None]
    noisy = (clean.astype(int) + 10 * signs).astype(np.uint8)
    expected = 10 * math.log10(255**2 / 100)  # 28.1308 dB
    assert metrics.psnr(clean, noisy) == pytest.approx(expected, abs=1e-9)


def test_psnr_identical_images_are_capped():
    image = skimage_data.astronaut()[:32, :32]
    assert metrics.psnr(image, image) == metrics.PSNR_CAP_DB
    assert math.isfinite(metrics.psnr(image, image))


# --- mask IoU -------------------------------------------------------------------------------
def test_mask_iou_cases():
    empty = np.zeros((10, 10), dtype=np.uint8)
    left = np.zeros((10, 10), dtype=np.float32)
    left[:, :5] = 1.0
    right = np.zeros((10, 10), dtype=np.float32)
    right[:, 5:] = 0.9
    middle = np.zeros((10, 10), dtype=np.uint8)
    middle[:, 3:8] = 255  # 0/255 mask
    assert metrics.mask_iou(empty, empty) == 1.0
    assert metrics.mask_iou(left, empty) == 0.0
    assert metrics.mask_iou(left, right) == 0.0
    assert metrics.mask_iou(left, left) == 1.0
    # left columns 0-4, middle 3-7: intersection 2 columns, union 8
    assert metrics.mask_iou(left, middle) == pytest.approx(2 / 8)
    assert metrics.mask_iou(left, (middle > 0).astype(np.uint8)) == pytest.approx(2 / 8)  # 0/1 mask
    soft = left * 0.4
    assert metrics.mask_iou(soft, left) == 0.0
    assert metrics.mask_iou(soft, left, threshold=0.3) == 1.0
    with pytest.raises(ValueError):
        metrics.mask_iou(left, left[:5])


# --- warping error --------------------------------------------------------------------------
def test_warping_error_low_for_smooth_motion_high_for_flicker():
    real = _textured_sequence()
    rng = np.random.default_rng(2)
    flicker = np.stack(
        [np.clip(frame.astype(int) + int(rng.integers(-30, 31)), 0, 255).astype(np.uint8) for frame in real]
    )
    smooth_error = metrics.warping_error(real)
    flicker_error = metrics.warping_error(flicker)
    assert smooth_error < 1.0
    assert flicker_error > 5.0
    assert flicker_error > 5 * smooth_error
    # generated == real: the real-flow variant equals the self-flow one
    assert metrics.warping_error_against(real, real) == pytest.approx(smooth_error)
    assert metrics.warping_error_against(flicker, real) > 5.0


def test_static_video_scores_zero_on_self_flow_but_not_against_real_flow():
    real = _textured_sequence()
    static = np.repeat(real[:1], len(real), axis=0)
    assert metrics.warping_error(static) == pytest.approx(0.0, abs=1e-6)
    assert metrics.warping_error_against(static, real) > 5.0


def test_warping_error_rejects_bad_input():
    real = _textured_sequence(frames=3)
    with pytest.raises(ValueError):
        metrics.warping_error(real[:1])
    with pytest.raises(ValueError):
        metrics.warping_error_against(real, real[:2])
    with pytest.raises(ValueError):
        metrics.warping_error(real.astype(np.float32))


# --- summarize ------------------------------------------------------------------------------
def test_summarize_percentiles_and_moments():
    values = list(range(1, 101))
    summary = summarize(values)
    assert set(summary) == {"count", "mean", "min", "max", "p50", "p95", "p99", "std"}
    assert summary["count"] == 100
    assert summary["mean"] == pytest.approx(50.5)
    assert summary["min"] == 1 and summary["max"] == 100
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p95"] == pytest.approx(95.05)  # linear: 1 + 0.95 * 99
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["std"] == pytest.approx(np.std(values))


def test_summarize_empty_and_nan():
    assert summarize([]) == {
        "count": 0, "mean": None, "min": None, "max": None, "p50": None, "p95": None, "p99": None, "std": None,
    }
    summary = summarize([1.0, float("nan"), 3.0])
    assert summary["count"] == 2 and summary["mean"] == pytest.approx(2.0)


# --- Frechet distance -----------------------------------------------------------------------
def test_frechet_distance_identical_sets_is_zero():
    features = np.random.default_rng(3).normal(size=(40, 6))
    assert metrics.frechet_distance_from_features(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_shifted_gaussians():
    rng = np.random.default_rng(4)
    root = rng.normal(size=(5, 5))
    covariance = root @ root.T + np.eye(5)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    mean = rng.normal(size=5)
    # equal covariances: only the mean term remains
    assert metrics.frechet_distance(mean, covariance, mean + shift, covariance) == pytest.approx(
        float(shift @ shift), rel=1e-6
    )
    # diagonal covariances: sum (sqrt(a) - sqrt(b))^2 + |shift|^2
    a, b = np.array([1.0, 4.0, 9.0, 0.25, 2.0]), np.array([4.0, 1.0, 1.0, 1.0, 2.0])
    expected = float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + shift @ shift)
    assert metrics.frechet_distance(mean, np.diag(a), mean + shift, np.diag(b)) == pytest.approx(expected, rel=1e-6)
    # from samples: N(0, I) against N(shift, I)
    samples_a = rng.normal(size=(20000, 5))
    samples_b = rng.normal(size=(20000, 5)) + shift
    assert metrics.frechet_distance_from_features(samples_a, samples_b) == pytest.approx(shift @ shift, rel=0.02)


def test_frechet_distance_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(5)
    distance = metrics.frechet_distance_from_features(rng.normal(size=(3, 16)), rng.normal(size=(3, 16)))
    assert math.isfinite(distance) and distance > 0


# --- learned metrics: absent without weights, loaded from files the test writes --------------
ALEXNET_CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
LPIPS_CHANNELS = (64, 192, 384, 256, 256)


def _write_lpips_files(directory):
    """A torchvision-layout AlexNet backbone file and a public-layout LPIPS linear-layer file."""
    generator = torch.Generator().manual_seed(0)
    backbone = {}
    for index, (cout, cin, k) in ALEXNET_CONVS.items():
        backbone[f"features.{index}.weight"] = torch.randn(cout, cin, k, k, generator=generator) * (2 / (cin * k * k)) ** 0.5
        backbone[f"features.{index}.bias"] = torch.zeros(cout)
    backbone["classifier.1.weight"] = torch.zeros(4, 4)  # a full torchvision file also has these
    linear = {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator) for i, c in enumerate(LPIPS_CHANNELS)
    }
    backbone_path, linear_path = directory / "alexnet.safetensors", directory / "lpips_alex.pth"
    save_file(backbone, str(backbone_path))
    torch.save(linear, str(linear_path))  # plain tensor dict, read back with weights_only=True
    return backbone_path, linear_path


def test_learned_metrics_are_absent_without_weights():
    image = skimage_data.astronaut()[:64, :64]
    assert metrics.lpips(image, image, None) is None
    assert metrics.vfid([np.zeros((2, 16, 16, 3), np.uint8)] * 2, [np.zeros((2, 16, 16, 3), np.uint8)] * 2, None) is None


def test_lpips_loads_weight_files_and_returns_finite_distances(tmp_path):
    backbone_path, linear_path = _write_lpips_files(tmp_path)
    image = np.ascontiguousarray(skimage_data.astronaut()[100:164, 150:214])
    other = cv2.GaussianBlur(image, (0, 0), 2.0)
    weights = [backbone_path, linear_path]
    same = metrics.lpips(image, image, weights)
    different = metrics.lpips(image, other, weights)
    assert same == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(different) and different > 0
    batch = metrics.lpips(np.stack([image, image]), np.stack([other, other]), weights)
    assert batch == pytest.approx(different, rel=1e-5)


def test_lpips_refuses_incomplete_weights(tmp_path):
    _, linear_path = _write_lpips_files(tmp_path)
    with pytest.raises(ValueError, match="missing"):
        metrics.load_lpips_network(linear_path)
    with pytest.raises(FileNotFoundError):
        metrics.load_lpips_network(tmp_path / "absent.safetensors")


def test_vfid_loads_a_weight_file_and_returns_a_finite_distance(tmp_path):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        state = metrics.build_video_feature_extractor().state_dict()
    weights_path = tmp_path / "r3d_18.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(weights_path))
    real = _textured_sequence(frames=4, size=32)
    rng = np.random.default_rng(6)
    real_videos = [np.roll(real, shift, axis=2) for shift in (0, 3, 7)]
    fake_videos = [np.clip(v.astype(int) + rng.integers(-40, 41, v.shape), 0, 255).astype(np.uint8)
                   for v in real_videos]
    distance = metrics.vfid(real_videos, fake_videos, weights_path, frame_size=32)
    assert math.isfinite(distance) and distance > 0
    assert metrics.vfid(real_videos, real_videos, weights_path, frame_size=32) == pytest.approx(0.0, abs=1e-6)
