"""The files of a replay report: report.json, summary.md (the same as tables), the latency plots
and the videos of the /tryon/image stream (output.mp4, side_by_side.mp4 with the camera)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from fashionmirror_ros.evaluation.bags import ClipBag
from fashionmirror_ros.evaluation.graph.harness import NODE_NAMES
from fashionmirror_ros.evaluation.graph.player import SentFrame
from fashionmirror_ros.evaluation.replay_analysis import fit_square, received_frames
from fashionmirror_ros.evaluation.reporting import format_value, json_default


def write_outputs(output: Path, bag: ClipBag, recorder, sent: list[SentFrame], report: dict,
                  video: bool = True) -> dict:
    from fashionmirror_ros.evaluation import plots
    from fashionmirror_ros.evaluation.video import write_mp4

    files = {}
    index_of = {frame.stamp_ns: frame.index for frame in sent}
    stamps = set(index_of)
    per_node_ms, per_node_timeline = defaultdict(list), defaultdict(lambda: ([], []))
    arrivals = recorder.snapshot("arrivals")
    for name, stamp, _, duration, publish, _ in recorder.snapshot("latency"):
        if stamp in stamps:
            per_node_ms[name].append(duration / 1e6)
            per_node_timeline[name][0].append(publish / 1e9)
            per_node_timeline[name][1].append(duration / 1e6)
    ordered = {name: per_node_ms.get(name, []) for name in NODE_NAMES}
    files["latency_histogram"] = plots.latency_histogram(ordered, output / "latency_histogram.png").name
    files["latency_timeline"] = plots.latency_timeline(
        {name: per_node_timeline[name] for name in NODE_NAMES}, output / "latency_timeline.png").name
    matched = sorted((a.receive_ns, a.latency_ms) for a in arrivals if a.stamp_ns in stamps)
    files["end_to_end"] = plots.end_to_end_plot([r / 1e9 for r, _ in matched], [ms for _, ms in matched],
                                                output / "end_to_end.png").name
    frames = [(stamp, image) for _, stamp, image in received_frames(arrivals, index_of)]
    fps = report.get("input_fps") or bag.fps or 30.0
    if video and frames:
        files["output_video"] = write_mp4(output / "output.mp4", (image for _, image in frames), fps) and "output.mp4"

        def side_by_side():
            for stamp, image in frames:
                camera = fit_square(bag.frames[bag.camera_stamps[index_of[stamp]]], image.shape[0])
                yield np.concatenate([camera, image], axis=1)

        files["side_by_side_video"] = write_mp4(output / "side_by_side.mp4", side_by_side(), fps) and "side_by_side.mp4"
    files["report"] = "report.json"
    files["summary"] = "summary.md"
    report["files"] = files
    (output / "report.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    (output / "summary.md").write_text(summary_markdown(report))
    return files


def summary_markdown(report: dict) -> str:
    run, frames = report["run"], report["frames"]
    e2e = report["end_to_end_latency_ms"]
    lines = [
        "# fashionmirror replay report", "",
        f"- bag: `{report['bag']['path']}` ({report['bag']['frames']} frames at "
        f"{format_value(report['bag']['fps'])} fps)",
        f"- estimator: **{run.get('estimator')}**, playback: {run.get('playback')}, "
        f"graph: {run.get('graph')}, checkpoint: `{run.get('checkpoint') or 'shipped'}`",
        f"- input {format_value(report['input_fps'])} fps -> /tryon/image **{format_value(report['output_fps'])} fps**; "
        f"frames sent {frames['sent']}, received {frames['tryon_received']}, dropped "
        f"{frames['dropped']} ({format_value((frames['drop_fraction'] or 0) * 100)} %)",
        f"- end-to-end latency (camera stamp -> /tryon/image received): p50 "
        f"**{format_value(e2e.get('p50'))} ms**, p95 **{format_value(e2e.get('p95'))} ms**, p99 {format_value(e2e.get('p99'))} ms, "
        f"max {format_value(e2e.get('max'))} ms; first frame {format_value(report['first_frame_latency_ms'])} ms",
        f"- /tryon/image stamps equal camera stamps: {report['stamps']['tryon_stamps_equal_camera_stamps']}",
        "", "## Per-node latency (receive -> publish, ms)", "",
        "| node | frames | p50 | p95 | p99 | max | mean | min | jitter mean | rate Hz | dropped |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, node in report["nodes"].items():
        lat = node["latency_ms"]
        lines.append(f"| {name} | {node['frames']} | {format_value(lat.get('p50'))} | {format_value(lat.get('p95'))} | "
                     f"{format_value(lat.get('p99'))} | {format_value(lat.get('max'))} | {format_value(lat.get('mean'))} | "
                     f"{format_value(lat.get('min'))} | {format_value(node['jitter_ms'].get('mean'))} | "
                     f"{format_value(node['rate_hz'])} | {format_value(node['frames_dropped'])} |")
    lines += ["", "## Where a frame's time goes (ms)", "", "| hop | p50 | p95 | mean |", "|---|---|---|---|"]
    for name, hop in report["stages_ms"].items():
        lines.append(f"| {name} | {format_value(hop['p50'])} | {format_value(hop['p95'])} | {format_value(hop['mean'])} |")
    lag = report["feedback_lag"]
    if lag.get("lag_frames"):
        lines += ["", "## Mask feedback lag", "",
                  f"- frames with masks of the current schedule (lag 0): {format_value((lag['fraction_lag_0'] or 0) * 100)} %; "
                  f"mean lag {format_value(lag['lag_frames']['mean'], 2)} frames, max {format_value(lag['lag_frames']['max'], 0)}; "
                  f"histogram {lag['lag_histogram']}; frames on the source's masks: "
                  f"{lag['frames_using_source_masks']}"]
    quality = report["metrics"]
    lines += ["", "## Quality against ground truth", ""]
    if quality.get("available"):
        lines += ["| metric | value |", "|---|---|"]
        for key in ("frames_compared", "ssim", "psnr_db", "warping_error_self", "warping_error_real_flow",
                    "warping_error_ground_truth", "mask_iou", "mask_iou_next_frame",
                    "removed_mask_iou_source", "lpips", "vfid"):
            if key in quality:
                lines.append(f"| {key} | {format_value(quality[key], 4)} |")
    else:
        lines.append(quality.get("note", "not available"))
    files = report.get("files", {})
    lines += ["", "## Files", ""] + [f"- {name}: `{path}`" for name, path in files.items()]
    return "\n".join(lines) + "\n"
