"""`fashionmirror bench --output out/bench`: latency, rate, FLOP and optimisation benchmark, one run.

Everything is measured in one run on this machine, so the figures can be compared with each
other (machines here are shared and noisy: compare ratios and medians of one run, and see the
load averages recorded in bench.json).

For each preset (``--presets``, default realtime,paper):
1. Model: GFLOPs per network (``model_info``; FlopCounterMode, 2 FLOPs per MAC) and, in this
   process, the median forward time of what each node runs per frame - CMN multi-frame (cmn_node
   after its first two frames), CMN single-frame, SFE + HSG (hsg_node's ``generate``) - with
   random inputs at the model size, in three variants at 1 and 2 threads:
   ``fp32`` (NCHW), ``channels_last`` (fp32 NHWC, what the nodes run by default) and
   ``bf16_autocast`` (channels_last under bfloat16 autocast). Achieved GFLOP/s = GFLOPs / median
   time, beside the conv peak measured in the same run (``measure_conv_peak`` at 1 and 2
   threads). ``optimisation_steps`` gives each variant's speed-up over fp32 at the same thread
   count and 2 threads over 1 (ratios of medians of this run).
2. Graph: pose_node, cmn_node and hsg_node in three processes (``GraphSupervisor``, the
   shipped checkpoint or, if there is none, an untrained one of the preset: timing does not
   depend on the weights), pose from the clip's true keypoints (estimator "recorded": the
   networks are measured, not MediaPipe), fed a generated 256 x 256 test clip, looped, at fixed
   input rates (``--rates``, default 10,30,60 fps) for ``--duration`` s each after a warm-up.
   Per rate: per-node latency (receive -> publish) count/mean/min/max/p50/p95/p99/std, jitter
   (ros2_benchmark's: |dt_i - dt_{i-1}| of consecutive publish times), rate; end-to-end latency
   (receive time of /tryon/image - camera stamp) with the same statistics; /tryon/image fps;
   frames lost (sent - /tryon/image received, as ros2_benchmark counts missed frames) and each
   node's own drops; CPU % (100 = one core) and resident memory of each node process (psutil,
   sampled every 0.5 s).
3. Peak rate: the highest input rate with at most 5 % of frames lost (ros2_benchmark's
   definition), by bisection between the highest passing and lowest failing rate (or from the
   saturated output rate when no rate passes), to 10 % or ``--peak-iterations`` trials.
4. Live path (realtime preset only, unless ``--no-live``): the same graph with MediaPipe
   Holistic in pose_node at 30 fps.
Also: CMN against a DeepLabv3/ResNet-101 parsing network of the paper's baseline class
(``parsing_network("paper")``, random weights, timing only) at 256 x 256 in this process (the
paper: CMN 57 % of the parser's time), and a per-frame breakdown of each node's work (decode,
inference, encode, publish) measured in-process with the nodes' own functions.

Targets (issue 6): realtime preset, 256 x 256, separate processes, camera at 30 fps:
/tryon/image >= 20 fps sustained and p95 end-to-end latency <= 150 ms; ``targets`` in bench.json.

``--quick``: short durations, fewer repeats and trials (a CI-sized run of a few minutes).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import traceback
from argparse import Namespace
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from fashionmirror_ros.evaluation.reporting import format_value, json_default

LOSS_THRESHOLD = 0.05
TARGET_FPS = 20.0
TARGET_P95_MS = 150.0
TARGET_INPUT_FPS = 30.0
SAMPLE_PERIOD_S = 0.5
VARIANTS = ("fp32", "channels_last", "bf16_autocast")
BENCH_CLIP_FRAMES = 60
BENCH_CLIP = ("test", 0)


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------
def settings_for(args: Namespace) -> dict:
    quick = args.quick
    return {
        "quick": quick,
        "presets": [p for p in args.presets.split(",") if p],
        "rates": [float(r) for r in args.rates.split(",") if r],
        "duration_s": args.duration if args.duration else (4.0 if quick else 20.0),
        "warmup_s": 2.0 if quick else 5.0,
        "min_trial_frames": 8 if quick else 30,
        "max_trial_s": 30.0 if quick else 120.0,
        "peak_iterations": args.peak_iterations if args.peak_iterations is not None else (2 if quick else 5),
        "timing_budget_s": 1.0 if quick else 4.0,
        "timing_min_repeats": 3 if quick else 10,
        "live": not args.no_live,
        "node_threads": args.threads,
    }


# ---------------------------------------------------------------------------------------------
# In-process timing
# ---------------------------------------------------------------------------------------------
def median_ms(fn, budget_s: float, min_repeats: int, warmup: int = 1, max_repeats: int = 200) -> dict:
    """Median call time after `warmup` calls; repeats until min_repeats or the budget is spent
    (at least one timed call)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= min_repeats or time.perf_counter() - start > budget_s:
            break
    return {"median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3),
            "repeats": len(times)}


