"""Nothing a topic can carry crashes a node or leaves it wedged (DESIGN.md section 6).

One graph (pose_node with recorded keypoints, cmn_node, hsg_node; each its own process, started
and respawned by GraphSupervisor as `fashionmirror run` does) serves the tests of this module in
order: missing inputs, bad messages on every input topic, recovery to OK, a person leaving and
coming back, a garment swap, a 60 fps load, and nodes killed mid-stream. (A checkpoint whose
networks overflow: test_non_finite_output.py.)
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import requires_ros
from fashionmirror_ros import topics
from fashionmirror_ros.evaluation.graph.recorder import status_values
from graph_harness import (ClipFeeder, GraphHarness, ProcessSampler, quarter_medians, running_graph,
                           short_fault_hold_params, stamp_ns, summarize)

pytestmark = requires_ros

# The graph runs in the root namespace: its topics' fully qualified names, as messages name them.
CAMERA = topics.absolute(topics.CAMERA_IMAGE)
SOURCE = topics.absolute(topics.SOURCE_IMAGE)
GARMENT = topics.absolute(topics.GARMENT_IMAGE)
TRYON = topics.absolute(topics.TRYON_IMAGE)
KEYPOINTS = topics.absolute(topics.POSE_KEYPOINTS)
SOURCE_KEYPOINTS = topics.absolute(topics.SOURCE_KEYPOINTS)
SOURCE_PERSON = topics.absolute(topics.SOURCE_PERSON_MASK)
MASKS = topics.absolute(topics.CMN_MASKS)

NODES = ("pose_node", "cmn_node", "hsg_node")
FPS = 15.0
FAULT_HOLD_S = 2.0
OUTPUT_TIMEOUT_S = 20
LOAD_FPS = 60.0
LOAD_S = 20.0  # the long run is `fashionmirror soak`
RECOVERY_TIMEOUT_S = 60


# ---- the rig ---------------------------------------------------------------------------------
class Rig:
    """The running graph, its driver, and the moves the tests make with them."""

    def __init__(self, driver: GraphHarness, supervisor, log_dir: Path, clip):
        self.driver = driver
        self.supervisor = supervisor
        self.log_dir = log_dir
        self.clip = clip
        self.frame_index = 0
        self.source_stamp = driver.stamp(0, FPS, base_s=500)
        self._publishers = {}
        self.inputs_published = False

    def publisher(self, msg_type, topic: str, qos, subscribers: int):
        """A publisher of the test's own on a topic the graph publishes too (made once, matched)."""
        if topic not in self._publishers:
            publisher = self.driver.node.create_publisher(msg_type, topic, qos)
            self.driver.wait_for(lambda: publisher.get_subscription_count() >= subscribers, 10)
            time.sleep(0.5)  # the subscribers' side of the match, which this side cannot see
            self._publishers[topic] = publisher
        return self._publishers[topic]

    def drop_publisher(self, topic: str) -> None:
        """Destroy the test's publisher on `topic` (and with it what it latched for late joiners)."""
        publisher = self._publishers.pop(topic, None)
        if publisher is not None:
            self.driver.node.destroy_publisher(publisher)

    def feedback_publisher(self):
        from sensor_msgs.msg import Image

        from fashionmirror_ros.nodes.common import OUTPUT_QOS

        return self.publisher(Image, TRYON, OUTPUT_QOS, 2)  # cmn_node, driver

    def keypoints_publisher(self):
        from fashionmirror_ros.msg import PoseKeypoints
        from fashionmirror_ros.nodes.common import OUTPUT_QOS

        return self.publisher(PoseKeypoints, KEYPOINTS, OUTPUT_QOS, 2)  # hsg_node, cmn_node

    def masks_publisher(self):
        from fashionmirror_ros.msg import TryOnMasks
        from fashionmirror_ros.nodes.common import LATCHED_QOS

        return self.publisher(TryOnMasks, MASKS, LATCHED_QOS, 2)  # hsg_node, driver

    def ensure_streaming(self) -> None:
        """Source and garment published (the first test does it itself), masks computed."""
        if not self.inputs_published:
            self.publish_source()
            self.publish_garment()
            assert self.driver.wait_for(lambda: self.driver.snapshot("masks"), OUTPUT_TIMEOUT_S)

    def publish_source(self) -> None:
        self.driver.publish_inputs(self.clip.frames[0], None, self.clip.keypoints[0], self.source_stamp)

    def publish_garment(self, garment=None) -> None:
        self.driver.publish_inputs(None, self.clip.garment if garment is None else garment, None,
                                   self.source_stamp)
        self.inputs_published = True  # (the source always goes first)

    def send_frames(self, count: int, fps: float = FPS, present: bool = True) -> list[int]:
        """`count` good camera frames (+ recorded keypoints) at `fps`; returns their stamps (ns)."""
        stamps = []
        for _ in range(count):
            index = 1 + self.frame_index % (len(self.clip) - 1)
            self.frame_index += 1
            keypoints = self.clip.keypoints[index] if present else np.zeros_like(self.clip.keypoints[index])
            stamp = self.driver.now_stamp()
            self.driver.publish_frame(self.clip.frames[index], keypoints, stamp)
            stamps.append(stamp_ns(stamp))
            time.sleep(1.0 / fps)
        return stamps

    def arrived(self, stamps) -> list:
        wanted = set(stamps)
        return [arrival for arrival in self.driver.snapshot("arrivals") if arrival.stamp_ns in wanted]

    def wait_for_output(self, stamps, timeout: float = OUTPUT_TIMEOUT_S) -> list:
        self.driver.wait_for(lambda: self.arrived(stamps), timeout)
        return self.arrived(stamps)

    def resumes(self, attempts: int = 3) -> list:
        """Good frames after a fault come out again as try-on frames with their own stamps.

        Waits for the last frame sent: then the newest-wins slots are empty, and a message the
        next test sends cannot be replaced by a good frame still on its way (and so never seen).
        """
        for _ in range(attempts):
            stamps = self.send_frames(3)
            if self.wait_for_output(stamps[-1:], timeout=OUTPUT_TIMEOUT_S / attempts):
                return self.arrived(stamps)
        return []

    def complaint(self, node: str, since: int, *words: str):
        """The first WARN/ERROR status of `node` since diagnostics index `since` holding all words."""
        from diagnostic_msgs.msg import DiagnosticStatus

        for status in self.driver.status_history(node, since):
            if status.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR) and all(
                    word in status.message for word in words):
                return status
        return None

    def log(self, node: str) -> str:
        path = self.log_dir / f"{node}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def assert_alive(self) -> None:
        assert not self.supervisor.dead(), f"a node died: {self.supervisor.dead()}, see {self.log_dir}"
        restarts = {name: node.restarts for name, node in self.supervisor.nodes.items() if node.restarts}
        assert not restarts, f"nodes were restarted: {restarts}, see {self.log_dir}"


