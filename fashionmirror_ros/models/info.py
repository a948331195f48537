"""Parameter counts and FLOPs of each network for a preset (``fashionmirror model-info``).

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` for batch 1: it counts
2 FLOPs per multiply-accumulate of convolutions and matrix products (conv, mm, bmm, addmm,
baddbmm, ...) and nothing for elementwise work (normalisation, activations, softmax,
interpolation, the Gaussian-warp gathers, grid_sample, SFE's correlation products). GFLOPs are
these FLOPs / 1e9. Models without the keypoint prior are built on the ``meta`` device, so
counting costs no compute; with it, on the CPU (the prior's least-squares fits need real values;
the realtime preset is small).

Entries
- cmn_single: CMN(h^s, C) -> (M_r, M_c), all four siamese passes counted as they run.
- cmn_multi: CMN(h^{t-2}, h^{t-1}, h^t, C) -> M_c^{t+1}, four encoder passes.
- cmn_multi_cached: the same step when the node keeps the embeddings of C and of the two
  previous frames (one encoder pass + fusion + co-attention + head).
- sfe: SFE(p^t, p^{t+1}) (with the prior: and its prior flows).
- hsg: HSG with every encoder run; hsg_cached: h_m^s and C encodings kept between frames
  (with the prior: the composition included).
- step: what hsg_node runs per frame, ``FashionMirror.step`` with cached encodings (prior flows,
  SFE, HSG).
- total_per_frame: cmn_multi + sfe + hsg; total_per_frame_cached: the cached variants.

``fashionmirror model-info [--preset realtime|paper|all] [--image-size 256]`` prints the result
as JSON (``add_arguments`` / ``run`` are the CLI hooks).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .config import PRESETS, ModelConfig, get_preset
from .mirror import FashionMirror, SessionInputs

FLOP_COUNTING_NOTE = (
    "torch.utils.flop_counter.FlopCounterMode, batch 1: 2 FLOPs per multiply-accumulate of "
    "convolutions and matrix products; elementwise ops (norms, activations, softmax, "
    "interpolation, Gaussian-warp gathers, grid_sample, correlation products) are not counted"
)


def _count_flops(run: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            run()
    return int(counter.get_total_flops())


def _params(*modules: nn.Module) -> int:
    return sum(p.numel() for module in modules for p in module.parameters())


def _entry(params: int, flops: int) -> dict[str, float | int]:
    return {"params": params, "gflops": round(flops / 1e9, 4)}


def model_info(preset: str | ModelConfig, image_size: int = 256) -> dict:
    """Per network: {"params": int, "gflops": float}; see the module docstring."""
    config = get_preset(preset) if isinstance(preset, str) else preset
    config = dataclasses.replace(config, image_size=image_size)
    device = torch.device("cpu" if config.prior.enabled else "meta")
    with device:
        model = FashionMirror(config).eval()
    inputs = SessionInputs.blank(image_size, device)
    image, mask, keypoints = inputs.source, inputs.removed_mask, inputs.source_keypoints
    cmn, sfe, hsg = model.cmn, model.sfe, model.hsg

    with torch.no_grad():  # inputs of the cached variants
        encoding = model.encode_session(inputs)
        state = model.first_state(inputs)
        prior = model.prior_flows(keypoints, keypoints, keypoints, (image_size, image_size))[0] \
            if model.uses_prior else None
        fields = sfe(image, image, prior)
        embedding = cmn.encode(image)
    size = (image_size, image_size)

    def generate(source_features, garment_features):
        return model.step(encoding._replace(source_features=source_features,
                                            garment_features=garment_features),
                          state, keypoints, image, mask)

    flops = {
        "cmn_single": _count_flops(lambda: cmn(image, image)),
        "cmn_multi": _count_flops(lambda: cmn.forward_multi(image, image, image, image)),
        "cmn_multi_cached": _count_flops(lambda: cmn.next_cloth_mask_from_embeddings(
            embedding, embedding, cmn.encode(image), embedding, size)),
        "sfe": _count_flops(lambda: sfe(image, image, prior)),
        "step": _count_flops(lambda: generate(encoding.source_features, encoding.garment_features)),
        "step_uncached": _count_flops(lambda: generate(hsg.encode_source(image), hsg.encode_garment(image))),
    }
    flops["hsg_cached"] = flops["step"] - flops["sfe"]
    flops["hsg"] = flops["step_uncached"] - flops["sfe"]
    cmn_single_params = _params(cmn.encoder, cmn.attention, cmn.single_head)
    cmn_multi_params = _params(cmn.encoder, cmn.attention, cmn.frame_fusion, cmn.multi_head)
    networks = {
        "cmn_single": _entry(cmn_single_params, flops["cmn_single"]),
        "cmn_multi": _entry(cmn_multi_params, flops["cmn_multi"]),
        "cmn_multi_cached": _entry(cmn_multi_params, flops["cmn_multi_cached"]),
        "sfe": _entry(_params(sfe), flops["sfe"]),
        "hsg": _entry(_params(hsg), flops["hsg"]),
        "hsg_cached": _entry(_params(hsg), flops["hsg_cached"]),
        "step": _entry(_params(sfe, hsg), flops["step"]),
        "total_per_frame": _entry(_params(model),
                                  flops["cmn_multi"] + flops["sfe"] + flops["hsg"]),
        "total_per_frame_cached": _entry(_params(model), flops["cmn_multi_cached"]
                                         + flops["sfe"] + flops["hsg_cached"]),
    }
    return {
        "preset": config.name,
        "image_size": image_size,
        "cmn_internal_size": config.cmn.internal_size,
        "flop_counting": FLOP_COUNTING_NOTE,
        "networks": networks,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="all", choices=sorted(PRESETS) + ["all"],
                        help="model preset, or all presets (default: all)")
    parser.add_argument("--image-size", type=int, default=256, help="square input size in pixels")


def run(args: argparse.Namespace) -> int:
    if args.image_size < 32:
        print("fashionmirror model-info: --image-size must be at least 32", file=sys.stderr)
        return 2
    names = sorted(PRESETS) if args.preset == "all" else [args.preset]
    result = {name: model_info(name, args.image_size) for name in names}
    print(json.dumps(result if args.preset == "all" else result[args.preset], indent=2))
    return 0