def network_calls(model, size: int):
    """The per-frame forward passes of the nodes, on random inputs: name -> fn(inputs)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    image = lambda: torch.rand(1, 3, size, size, generator=generator)  # noqa: E731
    mask = lambda: torch.rand(1, 1, size, size, generator=generator)  # noqa: E731
    inputs = {"h": [image() for _ in range(3)], "c": image(), "s": image(), "mr": mask(), "mc": mask(),
              "p0": image(), "p1": image(), "prev": image(), "prev_mask": mask()}
    calls = {
        "cmn_multi": lambda x: model.cloth_mask_multi(x["h"][0], x["h"][1], x["h"][2], x["c"]),
        "cmn_single": lambda x: model.masks_single(x["h"][2], x["c"]),
        "sfe_hsg": lambda x: model.generate(x["s"], x["mr"], x["c"], x["mc"], x["prev"], x["p0"], x["p1"],
                                            previous_removed_mask=x["prev_mask"]),
    }
    return calls, inputs


def _format_inputs(inputs: dict, channels_last: bool) -> dict:
    import torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def convert(value):
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value.contiguous(memory_format=fmt) if value.dim() == 4 else value
    return {key: convert(value) for key, value in inputs.items()}


def interleaved_medians(calls: dict, budget_s: float, min_repeats: int, warmup: int = 1,
                        max_repeats: int = 200) -> dict:
    """Median ms of each call, timed round-robin (one call of each per round), so that a change
    of machine load during the measurement hits every candidate alike."""
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times = {name: [] for name in calls}
    start = time.perf_counter()
    rounds = 0
    while rounds < max_repeats:
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
        rounds += 1
        if rounds >= min_repeats or time.perf_counter() - start > budget_s:
            break
    return {name: {"median_ms": round(statistics.median(values), 3), "min_ms": round(min(values), 3),
                   "repeats": len(values)} for name, values in times.items()}


def time_networks(model, size: int, gflops: dict, settings: dict, variants, threads_list) -> dict:
    """{network: {f"{variant}_t{threads}": {median_ms, gflop_per_s, ...}}}; the variants of one
    network are timed interleaved (a model copy per memory format)."""
    import torch

    previous = torch.get_num_threads()
    prepared = {}
    for variant in variants:
        channels_last = variant != "fp32"
        copy_ = copy.deepcopy(model).to(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        calls, inputs = network_calls(copy_, size)
        autocast = ((lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if variant == "bf16_autocast"
                    else nullcontext)
        prepared[variant] = (calls, _format_inputs(inputs, channels_last), autocast)
    names = list(prepared[variants[0]][0])
    results = {name: {"gflops": gflops.get(name)} for name in names}
    try:
        for threads in threads_list:
            torch.set_num_threads(threads)
            for name in names:
                candidates = {}
                for variant, (calls, formatted, autocast) in prepared.items():
                    def run(call=calls[name], formatted=formatted, autocast=autocast):
                        with torch.inference_mode(), autocast():
                            return call(formatted)
                    candidates[variant] = run
                timed = interleaved_medians(candidates, settings["timing_budget_s"] * len(candidates),
                                            settings["timing_min_repeats"])
                for variant, timing in timed.items():
                    flops = gflops.get(name)
                    timing["gflop_per_s"] = (round(flops / (timing["median_ms"] / 1e3), 2)
                                             if flops else None)
                    results[name][f"{variant}_t{threads}"] = timing
                    print(f"  {name:<10} {variant:<14} {threads} thread(s): {timing['median_ms']:9.2f} ms"
                          + (f"  {timing['gflop_per_s']:7.1f} GFLOP/s" if timing["gflop_per_s"] else ""),
                          flush=True)
    finally:
        torch.set_num_threads(previous)
    return results


def optimisation_steps(timings: dict) -> dict:
    """Speed-ups (ratios of medians, > 1 = faster) of each variant over fp32 and of 2 threads over 1."""
    steps = {}
    for name, entry in timings.items():
        ratios = {}
        for key, value in entry.items():
            if not isinstance(value, dict):
                continue
            variant, threads = key.rsplit("_t", 1)
            base = entry.get(f"fp32_t{threads}")
            if variant != "fp32" and base:
                ratios[f"{variant}_vs_fp32_t{threads}"] = round(base["median_ms"] / value["median_ms"], 3)
            one = entry.get(f"{variant}_t1")
            if threads == "2" and one:
                ratios[f"{variant}_2_threads_vs_1"] = round(one["median_ms"] / value["median_ms"], 3)
        best = min(((k, v["median_ms"]) for k, v in entry.items() if isinstance(v, dict)),
                   key=lambda item: item[1], default=None)
        if best:
            ratios["fastest"] = best[0]
            ratios["fastest_median_ms"] = best[1]
        steps[name] = ratios
    return steps


def cmn_vs_parser(models: dict, settings: dict, threads_list=(1, 2)) -> dict:
    """CMN single-frame (the mask prediction) time against the DeepLab-style parser at
    256 x 256, fp32 channels_last, timed interleaved in this process at 1 and 2 threads."""
    import torch

    from fashionmirror_ros.evaluation.parsing_baseline import parsing_network

    previous = torch.get_num_threads()
    parser = parsing_network("paper").to(memory_format=torch.channels_last)
    image = torch.rand(1, 3, 256, 256).contiguous(memory_format=torch.channels_last)
    calls = {"parser": lambda: parser(image)}
    for preset, model in models.items():
        model.to(memory_format=torch.channels_last)
        size = model.config.image_size
        garment = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last)
        calls[f"cmn_single_{preset}"] = lambda model=model, garment=garment: model.masks_single(garment, garment)
    result = {"parser": "parsing_network('paper'): DeepLabv3, ResNet-101, output stride 8, random "
                        "weights (timing only)", "format": "fp32 channels_last, interleaved timing",
              "paper_reported_ratio": round(0.1983 / 0.3469, 4)}
    try:
        for threads in threads_list:
            torch.set_num_threads(threads)
            with torch.inference_mode():
                timed = interleaved_medians(calls, settings["timing_budget_s"] * 2,
                                            min(3, settings["timing_min_repeats"]))
            entry = {name: value for name, value in timed.items()}
            for preset in models:
                ratio = timed[f"cmn_single_{preset}"]["median_ms"] / timed["parser"]["median_ms"]
                entry[f"ratio_cmn_{preset}_over_parser"] = round(ratio, 4)
                print(f"  {threads} thread(s): CMN ({preset}) {timed[f'cmn_single_{preset}']['median_ms']:.1f} ms "
                      f"vs parser {timed['parser']['median_ms']:.1f} ms: {ratio:.1%}", flush=True)
            result[f"threads_{threads}"] = entry
        return result
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------------------------
# Per-frame breakdown of the nodes' work, in-process with the nodes' own functions
# ---------------------------------------------------------------------------------------------
def node_breakdown(model, clip, settings: dict, threads: int = 1, with_mediapipe: bool = True) -> dict:
    """Median ms of each step a node does per frame (decode, inference, encode, publish).

    publish = rclpy publish of the message on a topic without subscribers (serialisation and
    the copy into the middleware; a lower bound of the cost with a subscriber)."""
    import rclpy
    import torch
    from rclpy.context import Context
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fashionmirror_ros.msg import PoseKeypoints, TryOnMasks
    from fashionmirror_ros.nodes.common import bridge
    from fashionmirror_ros.nodes.pose_node import keypoints_array, keypoints_msg
    from fashionmirror_ros.pipeline.framing import Letterbox
    from fashionmirror_ros.pipeline.images import RawImage, decode_color
    from fashionmirror_ros.pipeline.sessions import (GenerationSession, InferenceOptions, Masks,
                                                     MaskSession)
    from fashionmirror_ros.pose.skeleton import render_skeleton

    budget, repeats = settings["timing_budget_s"], settings["timing_min_repeats"]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    size = model.config.image_size
    frame = np.ascontiguousarray(clip.frames[1])
    keypoints = clip.keypoints[1]
    header = Header(frame_id="camera")
    result = {"threads": threads, "note": "publish = rclpy publish without subscribers (lower bound)"}
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = rclpy.create_node("fashionmirror_bench_breakdown", context=context,
                                 start_parameter_services=False)
        image_pub = node.create_publisher(Image, "/fashionmirror_bench/image", 10)
        masks_pub = node.create_publisher(TryOnMasks, "/fashionmirror_bench/masks", 10)
        pose_pub = node.create_publisher(PoseKeypoints, "/fashionmirror_bench/pose", 10)
        camera_msg = bridge.cv2_to_imgmsg(frame, encoding="rgb8")
        box = Letterbox.fit(frame.shape[1], frame.shape[0], size)
        options = InferenceOptions(device=torch.device("cpu"))
        model.to(memory_format=torch.channels_last)

        def decode():
            return box.image(decode_color(RawImage.from_msg(camera_msg)))

        # cmn_node: decode the fed-back frame, CMN multi-frame, two mono8 images, publish
        masks_session = MaskSession(model, options)
        masks_session.set_source(frame)
        masks_session.set_garment(np.ascontiguousarray(clip.garment))
        for _ in range(3):
            masks = masks_session.on_generated(frame)

        def encode_masks():
            msg = TryOnMasks(header=header, multi_frame=True, source_crc=1, garment_crc=2)
            msg.removed_mask = bridge.cv2_to_imgmsg(masks.removed, encoding="mono8")
            msg.cloth_mask = bridge.cv2_to_imgmsg(masks.cloth, encoding="mono8")
            return msg
        masks_msg = encode_masks()
        result["cmn_node"] = {
            "decode_fit": median_ms(decode, budget, repeats),
            "inference": median_ms(lambda: masks_session.on_generated(frame), budget, repeats),
            "encode": median_ms(encode_masks, budget, repeats),
            "publish": median_ms(lambda: masks_pub.publish(masks_msg), budget, repeats),
        }
        # hsg_node: keypoints -> model frame, skeleton p^t, SFE + HSG, rgb8 image, publish
        session = GenerationSession(model, options, size)
        session.set_source(frame)
        session.set_garment(np.ascontiguousarray(clip.garment))
        session.offer_masks(Masks(masks.removed, masks.cloth, True, session.source_crc, session.garment_crc))
        pose_msg = keypoints_msg(keypoints, header, frame.shape[1], frame.shape[0], True, "recorded")
        model_keypoints = box.keypoints(keypoints_array(pose_msg))
        session.step(model_keypoints)
        output = session.step(model_keypoints)
        tryon_msg = bridge.cv2_to_imgmsg(output, encoding="rgb8")
        result["hsg_node"] = {
            "decode_keypoints": median_ms(lambda: box.keypoints(keypoints_array(pose_msg)), budget, repeats),
            "render_skeleton": median_ms(lambda: render_skeleton(model_keypoints, size, size), budget, repeats),
            "inference_step": median_ms(lambda: session.step(model_keypoints), budget, repeats),
            "encode": median_ms(lambda: bridge.cv2_to_imgmsg(output, encoding="rgb8"), budget, repeats),
            "publish": median_ms(lambda: image_pub.publish(tryon_msg), budget, repeats),
        }
        result["hsg_node"]["inference_step"]["note"] = "GenerationSession.step: skeleton, tensors, SFE+HSG, uint8"
        # pose_node: decode, estimate (MediaPipe), keypoints message, skeleton image
        pose_entry = {
            "decode": median_ms(lambda: decode_color(RawImage.from_msg(camera_msg)), budget, repeats),
            "keypoints_msg": median_ms(lambda: keypoints_msg(keypoints, header, 256, 256, True, "x"),
                                       budget, repeats),
            "publish_keypoints": median_ms(lambda: pose_pub.publish(pose_msg), budget, repeats),
            "render_skeleton": median_ms(lambda: render_skeleton(model_keypoints, size, size), budget, repeats),
            "publish_skeleton": median_ms(lambda: image_pub.publish(tryon_msg), budget, repeats),
        }
        if with_mediapipe:
            try:
                from fashionmirror_ros.pose.estimators import MediaPipeHolisticEstimator

                estimator = MediaPipeHolisticEstimator(model_complexity=1, max_input_side=320)
                frames = [np.ascontiguousarray(f) for f in clip.frames[:30]]
                counter = iter(range(10**9))
                pose_entry["mediapipe_estimate"] = median_ms(
                    lambda: estimator.estimate(frames[next(counter) % len(frames)]), budget, repeats)
                estimator.close()
            except Exception as error:  # noqa: BLE001 - report, do not abort the benchmark
                pose_entry["mediapipe_estimate"] = {"error": f"{type(error).__name__}: {error}"}
        result["pose_node"] = pose_entry
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        torch.set_num_threads(previous)
    return result


# ---------------------------------------------------------------------------------------------
# Graph trials
# ---------------------------------------------------------------------------------------------
class ProcessSampler:
    """CPU % (100 = one core) and RSS of processes, sampled in a thread."""

    def __init__(self, pids: dict[str, int], period_s: float = SAMPLE_PERIOD_S):
        import psutil

        self.processes = {}
        for name, pid in pids.items():
            try:
                self.processes[name] = psutil.Process(pid)
            except psutil.Error:
                pass
        self.period_s = period_s
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in self.processes}
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self) -> "ProcessSampler":
        for process in self.processes.values():
            try:
                process.cpu_percent(None)
            except Exception:  # noqa: BLE001
                pass
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            for name, process in self.processes.items():
                try:
                    self.samples[name].append((process.cpu_percent(None), process.memory_info().rss / 2**20))
                except Exception:  # noqa: BLE001 - the process may have gone
                    pass

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def summary(self) -> dict:
        result = {}
        for name, samples in self.samples.items():
            if not samples:
                result[name] = None
                continue
            cpu = np.asarray([s[0] for s in samples])
            rss = np.asarray([s[1] for s in samples])
            result[name] = {"cpu_percent_mean": round(float(cpu.mean()), 1),
                            "cpu_percent_max": round(float(cpu.max()), 1),
                            "rss_mb_mean": round(float(rss.mean()), 1), "rss_mb_max": round(float(rss.max()), 1),
                            "samples": len(samples)}
        return result


def clip_bag(clip):
    """A ClipBag (in memory) of a generated clip, for the player."""
    from fashionmirror_ros.evaluation.bags import ClipBag

    bag = ClipBag(Path(f"generated:{BENCH_CLIP[0]}/{BENCH_CLIP[1]}"), {}, {"fps": str(clip.fps)})
    height, width = clip.frames.shape[1:3]
    for index in range(len(clip.frames)):
        stamp = int(round(index * 1e9 / clip.fps))
        bag.camera_stamps.append(stamp)
        bag.camera_bag_times.append(stamp)
        bag.frames[stamp] = np.ascontiguousarray(clip.frames[index])
        bag.keypoints[stamp] = clip.keypoints[index]
        bag.keypoint_sizes[stamp] = (width, height)
    bag.source_image, bag.garment_image = clip.frames[0], clip.garment
    bag.source_keypoints, bag.source_keypoints_size = clip.keypoints[0], (width, height)
    return bag


class GraphRun:
    """A started graph with a player/recorder harness, ready to play trials."""

    def __init__(self, preset: str, checkpoint: Path, estimator: str, bag, log_dir: Path, settings: dict,
                 device: str | None):
        self.preset, self.checkpoint, self.estimator, self.bag = preset, checkpoint, estimator, bag
        self.log_dir, self.settings, self.device = log_dir, settings, device
        self.supervisor = None
        self.harness = None
        self.startup_s = None

    def __enter__(self) -> "GraphRun":
        from fashionmirror_ros.evaluation import replay

        parameters = replay.model_parameters(str(self.checkpoint), self.device, self.preset,
                                             self.settings["node_threads"])
        self.capture = replay.Capture(keep_images=False)
        self.supervisor = replay.start_graph(self.estimator, parameters, self.log_dir)
        self.check = replay.death_check(self.supervisor, self.log_dir)
        try:
            self.harness = replay.Harness(self.capture, self.estimator, name="fashionmirror_bench").__enter__()
            self.startup_s = round(self.harness.wait_for_graph(replay.DEFAULT_STARTUP_TIMEOUT_S, self.check), 2)
            inputs_ns = self.harness.publish_inputs(self.bag.source_image, self.bag.garment_image,
                                                    self.bag.source_keypoints, self.bag.source_keypoints_size)
            self.harness.wait_for_masks(inputs_ns, replay.DEFAULT_STARTUP_TIMEOUT_S, self.check)
            if self.estimator != "recorded":
                replay._wait_source_pose(self.harness, inputs_ns, self.check)
            self.frames = replay.prepare_frames(self.bag, with_keypoints=self.estimator == "recorded")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.harness is not None:
            self.harness.__exit__(None, None, None)
        if self.supervisor is not None:
            self.exit_codes = self.supervisor.stop()

    def trial(self, rate: float, duration_s: float, label: str = "", record: bool = True) -> dict:
        """Play the looped clip at `rate` fps for about `duration_s` and measure."""
        from fashionmirror_ros.evaluation import replay

        settings = self.settings
        count = int(round(rate * duration_s))
        count = max(count, settings["min_trial_frames"])
        count = min(count, max(3, int(rate * settings["max_trial_s"])))
        frames = [self.frames[i % len(self.frames)] for i in range(count)]
        offsets = [i / rate for i in range(count)]
        self.capture.clear_streams()
        load_before = os.getloadavg()
        with ProcessSampler(self.supervisor.pids()) as sampler:
            sent = replay.play(self.harness, frames, offsets, check=self.check)
            with self.capture.lock:
                e2e = [(r - s) / 1e6 for s, r, _ in self.capture.tryon]
            typical = statistics.median(e2e) / 1e3 if e2e else 1.0
            replay.drain(self.harness, sent[-1].stamp_ns, timeout_s=max(5.0, 6 * typical),
                         idle_s=max(1.0, 3 * typical))
        self.check()
        result = trial_statistics(self.capture, sent, rate)
        result["processes"] = sampler.summary()
        result["load_average_1min_before"] = round(load_before[0], 2)
        if record:
            status = (f"lost {result['frames_lost']}/{result['frames_sent']} "
                      f"({result['lost_fraction']:.1%}), /tryon/image {result['tryon_fps'] or 0:.1f} fps, "
                      f"e2e p50 {result['end_to_end_ms']['p50'] or 0:.0f} ms p95 "
                      f"{result['end_to_end_ms']['p95'] or 0:.0f} ms")
            print(f"  {self.preset} {label or ''}{rate:g} fps x {len(sent)} frames: {status}", flush=True)
        return result


def trial_statistics(capture, sent, rate: float) -> dict:
    from fashionmirror_ros.evaluation import replay

    stamps = {frame.stamp_ns for frame in sent}
    by_stamp = {frame.stamp_ns: frame for frame in sent}
    matched = {}
    for stamp, received, _ in capture.tryon:
        if stamp in stamps and stamp not in matched:
            matched[stamp] = received
    received_times = sorted(matched.values())
    e2e = [(received - stamp) / 1e6 for stamp, received in matched.items()]
    duration = (sent[-1].stamp_ns - sent[0].stamp_ns) / 1e9 if len(sent) > 1 else 0.0
    lost = len(sent) - len(matched)
    return {
        "input_rate_hz": rate,
        "measured_input_rate_hz": replay.rate_hz(frame.stamp_ns for frame in sent),
        "duration_s": round(duration, 3),
        "frames_sent": len(sent),
        "frames_received": len(matched),
        "frames_lost": lost,
        "lost_fraction": round(lost / len(sent), 4) if sent else None,
        "tryon_fps": replay.rate_hz(received_times),
        "tryon_fps_over_input_duration": round(len(matched) / duration, 3) if duration else None,
        "end_to_end_ms": replay.summary_ms(e2e),
        "end_to_end_jitter_ms": replay.jitter_ms(received_times),
        "pose_keypoints_received": sum(1 for stamp, _, _ in capture.pose if stamp in stamps),
        "pose_person_found": sum(1 for stamp, _, found in capture.pose if stamp in stamps and found),
        "stages_ms": replay.stage_breakdown(capture, by_stamp),
        "nodes": {name: {k: v for k, v in entry.items() if k != "diagnostics"}
                  for name, entry in replay.node_statistics(capture, stamps).items()},
        "note": "per-node figures count only outputs for this trial's frames (a node slower than "
                "the trial, e.g. the paper CMN, may have none)",
    }


def peak_search(graph: GraphRun, results: dict[float, dict], settings: dict) -> dict:
    """Highest input rate with <= 5 % frames lost, by bisection."""
    lost = {rate: r["lost_fraction"] for rate, r in results.items()}
    trials = []

    def attempt(rate: float) -> bool:
        rate = round(rate, 3)
        result = graph.trial(rate, settings["duration_s"], label="peak search ")
        trials.append({"rate_hz": rate, "lost_fraction": result["lost_fraction"],
                       "tryon_fps": result["tryon_fps"], "end_to_end_p95_ms": result["end_to_end_ms"]["p95"]})
        lost[rate] = result["lost_fraction"]
        return result["lost_fraction"] <= LOSS_THRESHOLD

    passing = [r for r, value in lost.items() if value <= LOSS_THRESHOLD]
    lo = max(passing) if passing else None
    failing = [r for r, value in lost.items() if value > LOSS_THRESHOLD and (lo is None or r > lo)]
    hi = min(failing) if failing else None
    budget = settings["peak_iterations"]
    if hi is None and lo is not None:  # everything passed: probe upwards
        while budget > 0 and hi is None:
            budget -= 1
            candidate = lo * 2
            if attempt(candidate):
                lo = candidate
            else:
                hi = candidate
    if lo is None and hi is not None:  # nothing passed: start below the saturated output rate
        saturated = max((r["tryon_fps"] or 0.0) for r in results.values()) if results else 0.0
        candidate = min(hi / 2, saturated * 0.9) if saturated > 0 else hi / 4
        while budget > 0 and lo is None and candidate > 0.05:
            budget -= 1
            if attempt(candidate):
                lo = candidate
            else:
                hi = candidate
                candidate = candidate / 2
    while budget > 0 and lo is not None and hi is not None and (hi - lo) > 0.1 * hi:
        budget -= 1
        middle = (lo + hi) / 2
        if attempt(middle):
            lo = middle
        else:
            hi = middle
    return {"peak_rate_hz": round(lo, 3) if lo is not None else None,
            "lowest_failing_rate_hz": round(hi, 3) if hi is not None else None,
            "criterion": f"<= {LOSS_THRESHOLD:.0%} of frames lost (sent - /tryon/image received)",
            "resolution": "bisection to 10 % or the trial budget", "trials": trials}


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="out/bench", help="folder for bench.json and bench.md")
    parser.add_argument("--presets", default="realtime,paper", help="comma-separated presets")
    parser.add_argument("--rates", default="10,30,60", help="input rates in fps (comma-separated)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per rate (default 20, --quick 4)")
    parser.add_argument("--quick", action="store_true", help="short durations, fewer repeats (CI-sized)")
    parser.add_argument("--peak-iterations", type=int, default=None, help="trials of the peak search")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per model node "
                        "(default: the parameters file's)")
    parser.add_argument("--device", default=None, help="device of the model nodes (default auto)")
    parser.add_argument("--no-live", action="store_true", help="skip the MediaPipe live-path trial")
    parser.add_argument("--no-graph", action="store_true", help="in-process measurements only")
    parser.add_argument("--skip-paper-graph", action="store_true",
                        help="no graph trials for the paper preset (seconds per frame on a CPU)")


def machine_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "torch_threads_default": torch.get_num_threads(), "load_average_start": os.getloadavg(),
            "ros_domain_id": os.environ.get("ROS_DOMAIN_ID", "0"),
            "rmw": os.environ.get("RMW_IMPLEMENTATION")}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            info["cpu_model"] = next((line.split(":", 1)[1].strip() for line in cpuinfo
                                      if line.startswith("model name")), None)
    except OSError:
        pass
    return info


def preset_checkpoint(preset: str, scratch: Path) -> tuple[Path, str]:
    """The shipped checkpoint of `preset`, else an untrained one written under scratch/."""
    from fashionmirror_ros.models.checkpoint import save_checkpoint
    from fashionmirror_ros.models.mirror import FashionMirror
    from fashionmirror_ros.pipeline.assets import default_checkpoint

    try:
        shipped = default_checkpoint(preset)
        if (shipped / "model.safetensors").exists() and (shipped / "config.json").exists():
            return shipped, "shipped"
    except FileNotFoundError:
        pass
    import torch

    torch.manual_seed(0)
    model = FashionMirror.from_preset(preset)
    path = save_checkpoint(scratch / preset, model, model.config,
                           {"note": "untrained, written by fashionmirror bench for timing only"})
    return path, "untrained (no shipped checkpoint; timing does not depend on the weights)"


def _guard(section: str, results: dict, key: str, fn):
    """Run one section; on failure keep its error in the JSON and go on."""
    try:
        results[key] = fn()
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - one broken section must not lose the others
        print(f"fashionmirror bench: {section} failed: {type(error).__name__}: {error}", file=sys.stderr,
              flush=True)
        results[key] = {"error": f"{type(error).__name__}: {error}",
                        "traceback": traceback.format_exc(limit=5)}
    return results[key]


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    unknown = [p for p in settings["presets"] if p not in ("realtime", "paper")]
    if unknown or not settings["presets"]:
        print(f"fashionmirror bench: error: unknown presets {unknown}", file=sys.stderr)
        return 2
    if not settings["rates"] or min(settings["rates"]) <= 0:
        print("fashionmirror bench: error: --rates must be positive numbers", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        report = benchmark(args, settings, output)
    except KeyboardInterrupt:
        print("fashionmirror bench: interrupted", file=sys.stderr)
        return 130
    report["wall_time_s"] = round(time.monotonic() - started, 1)
    report["machine"]["load_average_end"] = os.getloadavg()
    (output / "bench.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    (output / "bench.md").write_text(bench_markdown(report))
    print(f"fashionmirror bench: {output / 'bench.json'}, {output / 'bench.md'} "
          f"({report['wall_time_s']:.0f} s)")
    return 0




def benchmark(args: Namespace, settings: dict, output: Path) -> dict:
    import torch

    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.evaluation.peak import measure_conv_peak
    from fashionmirror_ros.models.info import model_info
    from fashionmirror_ros.models.mirror import FashionMirror

    report: dict = {"machine": machine_info(), "settings": settings, "presets": {}}
    print(f"fashionmirror bench: {'quick' if settings['quick'] else 'full'} run, presets "
          f"{settings['presets']}, rates {settings['rates']}", flush=True)
    print("conv peak (one 3x3 conv 256->256 on 64x64):", flush=True)
    peaks = {}
    for threads in (1, 2):
        peak = _guard(f"conv peak {threads} thread(s)", peaks, f"threads_{threads}",
                      lambda threads=threads: measure_conv_peak(threads=threads,
                                                                repeats=5 if settings["quick"] else 20))
        if "error" not in peak:
            print(f"  {threads} thread(s): fp32 {peak['fp32_gflops']:.0f}, channels_last "
                  f"{peak['fp32_channels_last_gflops']:.0f}, bf16 {peak.get('bf16_autocast_gflops') or 0:.0f} GFLOP/s",
                  flush=True)
    report["conv_peak"] = peaks
    clip = generate_clip(split_seed(*BENCH_CLIP), BENCH_CLIP_FRAMES, 256, 30.0)
    bag = clip_bag(clip)
    models = {}
    for preset in settings["presets"]:
        entry: dict = {}
        report["presets"][preset] = entry
        print(f"[{preset}] model", flush=True)
        info = _guard(f"{preset} model_info", entry, "model_info", lambda: model_info(preset, 256))
        networks = info.get("networks", {}) if isinstance(info, dict) else {}
        gflops = {"cmn_multi": networks.get("cmn_multi", {}).get("gflops"),
                  "cmn_single": networks.get("cmn_single", {}).get("gflops"),
                  "sfe_hsg": (networks["sfe"]["gflops"] + networks["hsg"]["gflops"])
                  if "sfe" in networks and "hsg" in networks else None}
        torch.manual_seed(0)
        model = FashionMirror.from_preset(preset).eval()
        models[preset] = model
        heavy = preset == "paper" and settings["quick"]
        variants = ("channels_last",) if heavy else VARIANTS
        timing_settings = dict(settings, timing_min_repeats=1) if heavy else settings
        print(f"[{preset}] in-process forward times ({', '.join(variants)}):", flush=True)
        timings = _guard(f"{preset} forward timing", entry, "forward",
                         lambda: time_networks(model, model.config.image_size, gflops, timing_settings,
                                               variants, (1, 2)))
        if "error" not in timings:
            entry["optimisation_steps"] = optimisation_steps(timings)
            for threads in (1, 2):
                peak = peaks.get(f"threads_{threads}", {})
                if "error" in peak:
                    continue
                for name, value in timings.items():
                    measured = value.get(f"channels_last_t{threads}")
                    if measured and measured.get("gflop_per_s") and peak.get("fp32_channels_last_gflops"):
                        measured["fraction_of_conv_peak_channels_last"] = round(
                            measured["gflop_per_s"] / peak["fp32_channels_last_gflops"], 4)
        if preset == "realtime" or len(settings["presets"]) == 1:
            print(f"[{preset}] per-frame breakdown of the nodes' work (1 thread):", flush=True)
            breakdown = _guard(f"{preset} breakdown", entry, "node_breakdown",
                               lambda: node_breakdown(model, clip, settings, threads=1))
            if "error" not in breakdown:
                for node, steps in breakdown.items():
                    if isinstance(steps, dict):
                        print(f"  {node}: " + ", ".join(f"{k} {v['median_ms']:.2f} ms" for k, v in steps.items()
                                                        if isinstance(v, dict) and "median_ms" in v), flush=True)
    print("CMN vs parsing network (256x256):", flush=True)
    _guard("cmn vs parser", report, "cmn_vs_parser", lambda: cmn_vs_parser(models, settings))
    del models
    if not args.no_graph:
        with tempfile.TemporaryDirectory(prefix="fashionmirror_bench_") as scratch:
            for preset in settings["presets"]:
                if preset == "paper" and args.skip_paper_graph:
                    report["presets"][preset]["graph"] = {"skipped": "--skip-paper-graph"}
                    continue
                _guard(f"{preset} graph", report["presets"][preset], "graph",
                       lambda preset=preset: graph_section(preset, bag, settings, output, args.device,
                                                           Path(scratch)))
    report["targets"] = targets(report)
    return report


def graph_section(preset: str, bag, settings: dict, output: Path, device: str | None,
                  scratch: Path) -> dict:
    checkpoint, weights = preset_checkpoint(preset, scratch)
    section: dict = {"checkpoint": str(checkpoint) if weights == "shipped" else None, "weights": weights, "estimator": "recorded",
                     "clip": f"generated {BENCH_CLIP[0]} clip {BENCH_CLIP[1]}, {BENCH_CLIP_FRAMES} frames "
                             "256x256, looped"}
    print(f"[{preset}] graph in 3 processes ({weights}); starting", flush=True)
    with GraphRun(preset, checkpoint, "recorded", bag, output / "logs" / preset, settings, device) as graph:
        section["startup_s"] = graph.startup_s
        warm_rate = min(settings["rates"])
        graph.trial(warm_rate, settings["warmup_s"], label="warm-up ", record=False)
        rates = {}
        for rate in settings["rates"]:
            rates[rate] = graph.trial(rate, settings["duration_s"])
        section["rates"] = {f"{rate:g}": result for rate, result in rates.items()}
        section["peak"] = peak_search(graph, rates, settings)
        print(f"  {preset} peak rate: {section['peak']['peak_rate_hz']} fps "
              f"(<= 5 % lost; lowest failing {section['peak']['lowest_failing_rate_hz']})", flush=True)
    section["exit_codes"] = getattr(graph, "exit_codes", None)
    if preset == "realtime" and settings["live"]:
        print(f"[{preset}] live path: MediaPipe Holistic in pose_node, {TARGET_INPUT_FPS:g} fps", flush=True)
        with GraphRun(preset, checkpoint, "mediapipe", bag, output / "logs" / f"{preset}_live", settings,
                      device) as live:
            live.trial(10.0, settings["warmup_s"], record=False)
            result = live.trial(TARGET_INPUT_FPS, settings["duration_s"], label="live ")
        section["live_mediapipe"] = result
    return section


def targets(report: dict) -> dict:
    """Issue 6 targets for the realtime preset at 30 fps input."""
    graph = report["presets"].get("realtime", {}).get("graph", {})
    result = {"definition": f"realtime preset, 256x256, separate processes, camera {TARGET_INPUT_FPS:g} fps: "
                            f"/tryon/image >= {TARGET_FPS:g} fps and end-to-end p95 <= {TARGET_P95_MS:g} ms"}
    for label, trial in (("networks_recorded_pose", graph.get("rates", {}).get(f"{TARGET_INPUT_FPS:g}")),
                         ("live_mediapipe_pose", graph.get("live_mediapipe"))):
        if not trial:
            continue
        fps = trial.get("tryon_fps_over_input_duration")
        p95 = trial["end_to_end_ms"].get("p95")
        result[label] = {"tryon_fps": fps, "end_to_end_p95_ms": p95,
                         "fps_met": bool(fps is not None and fps >= TARGET_FPS),
                         "latency_met": bool(p95 is not None and p95 <= TARGET_P95_MS)}
    return result


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


def bench_markdown(report: dict) -> str:
    machine = report["machine"]
    lines = ["# fashionmirror bench", "",
             f"- machine: {machine.get('cpu_model')}, {machine.get('cpu_count')} cores, torch {machine.get('torch')}; "
             f"load average at start {', '.join(f'{v:.2f}' for v in machine['load_average_start'])}, at end "
             f"{', '.join(f'{v:.2f}' for v in machine.get('load_average_end', []))}",
             f"- settings: {'quick' if report['settings']['quick'] else 'full'}, "
             f"{report['settings']['duration_s']:g} s per rate; wall time {report.get('wall_time_s')} s", ""]
    targets_entry = report.get("targets", {})
    if len(targets_entry) > 1:
        lines += ["## Targets (issue 6)", "", targets_entry["definition"], "",
                  "| pose source | /tryon/image fps | p95 e2e ms | fps met | latency met |", "|---|---|---|---|---|"]
        for label, value in targets_entry.items():
            if isinstance(value, dict):
                lines.append(f"| {label} | {format_value(value['tryon_fps'])} | {format_value(value['end_to_end_p95_ms'])} | "
                             f"{value['fps_met']} | {value['latency_met']} |")
        lines.append("")
    peaks = report.get("conv_peak", {})
    lines += ["## Conv peak (3x3 conv 256->256, 64x64), GFLOP/s", "", "| threads | fp32 | channels_last | bf16 |",
              "|---|---|---|---|"]
    for key, peak in peaks.items():
        if "error" not in peak:
            lines.append(f"| {peak['threads']} | {format_value(peak['fp32_gflops'])} | {format_value(peak['fp32_channels_last_gflops'])} | "
                         f"{format_value(peak.get('bf16_autocast_gflops'))} |")
    for preset, entry in report["presets"].items():
        lines += ["", f"## Preset {preset}", ""]
        forward = entry.get("forward", {})
        if forward and "error" not in forward:
            lines += ["| network | GFLOPs | variant/threads | median ms | GFLOP/s |", "|---|---|---|---|---|"]
            for name, value in forward.items():
                for key, timing in value.items():
                    if isinstance(timing, dict):
                        lines.append(f"| {name} | {format_value(value.get('gflops'), 3)} | {key} | {format_value(timing['median_ms'], 2)} | "
                                     f"{format_value(timing.get('gflop_per_s'))} |")
            lines += ["", "Optimisation steps (speed-up, > 1 = faster): "
                      + "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in steps.items())
                                  for name, steps in entry.get("optimisation_steps", {}).items()), ""]
        graph = entry.get("graph", {})
        if graph.get("rates"):
            lines += [f"Graph ({graph.get('weights')}), startup {graph.get('startup_s')} s:", "",
                      "| input fps | sent | lost % | /tryon/image fps | e2e p50 | e2e p95 | e2e p99 | e2e max | "
                      "pose p50 | cmn p50 | hsg p50 | hsg p95 | CPU% pose/cmn/hsg | RSS MB pose/cmn/hsg |",
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            trials = list(graph["rates"].items())
            if graph.get("live_mediapipe"):
                trials.append(("30 (MediaPipe)", graph["live_mediapipe"]))
            for rate, trial in trials:
                nodes, e2e, processes = trial["nodes"], trial["end_to_end_ms"], trial.get("processes", {})
                cpu = "/".join(format_value((processes.get(n) or {}).get("cpu_percent_mean"), 0)
                               for n in ("pose_node", "cmn_node", "hsg_node"))
                rss = "/".join(format_value((processes.get(n) or {}).get("rss_mb_max"), 0)
                               for n in ("pose_node", "cmn_node", "hsg_node"))
                lines.append(
                    f"| {rate} | {trial['frames_sent']} | {format_value(100 * trial['lost_fraction'])} | "
                    f"{format_value(trial['tryon_fps_over_input_duration'])} | {format_value(e2e.get('p50'))} | {format_value(e2e.get('p95'))} | "
                    f"{format_value(e2e.get('p99'))} | {format_value(e2e.get('max'))} | "
                    f"{format_value(nodes['pose_node']['latency_ms'].get('p50'))} | {format_value(nodes['cmn_node']['latency_ms'].get('p50'))} | "
                    f"{format_value(nodes['hsg_node']['latency_ms'].get('p50'))} | {format_value(nodes['hsg_node']['latency_ms'].get('p95'))} | "
                    f"{cpu} | {rss} |")
            peak = graph.get("peak", {})
            lines += ["", f"Peak rate (<= 5 % lost): **{format_value(peak.get('peak_rate_hz'), 2)} fps** "
                          f"(lowest failing {format_value(peak.get('lowest_failing_rate_hz'), 2)}; trials "
                          f"{[(t['rate_hz'], t['lost_fraction']) for t in peak.get('trials', [])]})"]
        elif graph:
            lines.append(f"Graph: {graph}")
        breakdown = entry.get("node_breakdown")
        if breakdown and "error" not in breakdown:
            lines += ["", "Per-frame work of each node in-process (median ms, 1 thread):", ""]
            for node, steps in breakdown.items():
                if isinstance(steps, dict):
                    lines.append(f"- {node}: " + ", ".join(f"{k} {format_value(v.get('median_ms'), 2)}" for k, v in steps.items()
                                                          if isinstance(v, dict) and "median_ms" in v))
    parser = report.get("cmn_vs_parser", {})
    if parser and "error" not in parser:
        lines += ["", "## CMN vs parsing network (256x256, fp32 channels_last, interleaved)", ""]
        for key, entry in parser.items():
            if key.startswith("threads_"):
                lines.append(f"- {key.replace('_', ' ')}: parser (DeepLabv3 ResNet-101 OS8) "
                             f"{format_value(entry['parser']['median_ms'])} ms; " + "; ".join(
                                 f"{name} {value:.1%}" for name, value in entry.items() if name.startswith("ratio_"))
                             + f" (paper: {parser['paper_reported_ratio']:.1%})")
    return "\n".join(lines) + "\n"