def params_file(directory: Path) -> Path:
    return short_fault_hold_params(directory, FAULT_HOLD_S)


@pytest.fixture(scope="module")
def graph(tmp_path_factory, stream_clip):
    directory = tmp_path_factory.mktemp("robustness")
    with running_graph(directory, params_file=params_file(directory), driver_name="robustness_driver",
                       watch=True) as (driver, supervisor):
        yield Rig(driver, supervisor, directory / "logs", stream_clip)


@pytest.fixture
def rig(graph):
    """The graph with source and garment in place, so any test below also runs on its own (-k)."""
    graph.ensure_streaming()
    return graph


# ---- missing inputs -------------------------------------------------------------------------------
def test_without_source_or_garment_nothing_is_published_and_diagnostics_say_waiting(graph):
    rig = graph
    driver = rig.driver
    mark = driver.count("diagnostics")
    stamps = rig.send_frames(5)
    for node in ("cmn_node", "hsg_node"):
        assert driver.wait_for(lambda: rig.complaint(node, mark, "waiting: no source image"), 5), \
            driver.statuses().get(node)

    mark = driver.count("diagnostics")
    rig.publish_source()
    stamps += rig.send_frames(5)
    for node in ("cmn_node", "hsg_node"):
        assert driver.wait_for(lambda: rig.complaint(node, mark, "waiting: no garment image"), 5), \
            driver.statuses().get(node)
    assert not driver.snapshot("arrivals"), "a try-on frame without a garment"
    assert not driver.snapshot("masks"), "masks without a garment"

    rig.publish_garment()
    assert driver.wait_for(lambda: driver.snapshot("masks"), OUTPUT_TIMEOUT_S), "no masks"
    assert rig.resumes(), "no try-on frames once source and garment are there"
    assert not rig.arrived(stamps), "frames sent while an input was missing came out later"
    rig.assert_alive()


