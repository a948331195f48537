"""Image, mask, temporal and learned metrics used by the FashionMirror evaluation.

All image inputs are uint8 RGB arrays of shape (H, W, 3) (a single-channel (H, W) array is also
accepted by SSIM and PSNR); videos are uint8 arrays (T, H, W, 3).

Definitions
-----------
SSIM (Wang et al., TIP 2004): per channel, local statistics under an 11-tap Gaussian window
(sigma 1.5, normalised to sum 1): means mu_a, mu_b, population variances sigma_a^2, sigma_b^2 and
covariance sigma_ab. The SSIM map is
    ((2 mu_a mu_b + C1)(2 sigma_ab + C2)) / ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2))
with C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 255. The map is averaged over the pixels whose window
lies fully inside the image (a 5-pixel border is dropped), then over the channels. This is the
value ``skimage.metrics.structural_similarity(channel_axis=2, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`` returns.

PSNR: 10 log10(255^2 / MSE) in dB, MSE over all pixels and channels. Identical images have an
infinite PSNR; it is reported as the finite cap ``PSNR_CAP_DB`` (100 dB) so that means and
percentiles over a clip stay finite. Any larger value is clipped to the same cap.

Mask IoU: |P and T| / |P or T| after binarising both masks at ``threshold``; two empty masks
agree perfectly (1.0). Boolean masks are used as they are; float masks are probabilities in
[0, 1]; integer masks are 0/1 masks when their maximum is at most 1, else 0..255 masks (scaled
by 1/255 before thresholding).

Warping error (temporal consistency; lower is smoother). For every consecutive pair (t, t+1):
  1. dense optical flow with OpenCV's DIS optical flow (preset MEDIUM) on the grey-level images,
     forward f (t -> t+1, so that I_t(x) ~ I_{t+1}(x + f(x))) and backward b (t+1 -> t);
  2. frame t+1 is warped back onto frame t: W(x) = I_{t+1}(x + f(x)) (bilinear);
  3. a pixel x is valid when x + f(x) lies inside the image and passes the forward-backward
     consistency check of Sundaram et al. (ECCV 2010), as used by Lai et al. (ECCV 2018) for
     video temporal consistency:
         |f(x) + b(x + f(x))|^2 < 0.01 (|f(x)|^2 + |b(x + f(x))|^2) + 0.5
     (pixels failing it are treated as occluded or mismatched and ignored);
  4. the pair error is the mean absolute difference |I_t(x) - W(x)| over valid pixels and the
     three channels, in 8-bit intensity levels (0..255).
The clip's warping error is the mean of the pair errors (pairs without any valid pixel are
skipped; a clip where no pair has one gives NaN).
Two variants, both reported under these names:
  - ``warping_error`` (report key ``warping_error_self``): the flow comes from the evaluated
    frames themselves. It measures flicker, but a frozen video scores 0.
  - ``warping_error_against`` (report key ``warping_error_real_flow``): the flow and the
    occlusion mask come from the REAL (ground-truth) frames and are applied to the generated
    ones, so generated frames must move like the real ones to score low; a static image does not
    score 0 when the real person moves. With generated == real it equals ``warping_error(real)``.

LPIPS (Zhang et al., CVPR 2018), optional, from local weight files only: inputs scaled to
[-1, 1], shifted and scaled per channel by the LPIPS scaling layer, AlexNet (or VGG16) features
tapped after each ReLU stage, each unit-normalised over channels, squared difference, a learned
1x1 linear layer per stage, spatial mean, summed over stages. The module names follow the public
LPIPS checkpoint layout (``net.sliceK.<torchvision index>.weight``, ``linK.model.1.weight``), and a
torchvision AlexNet/VGG16 state dict (``features.<index>.weight``) is remapped onto the slices, so
the public linear-layer file plus a torchvision backbone file can be passed together.

VFID (Frechet Video Distance in the sense of Wang et al. vid2vid / the paper's [17]), optional,
from a local weight file only: each video becomes one 512-d feature, the global average pool of a
3D-ResNet-18 (R3D-18 of Tran et al. CVPR 2018, the paper's [37]) over the whole clip, frames
resized to 112x112 and normalised with the Kinetics mean/std. The network's parameter names follow
torchvision's ``r3d_18`` (``stem.0.weight``, ``layer1.0.conv1.0.weight``, ...), so its Kinetics
weight file loads (the ``fc`` classifier is not used). The I3D variant of the paper is not
implemented. VFID = Frechet distance between Gaussians fitted to the real and generated features:
    d^2 = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 sqrtm(S_r S_g)).

When a learned metric's ``weights_path`` is None the metric is absent and the function returns
None: random weights are never presented as LPIPS or VFID.

The summary of a series (count, mean, percentiles, ...) is fashionmirror_ros.pipeline.stats.summarize.
"""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

