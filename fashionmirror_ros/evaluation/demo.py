"""`fashionmirror demo`: the try-on node graph on the bundled input, no camera and no downloads.

The bundled input, assets/demo/:
- bag/: a rosbag2 (MCAP, zstd chunks) of generated test clip 0 (``fashionmirror record
  assets/demo/bag --split test --index 0 --frames 90``): 90 frames of 256 x 256 at 30 fps with
  the true keypoints, the source image, the garment and the ground truth (reconstruction
  protocol: the garment is the one the person wears, so the output can be scored);
- source.png, garment.png: the same source image and garment as files (for `fashionmirror run
  --source-image ... --garment-image ...`).

The demo is ``fashionmirror replay`` of that bag with the graph in three processes and the
shipped checkpoint, written to --output (report.json, summary.md, plots, output.mp4,
side_by_side.mp4). It uses MediaPipe Holistic as the pose estimator, the live path: on generated
test clips 0-4 (90 frames each) it found the person in 450 of 450 frames, median body-joint error
3-5 px at 256 x 256. ``--estimator recorded`` drives the graph from the bag's true keypoints.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_ESTIMATOR = "mediapipe"
DEMO_BAG = "assets/demo/bag"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="out/demo", help="report folder (default out/demo)")
    parser.add_argument("--estimator", choices=("mediapipe", "mediapipe_pose", "recorded"), default=DEMO_ESTIMATOR,
                        help=f"pose source (default {DEMO_ESTIMATOR})")
    parser.add_argument("--checkpoint", default=None, help="checkpoint directory (default: shipped realtime)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--rate", type=float, default=None, help="playback speed factor (default 1.0)")
    parser.add_argument("--bag", default=None, help=f"another bag instead of {DEMO_BAG}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _error(message: str) -> None:
    print(f"fashionmirror demo: error: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from fashionmirror_ros.evaluation import replay
    from fashionmirror_ros.evaluation.bags import BagError
    from fashionmirror_ros.pipeline.assets import default_checkpoint, find_data

    try:
        bag = Path(args.bag) if args.bag else find_data(DEMO_BAG)
    except FileNotFoundError as error:
        _error(f"bundled demo input missing: {error}")
        return 2
    if args.checkpoint is None:
        try:
            checkpoint = default_checkpoint("realtime")
        except FileNotFoundError:
            checkpoint = None
        if checkpoint is None or not (Path(checkpoint) / "model.safetensors").exists():
            _error("no shipped checkpoint (checkpoints/realtime/model.safetensors); train one with "
                   "`fashionmirror train` or pass --checkpoint DIR")
            return 1
    output = Path(args.output)
    replay_args = argparse.Namespace(
        bag=str(bag), output=str(output), rate=args.rate, fps=None, estimator=args.estimator,
        checkpoint=args.checkpoint, preset=None, device=args.device, threads=None, bf16=None,
        params_file=None, source_image=None, garment_image=None, no_graph=False,
        startup_timeout=replay.DEFAULT_STARTUP_TIMEOUT_S, drain_timeout=replay.DEFAULT_DRAIN_TIMEOUT_S,
        lpips_weights=None, vfid_weights=None, no_video=False, quiet=args.quiet)
    print(f"fashionmirror demo: replaying {bag} into the node graph (estimator {args.estimator})", flush=True)
    try:
        report = replay.replay(replay_args)
    except BagError as error:
        _error(str(error))
        return 2
    except replay.ReplayError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    frames, e2e, quality = report["frames"], report["end_to_end_latency_ms"], report["metrics"]
    print(f"fashionmirror demo: {frames['tryon_received']}/{frames['sent']} frames, "
          f"/tryon/image {report['output_fps'] or 0:.1f} fps, end-to-end p50 {e2e['p50'] or 0:.0f} ms, "
          f"p95 {e2e['p95'] or 0:.0f} ms"
          + (f", SSIM {quality['ssim']:.3f}, PSNR {quality['psnr_db']:.1f} dB" if quality.get("ssim") is not None else ""))
    if "output_video" in report.get("files", {}):
        print(f"fashionmirror demo: try-on video   {output / 'output.mp4'}")
        print(f"fashionmirror demo: side by side   {output / 'side_by_side.mp4'}")
    print(f"fashionmirror demo: summary        {output / 'summary.md'}")
    print(f"fashionmirror demo: full report    {output / 'report.json'}")
    return 0