# ---- bad messages on every input topic ----------------------------------------------------------
def image(encoding: str, width: int, height: int, step: int, size: int):
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    return Image(header=Header(stamp=GraphHarness.now_stamp(), frame_id="camera"), encoding=encoding,
                 width=width, height=height, step=step, data=bytes(size))


BAD_IMAGES = {  # kind -> (message factory, words of the reason)
    "yuv422": (lambda: image("yuv422", 256, 256, 512, 256 * 512), "unsupported encoding 'yuv422'"),
    "32FC1": (lambda: image("32FC1", 256, 256, 1024, 256 * 1024), "unsupported encoding '32FC1'"),
    "zero-size": (lambda: image("rgb8", 0, 0, 0, 0), "zero-sized image 0x0"),
    "step-mismatch": (lambda: image("rgb8", 256, 256, 300, 256 * 768), "step 300 is shorter than a row"),
    "truncated": (lambda: image("rgb8", 256, 256, 768, 1000), "truncated image"),
    "huge-header-short-data": (lambda: image("rgb8", 5000, 5000, 15000, 4096),
                               "image 5000x5000 exceeds the 4096-pixel limit"),
    "mono8": (lambda: image("mono8", 256, 256, 256, 256 * 256), "grayscale encoding 'mono8'"),
}
IMAGE_TOPICS = {  # topic -> (nodes that must reject, kinds tried there)
    CAMERA: (("pose_node",), list(BAD_IMAGES)),
    SOURCE: (("cmn_node", "hsg_node"), list(BAD_IMAGES)),
    GARMENT: (("cmn_node", "hsg_node"), list(BAD_IMAGES)),
    TRYON: (("cmn_node",), ["yuv422", "zero-size", "truncated", "huge-header-short-data", "mono8"]),
}
IMAGE_CASES = [(topic, kind) for topic, (_, kinds) in IMAGE_TOPICS.items() for kind in kinds]


def expect_rejected(rig, publish, nodes, topic: str, reason: str, attempts: int = 3) -> None:
    """publish() a bad message; each node says why on /diagnostics (WARN/ERROR naming topic and
    reason) and in its log. Sent again if no node complained: the fed-back try-on and keypoints
    are read newest-wins, and a busy machine does lose a sample now and then."""
    for _ in range(attempts):
        since = rig.driver.count("diagnostics")
        publish()
        if rig.driver.wait_for(lambda: rig.complaint(nodes[0], since, topic, reason), 4):
            break
    for node in nodes:
        found = rig.driver.wait_for(lambda: rig.complaint(node, since, topic, reason), 6)
        assert found, (f"{node}: no diagnostics naming {topic} and {reason!r}; newest: "
                       f"{rig.driver.statuses().get(node)}")
        line = f"rejected input on {topic}: "
        assert rig.driver.wait_for(lambda: any(line in text and reason in text
                                               for text in rig.log(node).splitlines()), 5), \
            f"{node}: no log line '{line}...{reason}' in {rig.log_dir / (node + '.log')}"


@pytest.mark.parametrize("topic, kind", IMAGE_CASES, ids=[f"{t}:{k}" for t, k in IMAGE_CASES])
def test_bad_image_is_rejected_with_topic_and_reason_and_the_stream_goes_on(rig, topic, kind):
    make, reason = BAD_IMAGES[kind]
    publishers = {CAMERA: rig.driver.player.camera, SOURCE: rig.driver.player.source,
                  GARMENT: rig.driver.player.garment, TRYON: rig.feedback_publisher()}
    nodes = IMAGE_TOPICS[topic][0]
    try:
        expect_rejected(rig, lambda: publishers[topic].publish(make()), nodes, topic, reason)
    finally:
        if topic == SOURCE:  # late joiners (a respawned node) must get a good one
            rig.publish_source()
        if topic == GARMENT:
            rig.publish_garment()
    assert rig.resumes(), f"no try-on frames after a bad image on {topic}"
    rig.assert_alive()