import cv2
import numpy as np
import scipy.linalg
from scipy import ndimage

WeightsPath = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]

# --- SSIM / PSNR constants (Wang et al. 2004, 8-bit images) ---
DATA_RANGE_8BIT = 255.0
SSIM_WINDOW_SIZE = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PSNR_CAP_DB = 100.0

# --- mask IoU ---
MASK_THRESHOLD = 0.5

# --- warping error: DIS optical flow and the forward-backward consistency check ---
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
CONSISTENCY_RELATIVE_TOLERANCE = 0.01  # alpha_1 of Sundaram et al. 2010
CONSISTENCY_ABSOLUTE_TOLERANCE = 0.5  # alpha_2, in pixels squared
WARPING_ERROR_REPORT_NAMES = ("warping_error_self", "warping_error_real_flow")

# --- LPIPS (values of the public LPIPS v0.1 scaling layer) ---
LPIPS_INPUT_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_INPUT_SCALE = (0.458, 0.448, 0.450)
LPIPS_NORMALISE_EPS = 1e-10

# --- VFID feature extractor (torchvision r3d_18 input convention) ---
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
R3D_FRAME_SIZE = 112
R3D_FEATURE_DIM = 512
FRECHET_COVARIANCE_OFFSET = 1e-6
FRECHET_IMAGINARY_TOLERANCE = 1e-3



# ---------------------------------------------------------------------------------------------
# SSIM, PSNR
# ---------------------------------------------------------------------------------------------
def _check_image_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    return a, b


def _gaussian_window_1d(size: int, sigma: float) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    window = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return window / window.sum()


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two uint8 images (RGB averaged over channels); see module doc."""
    a, b = _check_image_pair(a, b)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    height, width = a.shape[:2]
    if min(height, width) < SSIM_WINDOW_SIZE:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW_SIZE}x{SSIM_WINDOW_SIZE}")
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    window = _gaussian_window_1d(SSIM_WINDOW_SIZE, SSIM_SIGMA)
    radius = SSIM_WINDOW_SIZE // 2

    def local_mean(image: np.ndarray) -> np.ndarray:
        # Separable Gaussian; border values never reach the cropped interior, so the mode is moot.
        blurred = ndimage.correlate1d(image, window, axis=0, mode="reflect")
        blurred = ndimage.correlate1d(blurred, window, axis=1, mode="reflect")
        return blurred[radius:-radius, radius:-radius]

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov_xy = local_mean(x * y) - mu_x * mu_y
    c1 = (SSIM_K1 * DATA_RANGE_8BIT) ** 2
    c2 = (SSIM_K2 * DATA_RANGE_8BIT) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean(axis=(0, 1)).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (data range 255), capped at ``PSNR_CAP_DB``."""
    a, b = _check_image_pair(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return PSNR_CAP_DB
    return float(min(10.0 * np.log10(DATA_RANGE_8BIT**2 / mse), PSNR_CAP_DB))


# ---------------------------------------------------------------------------------------------
# Mask IoU
# ---------------------------------------------------------------------------------------------
def _binarise_mask(mask: np.ndarray, threshold: float) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {mask.shape}")
    if mask.dtype == np.bool_:
        return mask
    if np.issubdtype(mask.dtype, np.integer):
        scale = DATA_RANGE_8BIT if mask.size and mask.max() > 1 else 1.0
        return mask.astype(np.float64) / scale >= threshold
    return mask.astype(np.float64) >= threshold


def mask_iou(pred: np.ndarray, truth: np.ndarray, threshold: float = MASK_THRESHOLD) -> float:
    """Intersection over union of two (H, W) masks binarised at ``threshold``; both empty -> 1.0."""
    pred_fg = _binarise_mask(pred, threshold)
    truth_fg = _binarise_mask(truth, threshold)
    if pred_fg.shape != truth_fg.shape:
        raise ValueError(f"mask shapes differ: {pred_fg.shape} vs {truth_fg.shape}")
    union = np.count_nonzero(pred_fg | truth_fg)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred_fg & truth_fg) / union)


