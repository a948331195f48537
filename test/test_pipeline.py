"""The ROS-free run-time pieces: image validation, letterboxing, rolling stats, newest-wins slot."""
import threading
import time

import numpy as np
import pytest

from fashionmirror_ros.pipeline.framing import Letterbox
from fashionmirror_ros.pipeline.images import (ImageRejected, RawImage, decode_color, decode_mono,
                                               image_crc)
from fashionmirror_ros.pipeline.latest import LatestSlot
from fashionmirror_ros.pipeline.stats import RollingStats


def raw(array: np.ndarray, encoding: str, step_padding: int = 0) -> RawImage:
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    rows = np.zeros((height, width * channels + step_padding), np.uint8)
    rows[:, :width * channels] = array.reshape(height, -1)
    return RawImage(encoding, height, width, rows.shape[1], rows.tobytes())


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)


def test_rgb_and_bgr_decode_to_the_same_pixels(rgb):
    np.testing.assert_array_equal(decode_color(raw(rgb, "rgb8")), rgb)
    np.testing.assert_array_equal(decode_color(raw(rgb[..., ::-1].copy(), "bgr8")), rgb)
    rgba = np.concatenate([rgb, np.full((6, 5, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(decode_color(raw(rgba, "rgba8")), rgb)


def test_row_padding_in_step_is_skipped(rgb):
    np.testing.assert_array_equal(decode_color(raw(rgb, "rgb8", step_padding=3)), rgb)


@pytest.mark.parametrize("image, reason", [
    (RawImage("rgb8", 0, 5, 15, b""), "zero-sized"),
    (RawImage("rgb8", 4, 5, 15, bytes(59)), "truncated"),
    (RawImage("rgb8", 4, 5, 10, bytes(60)), "shorter than a row"),
    (RawImage("rgb8", 5000, 5, 15, bytes(75000)), "exceeds"),
    (RawImage("mono8", 4, 5, 5, bytes(20)), "grayscale"),
    (RawImage("yuv422", 4, 4, 8, bytes(32)), "unsupported encoding 'yuv422'"),
    (RawImage("32FC1", 4, 4, 16, bytes(64)), "unsupported encoding"),
])
def test_bad_images_are_rejected_with_the_reason(image, reason):
    with pytest.raises(ImageRejected, match=reason):
        decode_color(image)


def test_masks_must_be_mono8():
    mask = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(decode_mono(raw(mask, "mono8")), mask)
    with pytest.raises(ImageRejected, match="not mono8"):
        decode_mono(RawImage("rgb8", 3, 4, 12, bytes(36)))


def test_crc_identifies_content(rgb):
    assert image_crc(rgb) == image_crc(rgb.copy())
    changed = rgb.copy()
    changed[0, 0, 0] ^= 1
    assert image_crc(changed) != image_crc(rgb)


def test_letterbox_maps_image_and_keypoints_consistently():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[100:110, 200:210] = 255  # a bright square at x 200..209, y 100..109
    box = Letterbox.fit(640, 480, 256)
    fitted = box.image(frame)
    assert fitted.shape == (256, 256, 3)
    keypoints = np.zeros((137, 3), np.float32)
    keypoints[0] = (205, 105, 1.0)
    x, y, confidence = box.keypoints(keypoints)[0]
    assert confidence == 1.0
    assert fitted[int(round(y)), int(round(x))].min() > 200  # the keypoint still sits on the square
    assert fitted[5, 128].min() == 255  # top padding (480 < 640) is white


def test_rolling_stats_are_bounded_and_correct():
    stats = RollingStats(window=100)
    for i in range(250):
        stats.add(duration_ms=i % 100, time_s=i * 0.05)  # 20 Hz
    summary = stats.summary()
    assert summary["count"] == 250
    assert summary["max"] == 99 and summary["p50"] == pytest.approx(49.5)
    assert summary["rate_hz"] == pytest.approx(20.0)
    assert len(stats._durations_ms) == 100


def test_latest_slot_keeps_only_the_newest_and_counts_drops():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(0) == 4 and slot.dropped == 4 and slot.received == 5
    assert slot.take(0.01) is None


def test_latest_slot_wakes_a_waiting_worker_and_closes():
    slot = LatestSlot()
    taken = []
    worker = threading.Thread(target=lambda: taken.append(slot.take(5)))
    worker.start()
    time.sleep(0.05)
    slot.put("frame")
    worker.join(2)
    assert taken == ["frame"]
    slot.close()
    start = time.monotonic()
    assert slot.take(5) is None and time.monotonic() - start < 1


def test_latest_slot_tells_a_producer_when_its_item_was_taken():
    """hsg_node's hand-off: the preparing thread waits for the room before it takes new work."""
    slot = LatestSlot()
    assert slot.wait_until_empty(0)
    slot.put("prepared")
    start = time.monotonic()
    assert not slot.wait_until_empty(0.05) and time.monotonic() - start >= 0.04
    taker = threading.Timer(0.05, slot.take, (0,))
    taker.start()
    assert slot.wait_until_empty(5)
    taker.join()
    slot.put("next")
    slot.close()
    assert not slot.wait_until_empty(5)  # closed: no room will come, and no waiting for it


@pytest.mark.parametrize("width, height, size", [(128, 64, 256), (300, 201, 256), (640, 480, 256)])
def test_letterboxed_keypoints_sit_on_the_centroid_of_their_pixel(width, height, size):
    frame = np.zeros((height, width, 3), np.uint8)
    x, y = width // 3, height // 3
    frame[y - 1:y + 2, x - 1:x + 2] = 255  # a 3x3 dot centred on pixel (x, y)
    box = Letterbox.fit(width, height, size)
    fitted = box.image(frame, pad_value=0)[..., 0].astype(np.float64)
    rows, cols = np.mgrid[0:size, 0:size]
    centroid = ((fitted * cols).sum() / fitted.sum(), (fitted * rows).sum() / fitted.sum())
    mapped = box.keypoints(np.array([[x, y, 1.0]], np.float32))[0]
    assert abs(mapped[0] - centroid[0]) < 0.3 and abs(mapped[1] - centroid[1]) < 0.3


def test_letterbox_masks_stay_binary_and_pad_with_zero():
    mask = np.zeros((60, 100), np.uint8)
    mask[20:40, 30:70] = 255
    fitted = Letterbox.fit(100, 60, 256).mask(mask)
    assert fitted.shape == (256, 256) and set(np.unique(fitted)) == {0, 255}
    assert fitted[0].max() == 0 and fitted[-1].max() == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacer_runs_free_until_the_generator_answers_then_holds_back_at_the_limit():
    from fashionmirror_ros.pipeline.pacing import GeneratorPacer

    clock = FakeClock()
    pacer = GeneratorPacer(max_in_flight=2, patience_s=0.5, clock=clock)
    for stamp in range(5):  # no generator yet: nothing is held back, whatever is outstanding
        assert pacer.wait_for_turn(0.0)
        pacer.sent(stamp)
    assert not pacer.pacing and pacer.held_back == 0
    pacer.answered(2)  # settles 0, 1 and 2
    assert pacer.pacing and pacer.in_flight() == 2
    assert not pacer.wait_for_turn(0.0) and pacer.held_back == 1
    pacer.answered(3)
    assert pacer.in_flight() == 1 and pacer.wait_for_turn(0.0)


def test_pacer_forgets_unanswered_frames_and_stops_pacing_a_silent_generator():
    from fashionmirror_ros.pipeline.pacing import GeneratorPacer

    clock = FakeClock()
    pacer = GeneratorPacer(max_in_flight=1, patience_s=0.5, clock=clock)
    pacer.sent(1)
    pacer.answered(1)
    pacer.sent(2)  # lost on the way: never answered
    assert not pacer.wait_for_turn(0.0)
    clock.now += 0.3
    pacer.sent(3)
    pacer.answered(99)  # an answer to a frame never sent settles nothing, but shows it is alive
    clock.now += 0.25  # frame 2 is forgotten, frame 3 is not yet
    assert pacer.pacing and pacer.in_flight() == 1 and not pacer.wait_for_turn(0.0)
    clock.now += 0.6  # the generator has been silent for longer than its patience
    assert not pacer.pacing and pacer.wait_for_turn(0.0)


def test_pacer_wakes_a_waiting_worker_on_an_answer_and_stays_bounded():
    from fashionmirror_ros.pipeline.pacing import MAX_TRACKED, GeneratorPacer

    pacer = GeneratorPacer(max_in_flight=1, patience_s=5.0)
    pacer.sent(1)
    pacer.answered(1)
    pacer.sent(2)
    timer = threading.Timer(0.05, pacer.answered, args=(2,))
    start = time.monotonic()
    timer.start()
    assert pacer.wait_for_turn(2.0)
    assert time.monotonic() - start < 1.0
    off = GeneratorPacer(max_in_flight=0, patience_s=5.0)
    for stamp in range(10 * MAX_TRACKED):
        off.sent(stamp)
        off.answered(stamp - 5)
        assert off.wait_for_turn(0.0)
    assert off.in_flight() <= MAX_TRACKED and off.held_back == 0
    with pytest.raises(ValueError):
        GeneratorPacer(max_in_flight=-1, patience_s=1.0)