def test_big_source_photo_within_limits_is_used(rig):
    """A 4000x3000 source photo (36 MB, what a phone takes; inside the 4096-pixel limit) is
    letterboxed and used: masks for it arrive and the stream goes on. (Camera frames this big
    do not survive the best-effort camera QoS over Fast DDS's default transport: see README.)"""
    import cv2

    from fashionmirror_ros.pipeline.framing import Letterbox
    from fashionmirror_ros.pipeline.images import image_crc

    photo = cv2.resize(rig.clip.frames[0], (3000, 3000), interpolation=cv2.INTER_LINEAR)
    photo = cv2.copyMakeBorder(photo, 0, 0, 500, 500, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    expected_crc = image_crc(Letterbox.fit(4000, 3000, 256).image(photo))
    rig.driver.publish_inputs(photo, None, None, rig.driver.now_stamp())
    try:
        assert rig.driver.wait_for(lambda: any(r.source_crc == expected_crc
                                               for r in rig.driver.snapshot("masks")), 30), \
            "no masks for the 4000x3000 source photo"
        assert rig.resumes(), "no try-on frames with the big source photo"
    finally:
        rig.publish_source()
    rig.assert_alive()


def test_big_camera_frame_within_limits_is_processed(rig):
    """1920x1080 camera frames (6 MB each) from a camera process with the default (reliable)
    QoS and no Fast DDS profile come out as try-on frames: pose_node's camera subscription is
    reliable, so large frames are not lost (test_camera_qos measures the delivery rate)."""
    import subprocess
    import sys

    now = time.time_ns()
    stamps = [now + index * 1_000_000_000 for index in range(3)]
    helper = Path(__file__).with_name("big_frame_publisher.py")
    done = subprocess.run([sys.executable, str(helper), "--stamps", *map(str, stamps)],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rig.wait_for_output(stamps, timeout=10), "no try-on frame from a 1920x1080 camera frame"
    assert rig.resumes()
    rig.assert_alive()


def test_silent_camera_is_reported(rig):
    """No camera frames for input_timeout_s: pose_node (and hsg_node, without keypoints) say so."""
    mark = rig.driver.count("diagnostics")
    for node, topic in (("pose_node", CAMERA), ("hsg_node", KEYPOINTS)):
        assert rig.driver.wait_for(lambda: rig.complaint(node, mark, f"waiting: no messages on {topic}"), 10), \
            rig.driver.statuses().get(node)
    assert rig.resumes()


def keypoints_message(keypoints, width=256, height=256, stamp=None, found=True):
    from std_msgs.msg import Header

    from fashionmirror_ros.messages import keypoints_msg

    header = Header(stamp=stamp or GraphHarness.now_stamp(), frame_id="camera")
    return keypoints_msg(np.asarray(keypoints, np.float32), header, width, height, found, "test")


def with_value(keypoints, row: int, column: int, value: float):
    changed = np.array(keypoints, np.float32, copy=True)
    changed[row, column] = value
    return changed


KEYPOINT_CASES = {  # kind -> (keypoints, width, height, words of the reason)
    "zero-image-size": (None, 0, 0, "zero-sized image 0x0"),
    "nan-x": ((2, 0, float("nan")), 256, 256, "NaN or inf values (first: index 2)"),
    "inf-y": ((4, 1, float("inf")), 256, 256, "NaN or inf values (first: index 4)"),
    "nan-confidence": ((3, 2, float("nan")), 256, 256, "NaN or inf values (first: index 3)"),
    "confidence-above-one": ((3, 2, 7.0), 256, 256, "confidence outside [0, 1]"),
}


@pytest.mark.parametrize("kind", list(KEYPOINT_CASES))
def test_bad_keypoints_are_rejected_not_rendered(rig, kind):
    change, width, height, reason = KEYPOINT_CASES[kind]
    good = rig.clip.keypoints[3]
    keypoints = good if change is None else with_value(good, *change)
    publisher = rig.keypoints_publisher()
    sent = []

    def publish():
        sent.append(keypoints_message(keypoints, width, height))
        publisher.publish(sent[-1])

    expect_rejected(rig, publish, ("hsg_node",), KEYPOINTS, reason)
    assert rig.resumes(), "no try-on frames after bad keypoints"
    assert not rig.arrived([stamp_ns(msg.header.stamp) for msg in sent]), \
        "a frame was generated from bad keypoints"
    rig.assert_alive()


@pytest.mark.parametrize("kind", ["zero-image-size", "nan-x"])
def test_bad_source_keypoints_are_rejected(rig, kind):
    """The pose of h^s (p^0) with the source's own stamp: the path that applies it must not break."""
    change, width, height, reason = KEYPOINT_CASES[kind]
    good = rig.clip.keypoints[0]
    keypoints = good if change is None else with_value(good, *change)
    message = keypoints_message(keypoints, width, height, stamp=rig.source_stamp)
    try:
        expect_rejected(rig, lambda: rig.driver.player.source_pose.publish(message), ("hsg_node",),
                        SOURCE_KEYPOINTS, reason)
    finally:
        rig.publish_source()
    assert rig.resumes()
    rig.assert_alive()


def test_nan_in_recorded_keypoints_is_rejected_by_pose_node(rig):
    stamps = []

    def publish():
        stamps.append(rig.driver.now_stamp())
        rig.driver.publish_frame(rig.clip.frames[5], with_value(rig.clip.keypoints[5], 0, 0, float("nan")),
                                 stamps[-1])

    expect_rejected(rig, publish, ("pose_node",), CAMERA, "NaN or inf values (first: index 0)")
    assert rig.resumes()
    assert not rig.arrived([stamp_ns(stamp) for stamp in stamps]), "a frame was generated from NaN keypoints"
    rig.assert_alive()


MASK_CASES = {  # kind -> (removed mask factory, words of the reason)
    "rgb8-encoding": (lambda: image("rgb8", 256, 256, 768, 256 * 768), "mask encoding 'rgb8' is not mono8"),
    "wrong-size": (lambda: image("mono8", 128, 128, 128, 128 * 128), "do not match model size"),
    "truncated": (lambda: image("mono8", 256, 256, 256, 100), "truncated image"),
}


@pytest.mark.parametrize("kind", list(MASK_CASES))
def test_bad_masks_are_rejected(rig, kind):
    from fashionmirror_ros.msg import TryOnMasks

    make, reason = MASK_CASES[kind]
    publisher = rig.masks_publisher()
    good = image("mono8", 256, 256, 256, 256 * 256)
    try:
        expect_rejected(rig, lambda: publisher.publish(TryOnMasks(header=good.header, removed_mask=make(),
                                                                  cloth_mask=good)),
                        ("hsg_node",), MASKS, reason)
    finally:  # a late joiner (a respawned hsg_node) must get only cmn_node's masks
        rig.drop_publisher(MASKS)
    assert rig.resumes()
    rig.assert_alive()


def test_diagnostics_return_to_ok_after_good_input(rig):
    from diagnostic_msgs.msg import DiagnosticStatus

    with ClipFeeder(rig.driver, rig.clip.frames[1:], rig.clip.keypoints[1:], FPS):
        all_ok = lambda: all(status.level == DiagnosticStatus.OK and status.message == "running"  # noqa: E731
                             for name, status in rig.driver.statuses().items() if name in NODES)
        # A fault is reported for FAULT_HOLD_S after the last bad message, then OK again.
        assert rig.driver.wait_for(all_ok, FAULT_HOLD_S + 0.5 + 10), {
            name: (status.level, status.message) for name, status in rig.driver.statuses().items()}
    values = status_values(rig.driver.statuses()["hsg_node"])
    assert int(values["inputs_rejected"]) > 0
    # the parameters file's masks_every 2: CMN skipped generated frames fed back (every second
    # one after each restart of the mask history; the schedule is tested in test_sessions.py)
    masks = status_values(rig.driver.statuses()["cmn_node"])
    assert masks["masks_every"] == "2"
    assert int(masks["fed_back_frames_taken"]) > 0 and int(masks["fed_back_frames_skipped"]) > 0
    rig.assert_alive()


# ---- the person and the garment -------------------------------------------------------------
def single_output(rig, index: int):
    """Send clip frame `index` alone; the try-on frame it gave (pixels)."""
    stamp = rig.driver.now_stamp()
    rig.driver.publish_frame(rig.clip.frames[index], rig.clip.keypoints[index], stamp)
    assert rig.wait_for_output([stamp_ns(stamp)]), f"no try-on frame for clip frame {index}"
    for arrival in reversed(rig.driver.snapshot("arrivals")):
        if arrival.stamp_ns == stamp_ns(stamp):
            return np.frombuffer(bytes(arrival.msg.data), np.uint8).copy()
    raise AssertionError("frame arrived but was not kept")


def test_no_person_in_view_then_a_return_restarts_from_the_source(rig):
    driver = rig.driver
    index = 9
    rig.send_frames(10)
    mid_stream = single_output(rig, index)

    returns = []
    for _ in range(2):
        mark = driver.count("diagnostics")
        absent = rig.send_frames(12, present=False)
        for node in ("pose_node", "hsg_node"):
            assert driver.wait_for(lambda: rig.complaint(node, mark, "waiting: no person in view"), 5), \
                driver.statuses().get(node)
        assert not rig.arrived(absent), "a try-on frame with nobody in view"
        returns.append(single_output(rig, index))  # the first frame after the return
        rig.send_frames(10)

    assert np.array_equal(returns[0], returns[1]), "the recurrence did not restart from h^s"
    assert not np.array_equal(returns[0], mid_stream), \
        "a frame after a return equals one mid-stream: the restart is not observable here"
    rig.assert_alive()


def test_garment_swap_mid_stream_switches_masks_and_frames_continue(rig):
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.pipeline.images import image_crc

    driver = rig.driver
    new_garment = generate_clip(split_seed("test", 1), num_frames=1).garment
    old_crc, new_crc = image_crc(rig.clip.garment), image_crc(new_garment)
    assert old_crc != new_crc
    with ClipFeeder(driver, rig.clip.frames[1:], rig.clip.keypoints[1:], FPS) as feeder:
        assert driver.wait_for(lambda: rig.arrived(feeder.published), OUTPUT_TIMEOUT_S), \
            "no try-on frames before the swap"
        masks_before = driver.count("masks")
        swap_ns = time.time_ns()
        rig.publish_garment(new_garment)

        def masks_since_swap() -> list[int]:
            return [record.garment_crc for record in driver.snapshot("masks")[masks_before:]]

        def frames_after_swap() -> list:
            return [a for a in driver.snapshot("arrivals") if a.stamp_ns > swap_ns + 500_000_000]

        driver.wait_for(lambda: new_crc in masks_since_swap() and len(frames_after_swap()) >= 5, 3.0)
    sequence = masks_since_swap()
    assert new_crc in sequence, "no masks for the new garment"
    first_new = sequence.index(new_crc)
    assert set(sequence[first_new:]) == {new_crc}, "masks for the old garment after ones for the new"
    assert set(sequence[:first_new]) <= {old_crc}
    after = frames_after_swap()
    assert len(after) >= 5, f"only {len(after)} frames after the swap"
    assert {a.stamp_ns for a in after} <= set(feeder.published)
    assert driver.wait_for(lambda: all(
        status_values(driver.statuses().get(node)).get("garment_crc")
        == f"{new_crc:08x}" for node in ("cmn_node", "hsg_node")), 3)
    assert f"new garment {new_crc:08x}" in rig.log("hsg_node")
    rig.assert_alive()


# ---- load ---------------------------------------------------------------------------------------
def test_60_fps_camera_latency_bounded_drops_counted_memory_flat(rig):
    driver = rig.driver
    driver.clear()
    sampler = ProcessSampler(rig.supervisor.pids, period_s=0.5).start()
    start_ns = time.time_ns()
    with ClipFeeder(driver, rig.clip.frames[1:], rig.clip.keypoints[1:], LOAD_FPS) as feeder:
        time.sleep(LOAD_S)
    # Let the frames still in the graph through: each node keeps the newest frame it was given
    # and frames come out in order, so the last one published comes out last.
    last = feeder.published[-1]
    driver.wait_for(lambda: any(a.stamp_ns == last for a in driver.snapshot("arrivals")), 2.0)
    sampler.stop()
    duration_s = (feeder.published[-1] - feeder.published[0]) / 1e9

    published = set(feeder.published)
    arrivals = sorted((a for a in driver.snapshot("arrivals") if a.stamp_ns in published),
                      key=lambda a: a.stamp_ns)
    assert len(arrivals) > 30, f"only {len(arrivals)} try-on frames at {LOAD_FPS} fps"
    third = len(arrivals) // 3
    first = summarize([a.latency_ms for a in arrivals[:third]])
    last = summarize([a.latency_ms for a in arrivals[-third:]])
    overall = summarize([a.latency_ms for a in arrivals])
    output_fps = len(arrivals) / duration_s

    latency = [record for record in driver.snapshot("latency") if record.stamp_ns >= start_ns]
    dropped = {node: [r.frames_dropped for r in latency if r.node == node] for node in NODES}
    per_node = {node: summarize([r.duration_ms for r in latency if r.node == node]) for node in NODES}
    memory = {node: quarter_medians([rss for _, rss in samples])
              for node, samples in sampler.samples.items()}

    print(f"\nload: {len(feeder.published)} camera frames in {duration_s:.1f} s "
          f"({len(feeder.published) / duration_s:.1f} fps) -> {len(arrivals)} try-on frames "
          f"({output_fps:.1f} fps)")
    print(f"end-to-end ms: all {overall}, first third {first}, last third {last}")
    for node in NODES:
        print(f"{node}: processing {per_node[node]}, dropped during the run "
              f"{dropped[node][-1] - dropped[node][0] if dropped[node] else 0}, "
              f"RSS MB first/last quarter median {memory.get(node)}")

    assert overall["p95"] < 2000, overall
    assert last["p95"] <= 1.5 * first["p95"] + 100, (first, last)
    # pose_node is paced to hsg_node (max_frames_in_flight): the frames hsg_node has no time for
    # are dropped at pose_node's camera input, before a pose is estimated for them
    assert dropped["pose_node"][-1] > dropped["pose_node"][0], "pose_node dropped nothing at 60 fps"
    diagnostics = status_values(driver.statuses()["pose_node"])
    assert int(diagnostics["frames_dropped"]) > 0
    for node, (first_mb, last_mb) in memory.items():
        assert last_mb <= first_mb * 1.05 + 15, f"{node} RSS grew from {first_mb:.0f} to {last_mb:.0f} MB"
    rig.assert_alive()
    driver.clear()


# ---- killed nodes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("node", ["hsg_node", "cmn_node", "pose_node"])
def test_killed_node_is_restarted_and_the_stream_resumes(rig, node, record_property):
    driver = rig.driver
    running = rig.supervisor.nodes[node]
    restarts, pid = running.restarts, running.process.pid
    with ClipFeeder(driver, rig.clip.frames[1:], rig.clip.keypoints[1:], FPS):
        assert driver.wait_for(lambda: driver.count("arrivals") > 0, OUTPUT_TIMEOUT_S)
        time.sleep(1.0)
        kill_ns = time.time_ns()
        os.kill(pid, signal.SIGKILL)
        if node == "cmn_node":  # the generator goes on with its last masks; wait for new ones
            recovered = lambda: [r.receive_ns for r in driver.snapshot("masks")  # noqa: E731
                                 if r.stamp_ns > kill_ns]
        else:  # a try-on frame of a camera frame taken after the kill
            recovered = lambda: [a.receive_ns for a in driver.snapshot("arrivals")  # noqa: E731
                                 if a.stamp_ns > kill_ns]
        assert driver.wait_for(recovered, RECOVERY_TIMEOUT_S), f"{node}: no output after the kill"
        recovery_s = (min(recovered()) - kill_ns) / 1e9
        during = [a for a in driver.snapshot("arrivals") if kill_ns < a.receive_ns < min(recovered())]
    assert running.restarts == restarts + 1 and running.process.pid != pid
    assert not rig.supervisor.dead()
    print(f"\n{node}: SIGKILL -> restarted -> output again after {recovery_s:.2f} s "
          f"({len(during)} try-on frames meanwhile)")
    record_property(f"{node}_recovery_s", round(recovery_s, 2))
    assert recovery_s < RECOVERY_TIMEOUT_S
    if node == "cmn_node":
        assert during, "the stream stopped while cmn_node was down"