# ---------------------------------------------------------------------------------------------
# Warping error (temporal consistency)
# ---------------------------------------------------------------------------------------------
def _check_video(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name}: expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[0] < 2:
        raise ValueError(f"{name}: the warping error needs at least 2 frames, got {frames.shape[0]}")
    return frames


def optical_flow(source_rgb: np.ndarray, target_rgb: np.ndarray) -> np.ndarray:
    """DIS optical flow (preset MEDIUM) such that source(x) ~ target(x + flow(x)); (H, W, 2) float32."""
    source_grey = cv2.cvtColor(source_rgb, cv2.COLOR_RGB2GRAY)
    target_grey = cv2.cvtColor(target_rgb, cv2.COLOR_RGB2GRAY)
    estimator = cv2.DISOpticalFlow_create(FLOW_PRESET)
    return estimator.calc(source_grey, target_grey, None)


def _sampling_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = flow.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def _backward_warp(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(
        image.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )


def _valid_flow_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels whose forward flow lands inside the image and passes the forward-backward check."""
    height, width = forward.shape[:2]
    map_x, map_y = _sampling_maps(forward)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    backward_at_target = _backward_warp(backward, map_x, map_y)
    round_trip = forward + backward_at_target
    squared_mismatch = np.sum(round_trip**2, axis=-1)
    squared_magnitudes = np.sum(forward**2, axis=-1) + np.sum(backward_at_target**2, axis=-1)
    consistent = squared_mismatch < (
        CONSISTENCY_RELATIVE_TOLERANCE * squared_magnitudes + CONSISTENCY_ABSOLUTE_TOLERANCE
    )
    return inside & consistent


def _pair_warping_errors(evaluated: np.ndarray, flow_frames: np.ndarray) -> list[float]:
    """Per-pair errors of ``evaluated`` frames warped with flows estimated on ``flow_frames``."""
    errors = []
    for t in range(evaluated.shape[0] - 1):
        forward = optical_flow(flow_frames[t], flow_frames[t + 1])
        backward = optical_flow(flow_frames[t + 1], flow_frames[t])
        valid = _valid_flow_mask(forward, backward)
        if not valid.any():
            continue
        map_x, map_y = _sampling_maps(forward)
        warped_next = _backward_warp(evaluated[t + 1], map_x, map_y)
        per_pixel = np.abs(evaluated[t].astype(np.float32) - warped_next).mean(axis=-1)
        errors.append(float(per_pixel[valid].mean()))
    return errors


def warping_error(frames: np.ndarray) -> float:
    """Warping error of a video with flow from its own frames (report key ``warping_error_self``)."""
    frames = _check_video(frames, "frames")
    errors = _pair_warping_errors(frames, frames)
    return float(np.mean(errors)) if errors else float("nan")


def warping_error_against(generated: np.ndarray, real: np.ndarray) -> float:
    """Warping error of ``generated`` with the flow and occlusions of ``real``
    (report key ``warping_error_real_flow``)."""
    generated = _check_video(generated, "generated")
    real = _check_video(real, "real")
    if generated.shape != real.shape:
        raise ValueError(f"generated {generated.shape} and real {real.shape} videos differ in shape")
    errors = _pair_warping_errors(generated, real)
    return float(np.mean(errors)) if errors else float("nan")


# ---------------------------------------------------------------------------------------------
# Weight files (safetensors, or a plain tensor dict read with torch.load(weights_only=True))
# ---------------------------------------------------------------------------------------------
def _weight_paths(weights_path: WeightsPath) -> tuple[Path, ...]:
    if isinstance(weights_path, (str, os.PathLike)):
        return (Path(weights_path),)
    return tuple(Path(p) for p in weights_path)


def read_state_dict(path: Union[str, os.PathLike]) -> dict:
    """Tensors of one weight file: ``.safetensors``, or a tensor dict saved by ``torch.save``
    (read with ``weights_only=True``, so nothing is unpickled). A ``state_dict`` wrapper and a
    ``module.`` prefix (DataParallel) are removed."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
            state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a flat mapping of parameter names to tensors")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def _load_checked(module, state: dict, optional_missing: Iterable[str], ignored_prefixes=()) -> None:
    """Load ``state`` into ``module``; every parameter must be present (no silent random weights)."""
    state = {k: v for k, v in state.items() if not k.startswith(tuple(ignored_prefixes))}
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise ValueError(f"weight file does not match {type(module).__name__}: {error}") from error
    optional = tuple(optional_missing)
    missing = [k for k in result.missing_keys if not k.endswith(optional)]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"weight file does not match {type(module).__name__}: "
            f"{len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[:3]})"
        )


