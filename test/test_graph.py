"""The three nodes as separate processes over real DDS, fed a short generated camera stream."""
import time

import numpy as np
import pytest

from conftest import requires_ros
from graph_harness import running_graph

from fashionmirror_ros.evaluation.graph.recorder import status_values

# Slow enough for a graph sharing the machine with another pytest worker (see test_replay.py).
FPS = 5.0
FRAMES = 20
NODES = {"pose_node", "cmn_node", "hsg_node"}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The graph started by the same supervisor as `fashionmirror run` (recorded pose source)."""
    with running_graph(tmp_path_factory.mktemp("graph")) as (driver, supervisor):
        yield driver, supervisor


@requires_ros
def test_tryon_frames_arrive_with_camera_stamps_and_latency_is_reported(graph, stream_clip):
    driver, supervisor = graph
    clip = stream_clip
    source_stamp = driver.stamp(0, FPS, base_s=500)
    driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], source_stamp)
    assert driver.wait_for(lambda: driver.snapshot("masks"), 30), "cmn_node published no masks"
    assert driver.wait_for(lambda: hsg_ready(driver), 30), "hsg_node still lacks an input"

    camera_stamps = []
    for index in range(1, FRAMES + 1):
        stamp = driver.stamp(index, FPS)
        camera_stamps.append((stamp.sec, stamp.nanosec))
        driver.publish_frame(clip.frames[index], clip.keypoints[index], stamp)
        time.sleep(1.0 / FPS)
    driver.wait_for(lambda: driver.count("arrivals") >= FRAMES, 15)

    received = [arrival.msg for arrival in driver.snapshot("arrivals")]
    stamps = [(msg.header.stamp.sec, msg.header.stamp.nanosec) for msg in received]
    assert len(received) >= 0.8 * FRAMES, f"only {len(received)} of {FRAMES} try-on frames"
    assert set(stamps) <= set(camera_stamps), "a /tryon/image stamp is not a camera stamp"
    assert stamps == sorted(stamps), "frames arrived out of order"
    first = received[0]
    assert (first.encoding, first.height, first.width) == ("rgb8", 256, 256)
    assert first.header.frame_id == "camera"
    pixels = np.frombuffer(bytes(first.data), np.uint8)
    assert pixels.size == 256 * 256 * 3 and pixels.std() > 0

    latency = driver.snapshot("latency")
    assert {record.node for record in latency} == NODES
    camera_stamps_ns = {sec * 1_000_000_000 + nanosec for sec, nanosec in camera_stamps}
    for record in latency:
        assert record.stamp_ns in camera_stamps_ns
        assert 0 < record.duration_ns < 5e9

    driver.wait_for(lambda: all(int(status_values(s).get("frames_processed", 0)) > 0
                                for name, s in driver.statuses().items() if name in NODES), 5)
    statuses = driver.statuses()
    for name in NODES:
        values = status_values(statuses[name])
        assert float(values["latency_p50_ms"]) > 0, (name, values)
        assert int(values["frames_processed"]) > 0
    # hsg_node's second thread generated frames whose motion the first had prepared
    assert int(status_values(statuses["hsg_node"])["motions_prepared_ahead"]) > 0
    assert not supervisor.dead()


@requires_ros
def test_a_source_without_a_person_is_refused_and_a_person_brings_frames_back(graph, stream_clip):
    driver, _ = graph
    clip = stream_clip
    blank = np.full_like(clip.frames[0], 180)
    driver.publish_inputs(blank, None, None, driver.stamp(0, FPS, base_s=700))
    refused = "shows no person: refused"
    assert driver.wait_for(lambda: refused in driver.statuses().get("hsg_node", _NoStatus).message, 30)
    driver.clear()
    for index in range(1, 6):
        driver.publish_frame(clip.frames[index], clip.keypoints[index], driver.stamp(index, FPS, base_s=710))
        time.sleep(1.0 / FPS)
    assert not driver.wait_for(lambda: driver.count("arrivals") > 0, 1.0), \
        "a try-on was published for a source with no person in it"

    # the garment too: under pytest-xdist this test may run on a graph no earlier test fed
    driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], driver.stamp(0, FPS, base_s=720))
    assert driver.wait_for(lambda: refused not in driver.statuses().get("hsg_node", _NoStatus).message, 30)
    for index in range(1, 11):
        driver.publish_frame(clip.frames[index], clip.keypoints[index], driver.stamp(index, FPS, base_s=730))
        time.sleep(1.0 / FPS)
    assert driver.wait_for(lambda: driver.count("arrivals") >= 3, 15), "frames did not come back"


class _NoStatus:
    message = ""


def hsg_ready(driver) -> bool:
    """hsg_node has every input (its person mask of h^s arrives after pose_node segmented it)."""
    message = driver.statuses().get("hsg_node", _NoStatus).message
    return not any(text in message for text in ("no source", "no garment", "person mask", "no CMN"))


@requires_ros
def test_a_clean_plate_of_the_scene_is_used_and_one_of_another_scene_refused(graph, stream_clip):
    """Last in this module: the refused plate stays in hsg_node's session."""
    from sensor_msgs.msg import Image

    from fashionmirror_ros import topics
    from fashionmirror_ros.messages import header, rgb_image_msg
    from fashionmirror_ros.nodes.common import LATCHED_QOS

    driver, supervisor = graph
    clip = stream_clip
    driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], driver.stamp(0, FPS, base_s=900))
    assert driver.wait_for(lambda: hsg_ready(driver), 30), "hsg_node still lacks an input"
    background = lambda: status_values(driver.statuses()["hsg_node"]).get("background", "")  # noqa: E731
    assert background() == "inpainted"
    publisher = driver.node.create_publisher(Image, topics.BACKGROUND_IMAGE, LATCHED_QOS)
    try:
        # h^s itself is the scene outside the person: accepted
        publisher.publish(rgb_image_msg(clip.frames[0], header(0, "camera")))
        assert driver.wait_for(lambda: background() == "plate", 20), background()
        noise = np.random.default_rng(0).integers(0, 256, clip.frames[0].shape, dtype=np.uint8)
        publisher.publish(rgb_image_msg(noise, header(0, "camera")))
        assert driver.wait_for(lambda: background().startswith("plate refused"), 20), background()
        assert "plate refused" in driver.statuses()["hsg_node"].message
    finally:
        driver.node.destroy_publisher(publisher)
    assert not supervisor.dead()
