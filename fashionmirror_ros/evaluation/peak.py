"""Measured convolution peak of this CPU, the yardstick for a model's achieved GFLOP/s.

Definition: one 3x3 convolution, ``channels`` -> ``channels``, stride 1, padding 1, no bias, on a
batch of ``batch`` images of ``size`` x ``size``. Its work is
    FLOPs = 2 * C_in * C_out * 3 * 3 * H * W * batch
(one multiply and one add per weight per output pixel). Each variant is run ``warmup`` times
untimed (oneDNN picks and caches its kernels on the first calls), then timed call by call
``repeats`` times; its figure is FLOPs divided by the MEDIAN call time, in GFLOP/s (1e9 FLOP/s).

Variants:
- ``fp32``: float32, contiguous (NCHW) input and weights.
- ``fp32_channels_last``: float32, input and weights in channels_last (NHWC) memory format.
- ``bf16_autocast``: channels_last input under ``torch.autocast("cpu", dtype=torch.bfloat16)``
  (weights cast on each call, as a model under autocast would); only where oneDNN reports bf16
  support on this CPU, else its figure is None.

``threads`` sets ``torch.set_num_threads`` for the measurement (process-wide in PyTorch) and the
previous value is restored afterwards. Machines here are shared and noisy: compare figures taken in
one run, e.g. a model's achieved GFLOP/s against the peak measured just before it.
"""
from __future__ import annotations

import copy
import statistics
import time

import torch

KERNEL_SIZE = 3
DEFAULT_CHANNELS = 256
DEFAULT_SIZE = 64
DEFAULT_BATCH = 1
DEFAULT_REPEATS = 10
DEFAULT_WARMUP = 3
GIGA = 1e9
MILLISECONDS_PER_SECOND = 1e3
VARIANTS = ("fp32", "fp32_channels_last", "bf16_autocast")


def conv_flops(channels_in: int, channels_out: int, size: int, batch: int = 1,
               kernel_size: int = KERNEL_SIZE) -> int:
    """FLOPs of one stride-1 'same' convolution: 2 * Cin * Cout * k * k * H * W * batch."""
    return 2 * channels_in * channels_out * kernel_size * kernel_size * size * size * batch


def bf16_supported() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX-512 BF16 / AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _median_seconds(run, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        run()
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def measure_conv_peak(
    threads: int | None = None,
    channels: int = DEFAULT_CHANNELS,
    size: int = DEFAULT_SIZE,
    batch: int = DEFAULT_BATCH,
    repeats: int = DEFAULT_REPEATS,
    warmup: int = DEFAULT_WARMUP,
    variants: tuple[str, ...] = VARIANTS,
) -> dict:
    """Median GFLOP/s of one 3x3 conv per variant (see module doc).

    Returns a dict with ``threads``, ``channels``, ``size``, ``batch``, ``repeats``,
    ``gflop_per_conv``, ``bf16_supported`` and, per requested variant, ``<variant>_gflops`` and
    ``<variant>_median_ms`` (None for an unsupported variant)."""
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; expected some of {VARIANTS}")
    if repeats < 1 or channels < 1 or size < 1 or batch < 1:
        raise ValueError("repeats, channels, size and batch must be positive")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be positive, got {threads}")
        torch.set_num_threads(threads)
    try:
        flops = conv_flops(channels, channels, size, batch)
        has_bf16 = bf16_supported()
        result = {
            "threads": torch.get_num_threads(),
            "channels": channels,
            "size": size,
            "batch": batch,
            "repeats": repeats,
            "gflop_per_conv": flops / GIGA,
            "bf16_supported": has_bf16,
        }
        generator = torch.Generator().manual_seed(0)
        conv = torch.nn.Conv2d(channels, channels, KERNEL_SIZE, padding=KERNEL_SIZE // 2, bias=False).eval()
        inputs = torch.randn(batch, channels, size, size, generator=generator)
        inputs_nhwc = inputs.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            for variant in variants:
                if variant == "fp32":
                    seconds = _median_seconds(lambda: conv(inputs), repeats, warmup)
                elif variant == "fp32_channels_last":
                    # Module.to(memory_format) converts in place: use a copy so ``conv`` stays NCHW.
                    conv_nhwc = copy.deepcopy(conv).to(memory_format=torch.channels_last)
                    seconds = _median_seconds(lambda: conv_nhwc(inputs_nhwc), repeats, warmup)
                else:
                    if not has_bf16:
                        result[f"{variant}_gflops"] = None
                        result[f"{variant}_median_ms"] = None
                        continue
                    conv_nhwc = copy.deepcopy(conv).to(memory_format=torch.channels_last)

                    def autocast_call():
                        with torch.autocast("cpu", dtype=torch.bfloat16):
                            return conv_nhwc(inputs_nhwc)

                    seconds = _median_seconds(autocast_call, repeats, warmup)
                result[f"{variant}_gflops"] = flops / seconds / GIGA
                result[f"{variant}_median_ms"] = seconds * MILLISECONDS_PER_SECOND
        return result
    finally:
        torch.set_num_threads(previous_threads)
