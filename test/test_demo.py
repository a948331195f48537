"""`fashionmirror demo`: the bundled real-person clip is complete, small and attributed, the demo
plays it through the node graph, and its figures are printed beside the benchmark snapshot's."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import requires_ros

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "assets" / "demo" / "real"


def test_the_real_demo_clip_is_a_real_person_bundled_small_with_its_inputs():
    from fashionmirror_ros.evaluation import bags

    topics = bags.bag_topics(REAL / "bag")
    assert topics[bags.CAMERA_COMPRESSED_TOPIC] == (bags.COMPRESSED_TYPE, 90)
    bag = bags.read_clip_bag(REAL / "bag")
    assert bag.num_frames == 90 and bag.fps == pytest.approx(30.0, rel=1e-3)
    frames = bag.frame_array()
    assert frames.shape == (90, 256, 256, 3)
    assert frames.std(axis=0).mean() > 10, "a moving camera on a real scene, not a still"
    assert bag.source_image.shape == (256, 256, 3) and bag.garment_image.shape == (256, 256, 3)
    assert (bag.garment_image[:8, :8] > 245).all(), "the garment is cut out onto white"
    assert all((bag.keypoints[stamp][:, 2] > 0).sum() >= 10 for stamp in bag.camera_stamps), \
        "MediaPipe found the person in every frame when the clip was built"
    assert not bag.has_ground_truth
    size = sum(path.stat().st_size for path in REAL.rglob("*") if path.is_file())
    assert size < 4e6, f"the real demo takes {size / 1e6:.1f} MB"


def test_the_notice_attributes_both_works_under_their_licences():
    notice = (ROOT / "assets" / "demo" / "NOTICE").read_text()
    for needed in ("Sports2D", "BSD 3-Clause", "Copyright (c) 2022, perfanalytics", "Saleor",
                   "Mirumee Software", "Creative Commons Attribution 4.0", "saleordemoproduct_cl_boot01_1.png"):
        assert needed in notice, needed


def test_the_demo_prints_the_bench_snapshot_figures_beside_its_own():
    from fashionmirror_ros.evaluation.demo import summary_lines

    trial = {"tryon_fps_over_input_duration": 28.5, "lost_fraction": 0.05,
             "end_to_end_ms": {"p50": 61.0, "p95": 98.0}}
    snapshot = {"machine": {"cpu_count": 2}, "presets": {"realtime": {"live": {"configurations": [
        {"graph": {"label": "BlazePose, 3 processes", "estimator": "mediapipe_pose", "variant": "base"},
         "trials": {"256x256": trial, "640x480": trial, "real video 640x480": trial}}]}}}}
    report = {"frames": {"tryon_received": 80, "sent": 90}, "output_fps": 26.7,
              "end_to_end_latency_ms": {"p50": 70.0, "p95": 120.0}, "metrics": {}}
    lines = summary_lines({"real": report}, "mediapipe_pose", snapshot)
    assert lines[0].endswith("real person, this run: 80/90 frames, /tryon/image 26.7 fps, end-to-end p50 70 ms, p95 120 ms")
    bench = [line for line in lines if "bench snapshot" in line]
    assert len(bench) == 2 and "256x256" in bench[0] and "real video" in bench[1]
    assert "28.5 fps" in bench[0] and "p95 98 ms" in bench[0] and "5% lost" in bench[0]
    assert "no bench figures" in summary_lines({"real": report}, "mediapipe", snapshot)[-1]


@requires_ros
@pytest.mark.timeout(400)
def test_the_demo_plays_the_real_person_through_the_graph(tmp_path):
    output = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "fashionmirror_ros.cli", "demo", "--clip", "real",
                             "--quiet", "--output", str(output)],
                            capture_output=True, text=True, timeout=380, env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if "real person, this run" in line)
    received, sent = (int(value) for value in line.split("this run: ")[1].split(" frames")[0].split("/"))
    assert sent == 90 and received > 0
    assert "fps" in line and "p95" in line
    from fashionmirror_ros.evaluation.video import read_mp4

    video = read_mp4(output / "real" / "side_by_side.mp4")
    assert video.shape[1:] == (256, 512, 3) and len(video) == received
    camera_side = video[:, :, :256].astype(np.float32)
    assert camera_side.std() > 20, "the camera side shows the real video"