def _file_identity(paths: tuple[Path, ...]) -> tuple:
    # The cache key includes modification times so a rewritten weight file is read again.
    return tuple((str(p.resolve()), p.stat().st_mtime_ns) for p in paths)


# ---------------------------------------------------------------------------------------------
# LPIPS
# ---------------------------------------------------------------------------------------------
# torchvision ``features`` layouts: ("conv", in, out, kernel, stride, padding) | ("relu",) |
# ("pool", kernel, stride). LPIPS taps the output of each slice (index ranges into features).
_ALEXNET_FEATURES = (
    ("conv", 3, 64, 11, 4, 2), ("relu",), ("pool", 3, 2),
    ("conv", 64, 192, 5, 1, 2), ("relu",), ("pool", 3, 2),
    ("conv", 192, 384, 3, 1, 1), ("relu",),
    ("conv", 384, 256, 3, 1, 1), ("relu",),
    ("conv", 256, 256, 3, 1, 1), ("relu",),
)
_ALEXNET_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))


def _vgg16_features() -> tuple:
    layers: list[tuple] = []
    in_channels = 3
    for stage_width, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        if layers:
            layers.append(("pool", 2, 2))
        for _ in range(convs):
            layers += [("conv", in_channels, stage_width, 3, 1, 1), ("relu",)]
            in_channels = stage_width
    return tuple(layers)


_LPIPS_BACKBONES = {
    "alex": (_ALEXNET_FEATURES, _ALEXNET_SLICES),
    "vgg": (_vgg16_features(), ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))),
}


