"""`fashionmirror demo`: the try-on node graph on the bundled input, no camera and no downloads.

The bundled input (assets/demo/, licences in assets/demo/NOTICE):
- real/: a real person. bag/ is a rosbag2 (MCAP) of the Sports2D demo video as a 256 x 256
  camera panning with a woman walking past (90 frames at 30 fps, JPEG on
  /camera/image_raw/compressed), her photo as the source h^s and a saleor T-shirt product photo,
  cut out, as the garment C; source.png and garment.png are the same two images as files. Built
  by ``python -m fashionmirror_ros.evaluation.demo_assets`` from the real media.
- bag/, source.png, garment.png: a generated person (``fashionmirror record assets/demo/bag
  --split test --index 0 --frames 90``): 90 frames of 256 x 256 at 30 fps with the true
  keypoints and ground truth (reconstruction protocol: the garment is the one worn, so the
  output is scored: SSIM, PSNR).

Each clip is ``fashionmirror replay``ed with the graph in three processes and the shipped
checkpoint, the pose estimated live by MediaPipe (``--estimator``, default DEMO_ESTIMATOR), into
--output/<clip>/ (report.json, summary.md, plots, output.mp4, side_by_side.mp4). The last lines
give each clip's /tryon/image fps and end-to-end latency beside the figures of the benchmark
snapshot (docs/bench/bench.json: the same estimator, camera 256 x 256 at 30 fps, and the real
video at 640 x 480, measured on a quiet machine), so a slow demo can be told from a slow machine.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEMO_ESTIMATOR = "mediapipe_pose"
CLIPS = {"real": "assets/demo/real/bag", "generated": "assets/demo/bag"}
BENCH_SNAPSHOT = "docs/bench/bench.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="out/demo", help="report folder (default out/demo)")
    parser.add_argument("--clip", choices=(*CLIPS, "all"), default="all",
                        help="real person, generated person, or both (default)")
    parser.add_argument("--estimator", choices=("mediapipe", "mediapipe_pose", "recorded"), default=DEMO_ESTIMATOR,
                        help=f"pose source (default {DEMO_ESTIMATOR}: MediaPipe BlazePose, body only; "
                             "mediapipe = Holistic with hands and face)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint directory (default: shipped realtime)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--rate", type=float, default=None, help="playback speed factor (default 1.0)")
    parser.add_argument("--bag", default=None, help="another bag instead of the bundled clips")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _error(message: str) -> None:
    print(f"fashionmirror demo: error: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from fashionmirror_ros.pipeline.assets import default_checkpoint, find_data

    try:
        if args.bag:
            bags = {"bag": Path(args.bag)}
        else:
            names = list(CLIPS) if args.clip == "all" else [args.clip]
            bags = {name: find_data(CLIPS[name]) for name in names}
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
    results = {}
    for name, bag in bags.items():
        code, report = _replay(name, bag, output / name if len(bags) > 1 or not args.bag else output, args)
        if code:
            return code
        results[name] = report
    for line in summary_lines(results, args.estimator, bench_snapshot()):
        print(line)
    return 0


def _replay(name: str, bag: Path, output: Path, args: argparse.Namespace) -> tuple[int, dict | None]:
    from fashionmirror_ros.evaluation import replay
    from fashionmirror_ros.evaluation.bags import BagError
    from fashionmirror_ros.evaluation.graph import GraphError

    replay_args = argparse.Namespace(
        bag=str(bag), output=str(output), rate=args.rate, fps=None, estimator=args.estimator,
        checkpoint=args.checkpoint, preset=None, device=args.device, threads=None, bf16=None,
        params_file=None, source_image=None, garment_image=None, no_graph=False,
        startup_timeout=replay.DEFAULT_STARTUP_TIMEOUT_S, drain_timeout=replay.DEFAULT_DRAIN_TIMEOUT_S,
        lpips_weights=None, vfid_weights=None, no_video=False, quiet=args.quiet)
    print(f"fashionmirror demo: {name} person: replaying {bag} into the node graph "
          f"(estimator {args.estimator})", flush=True)
    try:
        report = replay.replay(replay_args)
    except BagError as error:
        _error(str(error))
        return 2, None
    except GraphError as error:  # the graph did not start, a node died, nothing came out
        _error(str(error))
        return 1, None
    except KeyboardInterrupt:
        _error("interrupted")
        return 130, None
    if "output_video" in report.get("files", {}):
        print(f"fashionmirror demo: {name}: try-on video {output / 'output.mp4'}, side by side "
              f"{output / 'side_by_side.mp4'}, summary {output / 'summary.md'}", flush=True)
    return 0, report


def bench_snapshot() -> dict | None:
    """The benchmark snapshot shipped with the source (None when absent or unreadable)."""
    from fashionmirror_ros.pipeline.assets import find_data

    try:
        return json.loads(find_data(BENCH_SNAPSHOT).read_text())
    except (FileNotFoundError, OSError, ValueError):
        return None


def bench_figures(snapshot: dict | None, estimator: str) -> list[tuple[str, dict]]:
    """(what, trial) of the snapshot's live path with `estimator` in three processes: the
    256 x 256 camera (the demo's size) and the real video."""
    if not snapshot:
        return []
    live = snapshot.get("presets", {}).get("realtime", {}).get("live", {})
    for entry in live.get("configurations", []):
        graph = entry.get("graph", {})
        if graph.get("estimator") == estimator and graph.get("variant") == "base":
            return [(f"{graph['label']}, {camera}", trial) for camera, trial in entry.get("trials", {}).items()
                    if camera in ("256x256", "real video 640x480")]
    return []


def _figures(frames: str, fps, e2e: dict) -> str:
    return (f"{frames}, /tryon/image {fps or 0:.1f} fps, end-to-end p50 {e2e.get('p50') or 0:.0f} ms, "
            f"p95 {e2e.get('p95') or 0:.0f} ms")


def summary_lines(results: dict, estimator: str, snapshot: dict | None) -> list[str]:
    lines = []
    for name, report in results.items():
        frames, e2e, quality = report["frames"], report["end_to_end_latency_ms"], report["metrics"]
        text = _figures(f"{frames['tryon_received']}/{frames['sent']} frames", report["output_fps"], e2e)
        if quality.get("ssim") is not None:
            text += f", SSIM {quality['ssim']:.3f}, PSNR {quality['psnr_db']:.1f} dB"
        lines.append(f"fashionmirror demo: {name} person, this run: {text}")
    figures = bench_figures(snapshot, estimator)
    if figures:
        machine = snapshot.get("machine", {})
        for what, trial in figures:
            lost = trial.get("lost_fraction") or 0.0
            lines.append(f"fashionmirror demo: bench snapshot ({BENCH_SNAPSHOT}, quiet {machine.get('cpu_count')}-core "
                         f"machine) {what}, camera 30 fps: "
                         + _figures(f"{lost:.0%} lost", trial.get("tryon_fps_over_input_duration"),
                                    trial.get("end_to_end_ms", {})))
    else:
        lines.append(f"fashionmirror demo: no bench figures for estimator {estimator} in {BENCH_SNAPSHOT}")
    return lines
