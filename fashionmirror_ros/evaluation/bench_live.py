"""The graph sections of `fashionmirror bench`: the networks at fixed rates, and the live path.

1. Networks (``networks_section``): recorded keypoints as the pose source (pose_node replays the
   clip's true keypoints: the networks are measured, not MediaPipe), three processes, a generated
   256 x 256 clip looped at each of ``--rates``, then the peak rate (bench_peak.py).
2. Live path (``live_section``): MediaPipe in pose_node on the camera frames, camera at 30 fps,
   one graph start per configuration of ``live_configurations`` (pose estimator, one process or
   three, torch threads, CPUs and parameters per node), each fed in turn:
   - the generated clip as a 256 x 256 camera and as a 640 x 480 camera (scaled, border
     columns repeated), rgb8, played by the harness;
   - the real video: the Sports2D demo video as a camera panning with the walking woman
     (data/real_video.py) at 640 x 480, written to an mp4 and played once (126 frames) by
     `fashionmirror camera` in its own process, with her photo as h^s and a saleor T-shirt as C;
   and, for each estimator in three processes, the peak rate of the live path at 640 x 480.
   ``steps`` then compares configurations of the same run (each step's gain).
The model is the checkpoint given (default: the shipped one when it is of the current realtime
architecture, else an untrained one of the preset: timing does not depend on the weights).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from fashionmirror_ros.evaluation.bench_graph import CameraStream, GraphConfig, GraphRun, generated_stream
from fashionmirror_ros.evaluation.bench_peak import peak_search

LIVE_INPUT_FPS = 30.0
CAMERA_SIZES = ((256, 256), (640, 480))
REAL_VIDEO = "real video 640x480"
REAL_VIDEO_SIZE = (640, 480)
PEAK_CAMERA = (640, 480)
WARM_UP_RATE = 10.0


@dataclass(frozen=True)
class LiveConfiguration:
    graph: GraphConfig
    cameras: tuple = ("256x256", "640x480", REAL_VIDEO)
    peak: bool = False


def node_threads(threads: int | None, hsg_threads: int | None = None) -> dict:
    """Torch threads of the model nodes: `threads` each (default 1, as config/mirror.yaml)."""
    threads = threads or 1
    return {"cmn_node": threads, "hsg_node": hsg_threads or threads}


def live_configurations(estimators: list[str], with_variants: bool,
                        threads: int | None = None) -> list[LiveConfiguration]:
    """Each estimator in three processes with the parameters file's settings (the base
    configurations); with_variants, the fastest estimator also: with MediaPipe on every frame
    (no optical-flow tracking between estimates) and on every second (the default: every third);
    with cmn_node on every generated frame (masks_every 1; the file's default: every second);
    in one process (with a
    SingleThreadedExecutor, and with a MultiThreadedExecutor); estimating every camera frame
    (pose_node not paced to hsg_node); with hsg_node generating in line (its motion not prepared
    ahead on a second thread); with hsg_node's motion eager (not traced); with its render eager;
    with one more torch thread for
    hsg_node; with hsg_node in fp32 instead of the file's bf16 autocast; with hsg_node alone on
    one CPU and the other two nodes on another."""
    import os

    configurations = []
    names = {"mediapipe": "Holistic", "mediapipe_pose": "BlazePose"}
    fastest = "mediapipe_pose" if "mediapipe_pose" in estimators else estimators[-1]
    for estimator in estimators:
        label = f"{names.get(estimator, estimator)}, 3 processes"
        configurations.append(LiveConfiguration(GraphConfig(label, estimator, threads=node_threads(threads)),
                                                peak=True))
    if not with_variants:
        return configurations
    name = names.get(fastest, fastest)
    base = node_threads(threads)
    more = node_threads(threads, (threads or 1) + 1)
    variants = [
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, every frame estimated (not paced)", fastest,
                                      threads=base, variant="unpaced",
                                      node_parameters={"pose_node": {"max_frames_in_flight": 0}}),
                          cameras=("640x480", REAL_VIDEO)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, MediaPipe on every frame (no tracking between)",
                                      fastest, threads=base, variant="untracked",
                                      node_parameters={"pose_node": {"estimate_every": 1}}),
                          cameras=("640x480", REAL_VIDEO)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, MediaPipe on every 2nd frame (estimate_every 2)",
                                      fastest, threads=base, variant="every_second",
                                      node_parameters={"pose_node": {"estimate_every": 2}}),
                          cameras=("640x480", REAL_VIDEO)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, CMN on every generated frame (masks_every 1)",
                                      fastest, threads=base, variant="masks_every_frame",
                                      node_parameters={"cmn_node": {"masks_every": 1}}),
                          cameras=("256x256", "640x480", REAL_VIDEO)),
        LiveConfiguration(GraphConfig(f"{name}, 1 process (SingleThreadedExecutor)", fastest, single_process=True,
                                      threads=base, variant="one_process")),
        LiveConfiguration(GraphConfig(f"{name}, 1 process (MultiThreadedExecutor)", fastest, single_process=True,
                                      threads=base, variant="one_process_multi", executor="multi"),
                          cameras=("640x480",)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, hsg_node {more['hsg_node']} threads", fastest,
                                      threads=more, variant="hsg_threads"), cameras=("640x480",)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, hsg_node generating in line (one thread)", fastest,
                                      threads=base, variant="in_line",
                                      node_parameters={"hsg_node": {"prepare_motion_ahead": False}}),
                          cameras=("640x480", REAL_VIDEO)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, hsg_node's motion eager (not traced)", fastest,
                                      threads=base, variant="eager_motion",
                                      node_parameters={"hsg_node": {"trace_motion": False}}),
                          cameras=("640x480",)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, hsg_node's render eager (not traced)", fastest,
                                      threads=base, variant="eager_render",
                                      node_parameters={"hsg_node": {"trace_render": False}}),
                          cameras=("640x480",)),
        LiveConfiguration(GraphConfig(f"{name}, 3 processes, hsg_node in fp32", fastest, threads=base,
                                      node_parameters={"hsg_node": {"bf16_autocast": False}}, variant="fp32"),
                          cameras=("640x480",)),
    ]
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        variants.append(LiveConfiguration(
            GraphConfig(f"{name}, 3 processes, hsg_node on CPU {cpus[1]}, pose_node and cmn_node on CPU {cpus[0]}",
                        fastest, threads=base, variant="pinned",
                        cpus={"pose_node": (cpus[0],), "cmn_node": (cpus[0],), "hsg_node": (cpus[1],)}),
            cameras=("640x480",)))
    return configurations + variants


def camera_label(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def networks_section(preset: str, checkpoint: Path, clip, settings: dict, output: Path,
                     device: str | None) -> dict:
    stream = generated_stream(clip, (256, 256), "generated 256x256")
    config = GraphConfig("recorded keypoints, 3 processes", "recorded",
                         threads=node_threads(settings["node_threads"]))
    section: dict = {"graph": config.describe(), "camera": "generated test clip, 256x256, looped"}
    print(f"[{preset}] graph, {config.label}: starting", flush=True)
    with GraphRun(config, checkpoint, preset, stream, output / "logs" / f"{preset}_networks", settings,
                  device) as graph:
        section["startup_s"] = graph.startup_s
        graph.trial(stream, min(settings["rates"]), settings["warmup_s"], record=False)
        rates = {rate: graph.trial(stream, rate, settings["duration_s"]) for rate in settings["rates"]}
        section["rates"] = {f"{rate:g}": result for rate, result in rates.items()}
        section["peak"] = peak_search(
            lambda rate: graph.trial(stream, rate, settings["duration_s"], label="peak search "),
            rates, settings)
        print(f"  peak rate (recorded keypoints): {section['peak']['peak_rate_hz']} fps", flush=True)
    section["exit_codes"] = graph.exit_codes
    section["in_line"] = hsg_variant_trial(
        "hsg_node generating in line", "in_line", {"prepare_motion_ahead": False},
        checkpoint, preset, stream, output, settings, device)
    section["eager_motion"] = hsg_variant_trial(
        "hsg_node's motion eager (not traced)", "eager_motion", {"trace_motion": False},
        checkpoint, preset, stream, output, settings, device)
    section["eager_render"] = hsg_variant_trial(
        "hsg_node's render eager (not traced)", "eager_render", {"trace_render": False},
        checkpoint, preset, stream, output, settings, device)
    return section


def hsg_variant_trial(what: str, variant: str, hsg_parameters: dict, checkpoint: Path, preset: str,
                      stream, output: Path, settings: dict, device: str | None) -> dict:
    """The recorded-keypoints graph at the camera rate with other hsg_node parameters: what the
    defaults gain (the two threads, the traced motion and render), same run."""
    config = GraphConfig(f"recorded keypoints, 3 processes, {what}", "recorded",
                         threads=node_threads(settings["node_threads"]), variant=variant,
                         node_parameters={"hsg_node": hsg_parameters})
    print(f"[{preset}] graph, {config.label}: starting", flush=True)
    with GraphRun(config, checkpoint, preset, stream, output / "logs" / f"{preset}_networks_{variant}",
                  settings, device) as graph:
        graph.trial(stream, LIVE_INPUT_FPS, settings["warmup_s"], record=False)
        trial = graph.trial(stream, LIVE_INPUT_FPS, settings["duration_s"])
    return {"graph": config.describe(), "what": what, "rate": f"{LIVE_INPUT_FPS:g}", "trial": trial}


def real_video_inputs(scratch: Path, settings: dict) -> tuple[Path, CameraStream] | str:
    """(mp4 of the panning camera, its inputs), or why there is none (media not fetched)."""
    from fashionmirror_ros.data.real_media import MediaError
    from fashionmirror_ros.data.real_video import (real_garment, walking_woman, walking_woman_source,
                                                   write_mp4)

    try:
        clip = walking_woman(REAL_VIDEO_SIZE)
        source, garment = walking_woman_source(), real_garment()
    except MediaError as error:
        return f"skipped: {error}"
    path = scratch / "walking_woman_640x480.mp4"
    write_mp4(path, clip.frames, LIVE_INPUT_FPS)
    stream = CameraStream(REAL_VIDEO, list(clip.frames), None, source, garment)
    return path, stream


def live_section(preset: str, checkpoint: Path, clip, settings: dict, output: Path,
                 device: str | None) -> dict:
    streams = {camera_label(size): generated_stream(clip, size, f"generated {camera_label(size)}")
               for size in CAMERA_SIZES}
    section: dict = {"input_fps": LIVE_INPUT_FPS, "configurations": []}
    with tempfile.TemporaryDirectory(prefix="fashionmirror_bench_video_") as scratch:
        real = real_video_inputs(Path(scratch), settings) if settings["real_video"] else "skipped: --no-real-video"
        if isinstance(real, str):
            section["real_video"] = real
        else:
            section["real_video"] = ("Sports2D demo video (BSD-3-Clause), frames 60-185, a camera panning "
                                     "with the walking woman, 640x480, played by `fashionmirror camera`; "
                                     "h^s her photo (video frame 100), C a saleor T-shirt photo cut out")
        for configuration in live_configurations(settings["live_estimators"], settings["live_variants"],
                                                 settings["node_threads"]):
            section["configurations"].append(
                _run_configuration(configuration, preset, checkpoint, streams, real, settings, output, device))
    section["steps"] = steps(section["configurations"])
    return section


def _run_configuration(configuration: LiveConfiguration, preset, checkpoint, streams, real, settings,
                       output, device) -> dict:
    config = configuration.graph
    entry: dict = {"graph": config.describe(), "trials": {}}
    slug = config.label.replace(", ", "_").replace(" ", "_")
    print(f"[{preset}] live path, {config.label}: starting", flush=True)
    first = streams[camera_label(CAMERA_SIZES[0])]
    try:
        with GraphRun(config, checkpoint, preset, first, output / "logs" / f"{preset}_{slug}", settings,
                      device) as graph:
            entry["startup_s"] = graph.startup_s
            graph.trial(first, WARM_UP_RATE, settings["warmup_s"], record=False)
            for camera in configuration.cameras:
                if camera in streams:
                    entry["trials"][camera] = graph.trial(streams[camera], LIVE_INPUT_FPS,
                                                          settings["duration_s"], label=f"{camera} ")
                elif camera == REAL_VIDEO and not isinstance(real, str):
                    video, inputs = real
                    graph.set_inputs(inputs)
                    # one pass of her walk (126 frames, 4.2 s): a loop would jump back across the scene
                    entry["trials"][camera] = graph.camera_trial(video, LIVE_INPUT_FPS, len(inputs.frames),
                                                                 label=f"{camera} ")
                    graph.set_inputs(first)
            if configuration.peak:
                stream = streams[camera_label(PEAK_CAMERA)]
                measured = {LIVE_INPUT_FPS: entry["trials"][camera_label(PEAK_CAMERA)]}
                entry["peak"] = peak_search(
                    lambda rate: graph.trial(stream, rate, settings["duration_s"], label="peak search "),
                    measured, settings)
                entry["peak"]["camera"] = camera_label(PEAK_CAMERA)
                print(f"  peak rate ({config.label}, {camera_label(PEAK_CAMERA)}): "
                      f"{entry['peak']['peak_rate_hz']} fps", flush=True)
        entry["exit_codes"] = graph.exit_codes
    except Exception as error:  # noqa: BLE001 - one configuration must not lose the others
        print(f"fashionmirror bench: live configuration '{config.label}' failed: "
              f"{type(error).__name__}: {error}", flush=True)
        entry["error"] = f"{type(error).__name__}: {error}"
    return entry


# ---------------------------------------------------------------------------------------------
# Each step's gain, from trials of the same run
# ---------------------------------------------------------------------------------------------
def _figures(trial: dict | None) -> dict | None:
    if not trial:
        return None
    return {"tryon_fps": trial.get("tryon_fps_over_input_duration"),
            "lost_percent": round(100 * trial["lost_fraction"], 1) if trial.get("lost_fraction") is not None else None,
            "end_to_end_p95_ms": trial["end_to_end_ms"].get("p95"),
            "end_to_end_p50_ms": trial["end_to_end_ms"].get("p50")}


def _compare(name: str, camera: str, before: dict | None, after: dict | None) -> dict | None:
    a, b = _figures(before), _figures(after)
    if not a or not b:
        return None
    ratio = (round(b["tryon_fps"] / a["tryon_fps"], 3) if a["tryon_fps"] and b["tryon_fps"] else None)
    return {"step": name, "camera": camera, "before": a, "after": b, "fps_ratio": ratio,
            "p95_change_ms": (round(b["end_to_end_p95_ms"] - a["end_to_end_p95_ms"], 1)
                              if a["end_to_end_p95_ms"] is not None and b["end_to_end_p95_ms"] is not None
                              else None)}


def steps(configurations: list[dict]) -> list[dict]:
    """What each change bought, as before/after figures of trials in this run."""
    by_label = {entry["graph"]["label"]: entry for entry in configurations if "trials" in entry}

    def find(estimator: str, variant: str = "base"):
        return next((entry for entry in by_label.values() if entry["graph"]["estimator"] == estimator
                     and entry["graph"].get("variant", "base") == variant), None)

    holistic, blaze = find("mediapipe"), find("mediapipe_pose")
    result = []
    cameras = [camera_label(size) for size in CAMERA_SIZES] + [REAL_VIDEO]
    pairs = [("BlazePose body landmarks instead of Holistic (hands and face)", holistic, blaze),
             ("pose_node paced to hsg_node (max_frames_in_flight 2) instead of estimating every frame",
              find("mediapipe_pose", "unpaced"), blaze),
             ("pose_node runs MediaPipe on every 3rd frame and tracks the keypoints between (estimate_every 3)",
              find("mediapipe_pose", "untracked"), blaze),
             ("pose_node runs MediaPipe on every 3rd frame instead of every 2nd (estimate_every 3, not 2)",
              find("mediapipe_pose", "every_second"), blaze),
             ("cmn_node predicts M_c^{t+1} on every 2nd generated frame instead of every one (masks_every 2)",
              find("mediapipe_pose", "masks_every_frame"), blaze),
             ("hsg_node prepares the next frame's motion on a second thread instead of in line",
              find("mediapipe_pose", "in_line"), blaze),
             ("hsg_node runs the motion (prior flows, SFE, h^s's part of eq. 8) traced instead of eager",
              find("mediapipe_pose", "eager_motion"), blaze),
             ("hsg_node runs the render (HSG on h^t, the composition) traced instead of eager",
              find("mediapipe_pose", "eager_render"), blaze),
             ("one process (SingleThreadedExecutor) instead of three", blaze, find("mediapipe_pose", "one_process")),
             ("one process (MultiThreadedExecutor) instead of three", blaze,
              find("mediapipe_pose", "one_process_multi")),
             ("one more torch thread for hsg_node", blaze, find("mediapipe_pose", "hsg_threads")),
             ("hsg_node under bf16 autocast instead of fp32", find("mediapipe_pose", "fp32"), blaze),
             ("hsg_node on its own CPU, pose_node and cmn_node on the other", blaze, find("mediapipe_pose", "pinned"))]
    for name, before, after in pairs:
        if before is None or after is None:
            continue
        for camera in cameras:
            compared = _compare(name, camera, before["trials"].get(camera), after["trials"].get(camera))
            if compared:
                result.append(compared)
    for entry in (holistic, blaze):
        if entry is None:
            continue
        compared = _compare(f"256x256 camera instead of 640x480 ({entry['graph']['label']})", "256x256",
                            entry["trials"].get("640x480"), entry["trials"].get("256x256"))
        if compared:
            result.append(compared)
    return result
