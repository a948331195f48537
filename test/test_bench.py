"""`fashionmirror bench` pieces: what hsg_node runs per frame is timed through the model's
recurrent step, camera streams at other sizes keep keypoints on the body, CPU of one process is
split by the nodes' thread names, and each step's gain compares trials of one run."""
import json
import os
import subprocess
import sys
import textwrap
import time
from contextlib import nullcontext

import numpy as np
import pytest

from conftest import requires_ros


@pytest.fixture(scope="module")
def clip():
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed

    return generate_clip(split_seed("test", 0), num_frames=6)


def test_network_calls_run_the_recurrent_step_and_its_new_parts(clip, single_torch_thread):
    import torch

    from fashionmirror_ros.evaluation.bench_model import network_calls
    from fashionmirror_ros.models.mirror import FashionMirror

    torch.manual_seed(0)
    model = FashionMirror.from_preset("realtime").eval()
    assert model.uses_prior
    calls = network_calls(model, clip, channels_last=False, autocast=nullcontext)
    assert set(calls) == {"cmn_multi", "cmn_single", "step", "prior_flows", "composition"}
    with torch.inference_mode():
        output, state = calls["step"]()
        prior, source_flow = calls["prior_flows"]()
        composed = calls["composition"]()
    assert output.image.shape == (1, 3, 256, 256) and torch.isfinite(output.image).all()
    assert state.keypoints.shape == (1, 137, 3), "the step returns the next recurrent state"
    assert source_flow.shape == (1, 2, 256, 256) and prior.support.shape == (1, 1, 256, 256)
    assert composed.image.shape == (1, 3, 256, 256)
    assert torch.allclose(composed.composition.sum(1), torch.ones(1, 256, 256), atol=1e-4), \
        "the composition weights of warped h^s, placed C and the decoder sum to one"


def test_a_generated_clip_as_a_640x480_camera_keeps_keypoints_on_the_body(clip):
    import cv2

    from fashionmirror_ros.evaluation.bench_graph import generated_stream

    stream = generated_stream(clip, (640, 480), "generated 640x480")
    assert stream.size == (640, 480) and len(stream.frames) == len(clip.frames) - 1
    frame, keypoints = stream.frames[0], stream.keypoints[0]
    person = cv2.resize(clip.person_masks[1], (480, 480), interpolation=cv2.INTER_NEAREST)
    person = np.pad(person, ((0, 0), (80, 80)))
    found = keypoints[:, 2] > 0
    assert found.sum() >= 15
    inside = [person[int(round(y)), int(round(x))] for x, y in keypoints[found, :2]
              if 0 <= x < 640 and 0 <= y < 480]
    assert np.mean(inside) > 0.8, "mapped keypoints fall on the scaled person"
    assert np.abs(frame[:, 80:560].astype(int)
                  - cv2.resize(clip.frames[1], (480, 480)).astype(int)).mean() < 1.0
    assert (keypoints[~found] == 0).all(), "points not found stay (0, 0, 0)"


def test_cpu_of_one_process_is_split_by_the_threads_node_names(tmp_path):
    from fashionmirror_ros.evaluation.graph import ProcessSampler

    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import threading, time
        from fashionmirror_ros.nodes.common import name_native_thread
        def busy():
            name_native_thread("hsg_node")
            end = time.monotonic() + 30
            while time.monotonic() < end:
                pass
        def idle():
            name_native_thread("pose_node")
            time.sleep(30)
        for target in (busy, idle):
            threading.Thread(target=target, daemon=True).start()
        print("ready", flush=True)
        time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with ProcessSampler({"mirror_graph": child.pid}, period_s=0.5, grouped={"mirror_graph"}) as meter:
            time.sleep(1.5)
        summary = meter.summary()["mirror_graph"]
    finally:
        child.kill()
        child.wait()
    by_node = summary["cpu_percent_by_node"]
    assert by_node["hsg_node"] > 40, by_node
    assert by_node["pose_node"] < 10 and by_node["cmn_node"] == 0, by_node
    assert abs(sum(by_node.values()) - summary["cpu_percent"]) < 15, (by_node, summary)
    assert summary["rss_mb_max"] > 10


