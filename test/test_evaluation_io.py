"""Tests of the evaluation library's files and measurements: mp4, contact sheets, plots, the conv
peak probe and the parsing baseline network (no ROS needed)."""
import csv

import numpy as np
import pytest
import torch

from fashionmirror_ros.evaluation import plots
from fashionmirror_ros.evaluation.parsing_baseline import (
    PARSING_CLASSES,
    ParsingNetworkConfig,
    parsing_network,
)
from fashionmirror_ros.evaluation.peak import conv_flops, measure_conv_peak
from fashionmirror_ros.evaluation.video import contact_sheet, read_mp4, write_mp4

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MP4_MEAN_ABS_ERROR_LIMIT = 8.0  # mp4v is lossy; smooth frames come back within a few levels


def _smooth_frames(count=8, height=48, width=64):
    """A colour gradient with a bright square moving right: easy content for a lossy codec."""
    ys, xs = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(count):
        frame = np.stack([xs * 255 // width, ys * 255 // height, np.full_like(xs, 96)], axis=-1).astype(np.uint8)
        frame[12:28, 4 + 4 * t : 20 + 4 * t] = (250, 240, 30)
        frames.append(frame)
    return np.stack(frames)


def _assert_png(path):
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_SIGNATURE


# --- video ----------------------------------------------------------------------------------
def test_mp4_round_trip(tmp_path):
    frames = _smooth_frames()
    path = tmp_path / "out" / "clip.mp4"
    assert write_mp4(path, iter(frames), fps=30) == len(frames)
    decoded = read_mp4(path)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < MP4_MEAN_ABS_ERROR_LIMIT


def test_mp4_pads_odd_sizes_to_even(tmp_path):
    frames = _smooth_frames(count=3, height=47, width=63)
    write_mp4(tmp_path / "odd.mp4", frames, fps=10)
    assert read_mp4(tmp_path / "odd.mp4").shape == (3, 48, 64, 3)


def test_mp4_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(tmp_path / "empty.mp4", [], fps=30)
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(tmp_path / "float.mp4", [np.zeros((8, 8, 3), np.float32)], fps=30)
    with pytest.raises(ValueError, match="shape"):
        write_mp4(tmp_path / "sizes.mp4", [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], fps=30)
    with pytest.raises(RuntimeError, match="could not open"):
        write_mp4(tmp_path, [np.zeros((8, 8, 3), np.uint8)], fps=30)  # a directory is not writable as a file
    with pytest.raises(FileNotFoundError):
        read_mp4(tmp_path / "absent.mp4")


def test_contact_sheet_tiles_rows_with_labels():
    frames = _smooth_frames(count=3)
    mask = np.zeros((24, 32), dtype=np.float32)
    mask[6:18, 8:24] = 1.0
    sheet = contact_sheet([list(frames), [frames[0], mask]], labels=["real", "generated"],
                          column_labels=["t=0", "t=1", "t=2"])
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.shape[0] > 2 * 48 and sheet.shape[1] > 3 * 64
    with pytest.raises(ValueError):
        contact_sheet([[frames[0]]], labels=["a", "b"])


# --- plots ----------------------------------------------------------------------------------
def test_plots_write_png_files(tmp_path):
    rng = np.random.default_rng(0)
    per_node = {"pose_node": list(rng.gamma(4, 3, 200)), "cmn_node": list(rng.gamma(6, 5, 200)), "idle_node": []}
    _assert_png(plots.latency_histogram(per_node, tmp_path / "hist.png"))
    times = np.arange(200) / 30.0
    timeline = {name: (list(times[: len(ms)]), ms) for name, ms in per_node.items()}
    _assert_png(plots.latency_timeline(timeline, tmp_path / "timeline.png"))
    _assert_png(plots.end_to_end_plot(times, rng.gamma(8, 6, 200), tmp_path / "e2e.png"))
    _assert_png(plots.loss_curve({"l1": np.linspace(1, 0.1, 50), "bce": (np.arange(0, 50, 5), np.linspace(2, 1, 10))},
                                 tmp_path / "loss_dict.png", log_y=True))


def test_loss_curve_from_csv(tmp_path):
    csv_path = tmp_path / "losses.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "total", "correctness"])
        for step in range(0, 100, 10):
            writer.writerow([step, 1.0 / (step + 1), "" if step % 20 else 0.5])  # a loss logged every 2nd row
    _assert_png(plots.loss_curve(csv_path, tmp_path / "loss_csv.png"))


# --- conv peak ------------------------------------------------------------------------------
def test_conv_flops_formula():
    assert conv_flops(256, 256, 64) == 2 * 256 * 256 * 9 * 64 * 64


def test_conv_peak_returns_positive_figures_for_a_tiny_conv():
    threads_before = torch.get_num_threads()
    result = measure_conv_peak(threads=1, channels=8, size=8, repeats=2, warmup=1)
    assert torch.get_num_threads() == threads_before
    assert result["threads"] == 1 and result["gflop_per_conv"] == pytest.approx(conv_flops(8, 8, 8) / 1e9)
    for variant in ("fp32", "fp32_channels_last"):
        assert result[f"{variant}_gflops"] > 0 and result[f"{variant}_median_ms"] > 0
    bf16 = result["bf16_autocast_gflops"]
    assert (bf16 is None) == (not result["bf16_supported"])
    assert bf16 is None or bf16 > 0
    with pytest.raises(ValueError):
        measure_conv_peak(variants=("fp64",))


# --- parsing baseline -----------------------------------------------------------------------
def test_parsing_baseline_gives_per_class_logits_at_input_size():
    network = parsing_network("tiny")
    assert not network.training
    with torch.inference_mode():
        logits = network(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, PARSING_CLASSES, 64, 64)
    assert torch.isfinite(logits).all()


def test_parsing_baseline_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    first, second = parsing_network("tiny", seed=3), parsing_network("tiny", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_parsing_baseline_paper_preset_is_a_dilated_resnet101():
    network = parsing_network("paper")
    backbone = network.backbone
    assert [len(getattr(backbone, f"layer{i}")) for i in range(1, 5)] == [3, 4, 23, 3]
    # output stride 8: layer3 and layer4 keep their resolution through dilation
    assert backbone.layer3[0].conv2.stride == (1, 1) and backbone.layer4[-1].conv2.dilation == (4, 4)
    parameters = sum(p.numel() for p in network.parameters())
    assert 50e6 < parameters < 70e6  # ResNet-101 trunk (42.5 M) + ASPP head at 256 channels
    assert network.config.resolved_aspp_rates == (12, 24, 36)
    assert ParsingNetworkConfig(output_stride=16).resolved_aspp_rates == (6, 12, 18)
    with pytest.raises(ValueError):
        ParsingNetworkConfig(output_stride=4)
    with pytest.raises(ValueError):
        parsing_network("huge")