def build_lpips_network(net: str = "alex"):
    """The LPIPS module with UNTRAINED weights (for writing or checking weight files; never
    evaluated as the metric: use ``load_lpips_network``)."""
    import torch
    from torch import nn

    if net not in _LPIPS_BACKBONES:
        raise ValueError(f"unknown LPIPS backbone {net!r}; expected one of {sorted(_LPIPS_BACKBONES)}")
    features, slices = _LPIPS_BACKBONES[net]

    def make_layer(spec: tuple) -> nn.Module:
        if spec[0] == "conv":
            _, cin, cout, kernel, stride, padding = spec
            return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding)
        if spec[0] == "relu":
            return nn.ReLU(inplace=False)
        return nn.MaxPool2d(kernel_size=spec[1], stride=spec[2])

    class ScalingLayer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("shift", torch.tensor(LPIPS_INPUT_SHIFT).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.tensor(LPIPS_INPUT_SCALE).view(1, 3, 1, 1))

        def forward(self, x):
            return (x - self.shift) / self.scale

    class TappedFeatures(nn.Module):
        """Backbone split into slices whose children keep their torchvision ``features`` index."""

        def __init__(self) -> None:
            super().__init__()
            self.slice_count = len(slices)
            for slice_number, (start, stop) in enumerate(slices, start=1):
                stage = nn.Sequential()
                for index in range(start, stop):
                    stage.add_module(str(index), make_layer(features[index]))
                setattr(self, f"slice{slice_number}", stage)

        def forward(self, x):
            taps = []
            for slice_number in range(1, self.slice_count + 1):
                x = getattr(self, f"slice{slice_number}")(x)
                taps.append(x)
            return taps

    class LinearCalibration(nn.Module):
        """1x1 conv to one channel; index 0 is the (inactive at eval) dropout of the public layout."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    class LpipsNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scaling_layer = ScalingLayer()
            self.net = TappedFeatures()
            tap_channels = [
                [spec for spec in features[start:stop] if spec[0] == "conv"][-1][2]
                for start, stop in slices
            ]
            for index, channels in enumerate(tap_channels):
                setattr(self, f"lin{index}", LinearCalibration(channels))
            self.tap_count = len(tap_channels)

        def forward(self, in0, in1):
            """Distances (N,) between image batches (N, 3, H, W) scaled to [-1, 1]."""
            taps0 = self.net(self.scaling_layer(in0))
            taps1 = self.net(self.scaling_layer(in1))
            total = 0.0
            for index, (f0, f1) in enumerate(zip(taps0, taps1)):
                f0 = f0 / (f0.pow(2).sum(dim=1, keepdim=True).sqrt() + LPIPS_NORMALISE_EPS)
                f1 = f1 / (f1.pow(2).sum(dim=1, keepdim=True).sqrt() + LPIPS_NORMALISE_EPS)
                calibrated = getattr(self, f"lin{index}").model((f0 - f1) ** 2)
                total = total + calibrated.mean(dim=(2, 3))
            return total.flatten()

    return LpipsNetwork()


def _remap_torchvision_features(state: dict, slices: tuple) -> dict:
    """``features.<i>.*`` (a torchvision AlexNet/VGG16 file) -> ``net.slice<k>.<i>.*``."""
    slice_of_index = {
        index: slice_number
        for slice_number, (start, stop) in enumerate(slices, start=1)
        for index in range(start, stop)
    }
    remapped = {}
    for key, value in state.items():
        if not key.startswith("features."):
            remapped[key] = value
            continue
        index_text, rest = key[len("features."):].split(".", 1)
        index = int(index_text)
        if index not in slice_of_index:
            continue  # layers past the last LPIPS tap are not part of the metric
        remapped[f"net.slice{slice_of_index[index]}.{index}.{rest}"] = value
    return remapped


def load_lpips_network(weights_path: WeightsPath, net: str = "alex"):
    """Build the LPIPS network and load it from one or more local weight files (merged).

    Every backbone and linear-layer parameter must be present in the files; the scaling-layer
    constants may be absent (they are fixed). A torchvision classifier (``classifier.*``) is
    ignored. Returns the module in eval mode."""
    paths = _weight_paths(weights_path)
    if not paths:
        raise ValueError("no LPIPS weight file given")
    network = build_lpips_network(net)
    _, slices = _LPIPS_BACKBONES[net]
    state: dict = {}
    for path in paths:
        state.update(_remap_torchvision_features(read_state_dict(path), slices))
    _load_checked(network, state, optional_missing=("shift", "scale"), ignored_prefixes=("classifier.",))
    return network.eval()


@functools.lru_cache(maxsize=4)
def _cached_lpips_network(identity: tuple, net: str):
    return load_lpips_network([path for path, _ in identity], net=net)


def _images_to_tensor(images: np.ndarray):
    import torch

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[-1] != 3 or images.ndim not in (3, 4):
        raise ValueError(f"expected uint8 RGB (H, W, 3) or (N, H, W, 3), got {images.dtype} {images.shape}")
    if images.ndim == 3:
        images = images[None]
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return tensor / (DATA_RANGE_8BIT / 2.0) - 1.0


def lpips(a: np.ndarray, b: np.ndarray, weights_path: WeightsPath | None, net: str = "alex") -> float | None:
    """LPIPS distance (lower = more similar) between uint8 RGB images (H, W, 3) or batches
    (N, H, W, 3) (mean over the batch); None when no weight file is given."""
    if weights_path is None:
        return None
    import torch

    a_tensor, b_tensor = _images_to_tensor(a), _images_to_tensor(b)
    if a_tensor.shape != b_tensor.shape:
        raise ValueError(f"image shapes differ: {tuple(a_tensor.shape)} vs {tuple(b_tensor.shape)}")
    network = _cached_lpips_network(_file_identity(_weight_paths(weights_path)), net)
    with torch.inference_mode():
        return float(network(a_tensor, b_tensor).mean())


# ---------------------------------------------------------------------------------------------
# VFID: 3D-ResNet-18 features and the Frechet distance
# ---------------------------------------------------------------------------------------------
def build_video_feature_extractor():
    """The R3D-18 feature extractor with UNTRAINED weights (for writing or checking weight files;
    never evaluated as the metric: use ``load_video_feature_extractor``)."""
    from torch import nn

    def conv3x3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv3d:
        return nn.Conv3d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)

    class BasicBlock3d(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Sequential(conv3x3x3(cin, cout, stride), nn.BatchNorm3d(cout), nn.ReLU())
            self.conv2 = nn.Sequential(conv3x3x3(cout, cout), nn.BatchNorm3d(cout))
            self.relu = nn.ReLU()
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv3d(cin, cout, kernel_size=1, stride=stride, bias=False), nn.BatchNorm3d(cout)
                )

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            return self.relu(self.conv2(self.conv1(x)) + shortcut)

    class R3D18Features(nn.Module):
        """R3D-18 up to the global average pool; parameter names as torchvision's r3d_18."""

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                nn.BatchNorm3d(64),
                nn.ReLU(),
            )
            widths = (64, 128, 256, 512)
            in_width = 64
            for stage, width in enumerate(widths, start=1):
                first_stride = 1 if stage == 1 else 2
                blocks = nn.Sequential(BasicBlock3d(in_width, width, first_stride), BasicBlock3d(width, width, 1))
                setattr(self, f"layer{stage}", blocks)
                in_width = width

        def forward(self, clip):
            """(N, 3, T, H, W) normalised clips -> (N, 512) pooled features."""
            x = self.stem(clip)
            for stage in range(1, 5):
                x = getattr(self, f"layer{stage}")(x)
            return x.mean(dim=(2, 3, 4))

    return R3D18Features()