def trial(fps, lost, p95):
    return {"tryon_fps_over_input_duration": fps, "lost_fraction": lost,
            "end_to_end_ms": {"p50": p95 / 2, "p95": p95}}


def configuration(label, estimator, variant="base", **trials):
    return {"graph": {"label": label, "estimator": estimator, "variant": variant},
            "trials": {camera.replace("_", "x").lstrip("c"): value for camera, value in trials.items()}}


def test_steps_compare_configurations_of_the_same_run():
    from fashionmirror_ros.evaluation.bench_live import steps

    found = steps([
        configuration("H", "mediapipe", c256_256=trial(15, 0.5, 200), c640_480=trial(14, 0.5, 220)),
        configuration("B", "mediapipe_pose", c256_256=trial(27, 0.1, 110), c640_480=trial(24, 0.2, 130)),
        configuration("B1", "mediapipe_pose", variant="one_process", c640_480=trial(30, 0.0, 90)),
        configuration("Bp", "mediapipe_pose", variant="pinned", c640_480=trial(26, 0.05, 100)),
    ])
    by_key = {(step["step"].split(" ")[0], step["camera"]): step for step in found}
    blaze = by_key[("BlazePose", "640x480")]
    assert blaze["fps_ratio"] == pytest.approx(24 / 14, rel=1e-3) and blaze["p95_change_ms"] == -90
    one = by_key[("one", "640x480")]
    assert one["before"]["tryon_fps"] == 24 and one["after"]["lost_percent"] == 0.0
    assert ("one", "256x256") not in by_key, "a camera one side lacks is not compared"
    assert by_key[("hsg_node", "640x480")]["after"]["tryon_fps"] == 26, "the pinned variant against the base"
    smaller = [step for step in found if step["step"].startswith("256x256 camera")]
    assert len(smaller) == 2 and smaller[0]["fps_ratio"] == pytest.approx(15 / 14, rel=1e-3)


@requires_ros
@pytest.mark.timeout(900)
def test_bench_in_process_sections_time_the_step_its_parts_and_the_source_preparation(tmp_path):
    output = tmp_path / "bench"
    result = subprocess.run([sys.executable, "-m", "fashionmirror_ros.cli", "bench", "--quick", "--presets",
                             "realtime", "--no-graph", "--output", str(output)],
                            capture_output=True, text=True, timeout=880, env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((output / "bench.json").read_text())
    entry = report["presets"]["realtime"]
    for network in ("step", "prior_flows", "composition", "cmn_multi"):
        assert entry["forward"][network]["fp32_t1"]["median_ms"] > 0, network
    assert entry["forward"]["step"]["gflops"] > 0
    prepared = entry["source_preparation"]
    for key in ("segmentation_256x256", "segmentation_640x480", "fill_background_256x256"):
        assert prepared[key]["median_ms"] > 0, key
    assert prepared["segmentation_256x256"]["person_found"] is True
    pose = entry["node_breakdown"]["pose_node"]
    assert pose["mediapipe_pose_estimate_640x480"]["median_ms"] > 0
    assert entry["forward"]["step"]["served_t1"]["median_ms"] > 0  # folded, bf16, both halves traced
    tracking = entry["pose_tracking"]["intervals"]
    assert tracking["1"]["tracked_share"] == 0 and tracking["2"]["tracked_share"] >= 0.4
    assert tracking["2"]["tracked_frame_ms"] < tracking["2"]["estimated_frame_ms"]
    assert tracking["2"]["generated"]["pck_0.2"] > 0.5, tracking  # BlazePose finds the generated person
    markdown = (output / "bench.md").read_text()
    assert "prior_flows" in markdown and "segmentation_640x480" in markdown
    assert "estimate_every" in markdown
