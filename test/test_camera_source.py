"""The camera's frame source and pacing (pipeline/camera_source.py), without ROS: frames of a file
in order and in the asked encoding and size, looping, one clear error per unusable source, and
the schedule on a fake clock."""
import struct

import cv2
import numpy as np
import pytest

from fashionmirror_ros.pipeline.camera_source import (CameraSourceError, Pacer, RateMeter,
                                                      iso_media_handlers, open_source)

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 12, 25


def write_video(path, frames=FRAMES, fps=FPS, size=(WIDTH, HEIGHT)):
    """Frame i is uniform grey 20 * i in the left half and pure red (RGB) in the right half."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for index in range(frames):
        bgr = np.full((size[1], size[0], 3), 20 * index, np.uint8)
        bgr[:, size[0] // 2:] = (0, 0, 255)
        writer.write(bgr)
    writer.release()
    return path


def test_a_file_gives_its_frames_in_order_in_rgb_then_ends(tmp_path):
    with open_source(write_video(tmp_path / "clip.mp4")) as source:
        assert (source.info.width, source.info.height, source.info.fps) == (WIDTH, HEIGHT, FPS)
        assert source.info.frame_count == FRAMES and not source.info.is_device
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert len(frames) == FRAMES
    greys = [float(frame[:, :WIDTH // 4].mean()) for frame in frames]
    assert all(abs(grey - 20 * index) < 6 for index, grey in enumerate(greys)), greys
    red = frames[0][:, -4:].reshape(-1, 3).mean(0)
    assert red[0] > 200 and red[2] < 50, f"rgb8 puts red first: {red}"


def test_bgr8_resize_and_loop(tmp_path):
    path = write_video(tmp_path / "clip.mp4", frames=5)
    with open_source(path, width=32, height=20, encoding="bgr8", loop=True) as source:
        assert (source.info.width, source.info.height) == (32, 20)
        frames = [source.read() for _ in range(12)]
    assert all(frame is not None and frame.shape == (20, 32, 3) for frame in frames)
    assert frames[0][:, -2:].reshape(-1, 3).mean(0)[2] > 200, "bgr8 keeps OpenCV's order"
    greys = [round(float(frame[:, :4].mean()) / 20) for frame in frames]
    assert greys == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1], "the file starts again after its last frame"


def test_missing_unreadable_and_directory_sources_are_one_clear_error(tmp_path):
    cases = {
        str(tmp_path / "nothing.mp4"): "no such file",
        str(tmp_path): "is a directory",
        "/dev/video97": "no such device: /dev/video97",
        "/dev/null": "cannot open device /dev/null",
    }
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    cases[str(garbage)] = "not a video file OpenCV can decode"
    for source, expected in cases.items():
        with pytest.raises(CameraSourceError) as raised:
            open_source(source)
        assert expected in str(raised.value) and "\n" not in str(raised.value), (source, raised.value)


def test_a_file_without_a_video_stream_says_so(audio_only_file, tmp_path):
    audio = audio_only_file
    with pytest.raises(CameraSourceError, match="has no video stream: it is WAV audio"):
        open_source(str(audio))
    m4a = tmp_path / "sound.m4a"
    m4a.write_bytes(audio_only_mp4())
    with pytest.raises(CameraSourceError, match=r"no video track \(tracks: soun\)"):
        open_source(str(m4a))


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def audio_only_mp4() -> bytes:
    """An MP4 container whose one track is audio ('soun' handler), no media data."""
    handler = box(b"hdlr", b"\0" * 4 + b"\0" * 4 + b"soun" + b"\0" * 12 + b"sound\0")
    track = box(b"trak", box(b"mdia", handler))
    return box(b"ftyp", b"M4A \0\0\0\0isom") + box(b"moov", track)


def test_iso_media_handlers_reads_the_track_kinds():
    video = box(b"trak", box(b"mdia", box(b"hdlr", b"\0" * 8 + b"vide" + b"\0" * 12)))
    data = box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", video + box(b"trak", box(b"mdia", box(
        b"hdlr", b"\0" * 8 + b"soun" + b"\0" * 12))))
    assert iso_media_handlers(data) == ["vide", "soun"]
    assert iso_media_handlers(b"RIFF\0\0\0\0WAVE") is None
    assert iso_media_handlers(box(b"ftyp", b"isom\0\0\0\0")) is None, "no moov: cannot tell"


def test_width_without_height_and_bad_encoding_are_refused(tmp_path):
    path = write_video(tmp_path / "clip.mp4")
    with pytest.raises(CameraSourceError, match="--width and --height go together"):
        open_source(str(path), width=32)
    with pytest.raises(CameraSourceError, match="encoding 'yuv422'"):
        open_source(str(path), encoding="yuv422")


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_pacer_sleeps_each_frame_to_its_due_time_and_restarts_after_a_stall():
    clock = FakeClock()
    pacer = Pacer(20.0, clock=clock, sleep=clock.sleep)
    for work in (0.0, 0.01, 0.03, 0.0):
        pacer.wait()
        clock.now += work  # decoding and publishing the frame
    # frame 0 at once; frame 1 due at 0.05 after 0.0 of work; then 0.05 - 0.01; 0.05 - 0.03
    assert clock.slept == [0.05, 0.04, 0.02]
    clock.now += 5.0  # a stall: the schedule restarts instead of sending 100 frames at once
    pacer.wait()
    assert clock.slept == [0.05, 0.04, 0.02], "the first frame after a stall goes at once"
    pacer.wait()
    assert clock.slept[-1] == 0.05


def test_pacer_due_skips_frames_of_a_faster_device():
    clock = FakeClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    taken = []
    for index in range(30):  # a 30 fps device for one second
        if pacer.due():
            taken.append(index)
        clock.now += 1 / 30
    assert taken == list(range(0, 30, 3)), taken
    assert not clock.slept, "a device is never waited for"


def test_rate_meter_counts_the_last_second():
    clock = FakeClock()
    meter = RateMeter(1.0, clock=clock)
    for _ in range(50):
        meter.tick()
        clock.now += 0.04
    assert meter.rate() == pytest.approx(25.0, rel=0.01)