def load_video_feature_extractor(weights_path: WeightsPath):
    """R3D-18 feature extractor loaded from local weight file(s); ``fc.*`` and BatchNorm's
    ``num_batches_tracked`` may be present or not. Returns the module in eval mode."""
    paths = _weight_paths(weights_path)
    if not paths:
        raise ValueError("no VFID weight file given")
    network = build_video_feature_extractor()
    state: dict = {}
    for path in paths:
        state.update(read_state_dict(path))
    _load_checked(network, state, optional_missing=("num_batches_tracked",), ignored_prefixes=("fc.",))
    return network.eval()


@functools.lru_cache(maxsize=2)
def _cached_video_feature_extractor(identity: tuple):
    return load_video_feature_extractor([path for path, _ in identity])


def video_features(network, videos: Sequence[np.ndarray], frame_size: int = R3D_FRAME_SIZE) -> np.ndarray:
    """One pooled R3D-18 feature per video: (len(videos), 512) float64. Frames are resized to
    ``frame_size`` squared (non-square frames are squashed, not cropped) and Kinetics-normalised."""
    import torch

    mean = torch.tensor(KINETICS_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(KINETICS_STD).view(3, 1, 1, 1)
    features = []
    with torch.inference_mode():
        for video in videos:
            video = np.asarray(video)
            if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or len(video) == 0:
                raise ValueError(f"expected a uint8 video (T, H, W, 3), got {video.dtype} {video.shape}")
            resized = np.stack(
                [cv2.resize(frame, (frame_size, frame_size), interpolation=cv2.INTER_AREA) for frame in video]
            )
            # contiguous (C, T, H, W): a permuted view sends every conv3d down a much slower path
            clip = torch.from_numpy(resized).permute(3, 0, 1, 2).contiguous().float() / DATA_RANGE_8BIT
            clip = (clip - mean) / std
            features.append(network(clip[None]).double().numpy()[0])
    return np.stack(features)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):
    |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)).

    A product of (near-)singular covariances, as with fewer samples than dimensions, can make
    sqrtm non-finite or complex: then a small multiple of the identity is added to both
    covariances. Remaining imaginary parts must be numerical noise and are dropped."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError("means and covariances have inconsistent shapes")
    mean_term = float(np.sum((mu1 - mu2) ** 2))

    def sqrt_product(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
        # Singular products are expected with few samples; the result is checked below instead.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            return scipy.linalg.sqrtm(s1 @ s2)

    covariance_mean = sqrt_product(sigma1, sigma2)
    if not np.all(np.isfinite(covariance_mean)) or (
        np.iscomplexobj(covariance_mean)
        and np.max(np.abs(np.diagonal(covariance_mean).imag)) > FRECHET_IMAGINARY_TOLERANCE
    ):
        offset = np.eye(sigma1.shape[0]) * FRECHET_COVARIANCE_OFFSET
        covariance_mean = sqrt_product(sigma1 + offset, sigma2 + offset)
    if np.iscomplexobj(covariance_mean):
        largest_imaginary = np.max(np.abs(np.diagonal(covariance_mean).imag))
        if largest_imaginary > FRECHET_IMAGINARY_TOLERANCE:
            raise ValueError(f"sqrtm left an imaginary component of {largest_imaginary:.3g}")
        covariance_mean = covariance_mean.real
    distance = mean_term + float(np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covariance_mean))
    # Rounding can push a zero distance slightly below 0; a distance is never negative.
    return max(distance, 0.0)


def frechet_distance_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted (mean, covariance with ddof 1) to two (N, D) sets."""
    features_a = np.asarray(features_a, np.float64)
    features_b = np.asarray(features_b, np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"expected (N, D) feature sets with equal D, got {features_a.shape}, {features_b.shape}")
    if min(len(features_a), len(features_b)) < 2:
        raise ValueError("the Frechet distance needs at least 2 samples per set to estimate a covariance")
    return frechet_distance(
        features_a.mean(axis=0), np.cov(features_a, rowvar=False),
        features_b.mean(axis=0), np.cov(features_b, rowvar=False),
    )


def vfid(
    real_videos: Sequence[np.ndarray],
    fake_videos: Sequence[np.ndarray],
    weights_path: WeightsPath | None,
    frame_size: int = R3D_FRAME_SIZE,
) -> float | None:
    """VFID with R3D-18 features (one pooled feature per video, at least 2 videos per set);
    None when no weight file is given."""
    if weights_path is None:
        return None
    network = _cached_video_feature_extractor(_file_identity(_weight_paths(weights_path)))
    real_features = video_features(network, real_videos, frame_size)
    fake_features = video_features(network, fake_videos, frame_size)
    return frechet_distance_from_features(real_features, fake_features)
