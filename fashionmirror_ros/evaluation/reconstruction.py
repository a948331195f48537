"""`fashionmirror eval`: the paper's reconstruction protocol (section 4.3) on held-out clips.

For each test clip: source h^s = the first frame, garment C = the one worn, poses = the clip's
true keypoints; the model generates frames 1..T-1 and they are compared with the real ones.
Inference runs through the same session classes as cmn_node and hsg_node (single-frame CMN on
the source, each generated frame fed back to CMN, multi-frame after two), without the one-frame
feedback lag of the pipelined graph (the replay report measures that).

Metrics: SSIM and PSNR of generated vs real frames; IoU of M_r against the source's true
clothing mask and of each M_c^{t+1} against the true mask of frame t+1; temporal warping error
of the generated clip (flow of the output itself, and flow of the real frames applied to the
output). With --compare-untrained the same clips are run through a freshly initialised model of
the same preset, seeded, so a trained checkpoint can be judged against it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fashionmirror_ros.data.synthetic import SyntheticFashionVideo
from fashionmirror_ros.evaluation.metrics import (mask_iou, psnr, ssim, warping_error,
                                                  warping_error_against)
from fashionmirror_ros.models.checkpoint import load_checkpoint
from fashionmirror_ros.models.mirror import FashionMirror
from fashionmirror_ros.pipeline.assets import resolve_checkpoint
from fashionmirror_ros.pipeline.sessions import (GenerationSession, InferenceOptions, MaskSession,
                                                 select_device)

PROTOCOL_FRAMES = 20  # the paper evaluates 20-frame clips
METRICS = ("ssim", "psnr", "iou_removed", "iou_cloth", "warping_error_self", "warping_error_real_flow")
HIGHER_IS_BETTER = {"ssim": True, "psnr": True, "iou_removed": True, "iou_cloth": True,
                    "warping_error_self": False, "warping_error_real_flow": False}


def reconstruct(model: FashionMirror, clip, options: InferenceOptions) -> dict:
    """Generate frames 1..T-1 of `clip`; returns frames and predicted masks (uint8)."""
    masks_session = MaskSession(model, options)
    generator = GenerationSession(model, options, model.config.image_size)
    masks_session.set_source(clip.frames[0])
    masks_session.set_garment(clip.garment)
    generator.set_source(clip.frames[0])
    generator.set_garment(clip.garment)
    generator.set_source_pose(clip.keypoints[0])
    masks = masks_session.source_masks()
    removed = masks.removed
    generated, cloth_masks = [], []
    for index in range(1, len(clip.frames)):
        generator.offer_masks(masks)
        cloth_masks.append(masks.cloth)
        frame = generator.step(clip.keypoints[index])
        generated.append(frame)
        masks = masks_session.on_generated(frame)
    return {"frames": np.stack(generated), "removed": removed, "cloth": np.stack(cloth_masks)}


def clip_metrics(clip, result: dict) -> dict[str, float]:
    real = clip.frames[1:]
    fake = result["frames"]
    return {
        "ssim": float(np.mean([ssim(a, b) for a, b in zip(fake, real)])),
        "psnr": float(np.mean([psnr(a, b) for a, b in zip(fake, real)])),
        "iou_removed": float(mask_iou(result["removed"], clip.cloth_masks[0].astype(bool))),
        "iou_cloth": float(np.mean([mask_iou(m, t.astype(bool))
                                    for m, t in zip(result["cloth"], clip.cloth_masks[1:])])),
        "warping_error_self": float(warping_error(fake)),
        "warping_error_real_flow": float(warping_error_against(fake, real)),
    }


def evaluate(model: FashionMirror, clips, options: InferenceOptions, label: str) -> dict:
    model.eval()
    per_clip = []
    for clip in tqdm(clips, desc=f"eval {label}", dynamic_ncols=True):
        per_clip.append(clip_metrics(clip, reconstruct(model, clip, options)))
    means = {name: float(np.nanmean([m[name] for m in per_clip])) for name in METRICS}
    return {"mean": means, "per_clip": per_clip}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="", help="checkpoint directory (default: shipped)")
    parser.add_argument("--preset", default="realtime", choices=("realtime", "paper"))
    parser.add_argument("--split", default="test", choices=("test", "val"))
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--frames", type=int, default=PROTOCOL_FRAMES)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compare-untrained", action="store_true",
                        help="also evaluate a freshly initialised model of the same preset")
    parser.add_argument("--output", default=None, help="write the figures as JSON here")


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    options = InferenceOptions(device=select_device(args.device))
    path = resolve_checkpoint(args.checkpoint, args.preset)
    model, config, _ = load_checkpoint(path, device=options.device, expected_preset=args.preset)
    clips = SyntheticFashionVideo(args.split, args.clips, num_frames=args.frames,
                                  image_size=config.image_size)
    report = {"checkpoint": str(path), "split": args.split, "clips": args.clips,
              "frames_per_clip": args.frames, "trained": evaluate(model, clips, options, "trained")}
    if args.compare_untrained:
        torch.manual_seed(0)
        untrained = FashionMirror(config).to(options.device)
        report["untrained"] = evaluate(untrained, clips, options, "untrained")
        report["trained_better"] = {
            name: (report["trained"]["mean"][name] > report["untrained"]["mean"][name])
            == HIGHER_IS_BETTER[name] for name in METRICS}
    print(format_table(report))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2))
    return 0


def format_table(report: dict) -> str:
    columns = [name for name in ("trained", "untrained") if name in report]
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name in METRICS:
        arrow = "higher" if HIGHER_IS_BETTER[name] else "lower"
        cells = [f"{report[column]['mean'][name]:.4f}" for column in columns]
        lines.append(f"| {name} ({arrow} is better) | " + " | ".join(cells) + " |")
    return "\n".join(lines)
