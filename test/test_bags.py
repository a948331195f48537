"""rosbag2 clip bags (rosbags, no ROS): write a generated clip, read it back intact; clear errors."""
import numpy as np
import pytest

from fashionmirror_ros.data.synthetic import generate_clip, split_seed
from fashionmirror_ros.evaluation import bags

FRAMES = 6
SIZE = 64
START_NS = 1_700_000_000_123_456_789


@pytest.fixture(scope="module")
def clip():
    return generate_clip(split_seed("test", 0), FRAMES, SIZE, 30.0)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_clip_bag_round_trip(tmp_path, clip, storage):
    written = bags.write_clip_bag(tmp_path / "bag", clip, storage=storage, source_index=2,
                                  start_ns=START_NS, custom={"split": "test"})
    assert written.frames == FRAMES and written.size_bytes > 0
    expected_stamps = [START_NS + round(i * 1e9 / 30.0) for i in range(FRAMES)]
    assert written.stamps_ns == expected_stamps

    topics = bags.bag_topics(tmp_path / "bag")
    assert topics[bags.CAMERA_TOPIC] == (bags.IMAGE_TYPE, FRAMES)
    assert topics[bags.KEYPOINTS_TOPIC] == (bags.KEYPOINTS_TYPE, FRAMES)
    assert topics[bags.GT_IMAGE_TOPIC][1] == FRAMES and topics[bags.GT_CLOTH_TOPIC][1] == FRAMES
    for once in (bags.SOURCE_TOPIC, bags.GARMENT_TOPIC, bags.SOURCE_KEYPOINTS_TOPIC):
        assert topics[once][1] == 1

    bag = bags.read_clip_bag(tmp_path / "bag")
    assert bag.camera_stamps == expected_stamps
    assert bag.camera_bag_times == expected_stamps  # bag time = header stamp
    assert bag.fps == pytest.approx(30.0, rel=1e-6)
    assert bag.custom["split"] == "test" and bag.custom["source_index"] == "2"
    for index, stamp in enumerate(bag.camera_stamps):
        np.testing.assert_array_equal(bag.frames[stamp], clip.frames[index])
        np.testing.assert_array_equal(bag.keypoints[stamp], clip.keypoints[index])
        assert bag.keypoint_sizes[stamp] == (SIZE, SIZE)
        np.testing.assert_array_equal(bag.gt_images[stamp], clip.frames[index])
        np.testing.assert_array_equal(bag.gt_cloth_masks[stamp], clip.cloth_masks[index] * 255)
    np.testing.assert_array_equal(bag.source_image, clip.frames[2])
    np.testing.assert_array_equal(bag.source_keypoints, clip.keypoints[2])
    np.testing.assert_array_equal(bag.garment_image, clip.garment)
    assert bag.source_stamp == bag.source_keypoints_stamp < expected_stamps[0]

    # the generic iterator: keypoints of a frame come before the frame, stamps equal
    order = [(topic, stamp) for topic, stamp, _ in bags.iter_messages(
        tmp_path / "bag", [bags.CAMERA_TOPIC, bags.KEYPOINTS_TOPIC])]
    assert len(order) == 2 * FRAMES
    assert {stamp for _, stamp in order} == set(expected_stamps)
    topic, _, msg = next(bags.iter_messages(tmp_path / "bag", [bags.CAMERA_TOPIC]))
    assert (msg.encoding, msg.header.frame_id, msg.width, msg.height) == ("rgb8", "camera", SIZE, SIZE)


def test_missing_bag_raises_clear_error(tmp_path):
    with pytest.raises(bags.BagError) as raised:
        bags.read_clip_bag(tmp_path / "nowhere")
    assert "nowhere" in str(raised.value) and "no such file" in str(raised.value)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_corrupt_bag_raises_clear_error(tmp_path, clip, storage):
    written = bags.write_clip_bag(tmp_path / "bag", clip, storage=storage, start_ns=START_NS)
    data_file = next(p for p in written.path.iterdir() if p.suffix in (".mcap", ".db3"))
    data = data_file.read_bytes()
    data_file.write_bytes(b"\x00garbage" * 64 + data[len(data) // 3: len(data) // 2])
    with pytest.raises(bags.BagError) as raised:
        bags.read_clip_bag(written.path)
    assert str(written.path) in str(raised.value)
    # a stray file that is no bag at all
    (tmp_path / "notes.mcap").write_bytes(b"not an mcap file")
    with pytest.raises(bags.BagError):
        bags.read_clip_bag(tmp_path / "notes.mcap")
    # a directory without metadata.yaml
    (tmp_path / "empty").mkdir()
    with pytest.raises(bags.BagError) as raised:
        bags.read_clip_bag(tmp_path / "empty")
    assert "metadata.yaml" in str(raised.value)


def test_bag_without_camera_topic_is_rejected(tmp_path):
    from rosbags.rosbag2 import Writer

    with Writer(tmp_path / "other", version=Writer.VERSION_LATEST) as writer:
        store = bags.typestore()
        connection = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        msg = store.types["std_msgs/msg/String"](data="hello")
        writer.write(connection, 1, store.serialize_cdr(msg, "std_msgs/msg/String"))
    with pytest.raises(bags.BagError) as raised:
        bags.read_clip_bag(tmp_path / "other")
    assert bags.CAMERA_TOPIC in str(raised.value) and "/chatter" in str(raised.value)


def test_jpeg_camera_frames_round_trip_smaller(tmp_path, clip):
    raw = bags.write_clip_bag(tmp_path / "raw", clip, start_ns=START_NS, ground_truth=False, compress=False)
    jpeg = bags.write_clip_bag(tmp_path / "jpeg", clip, start_ns=START_NS, ground_truth=False, compress=False,
                               camera_jpeg_quality=90)
    topics = bags.bag_topics(tmp_path / "jpeg")
    assert topics[bags.CAMERA_COMPRESSED_TOPIC] == (bags.COMPRESSED_TYPE, FRAMES)
    assert bags.CAMERA_TOPIC not in topics
    assert jpeg.size_bytes < raw.size_bytes
    _, _, msg = next(bags.iter_messages(tmp_path / "jpeg", [bags.CAMERA_COMPRESSED_TOPIC]))
    assert msg.format == bags.JPEG_FORMAT and msg.header.frame_id == "camera"
    bag = bags.read_clip_bag(tmp_path / "jpeg")
    assert bag.camera_stamps == raw.stamps_ns
    for index, stamp in enumerate(bag.camera_stamps):
        frame = bag.frames[stamp]
        assert frame.shape == clip.frames[index].shape and frame.dtype == np.uint8
        error = np.abs(frame.astype(int) - clip.frames[index].astype(int)).mean()
        assert error < 6, f"JPEG q90 frame {index} differs by {error:.1f} grey levels on average"
        np.testing.assert_array_equal(bag.keypoints[stamp], clip.keypoints[index])
