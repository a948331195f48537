"""A video file or a V4L2 device as a camera: frames in order and when each is due (no ROS).

`fashionmirror camera SOURCE` (nodes/camera_command.py) is a thin shell that publishes what this
module reads; tests and the benchmark use it without ROS.

- ``open_source(text, ...)`` opens SOURCE with OpenCV: a path under /dev/ is a V4L2 device
  (``cv2.CAP_V4L2``), anything else a file (FFmpeg backend: mp4, avi, mkv, ...; a still image
  is a one-frame video). Problems become one ``CameraSourceError`` line each: a missing device,
  a device that cannot be opened, a missing or unreadable file, a file with no video stream
  (an audio file, an MP4 with audio tracks only), a file OpenCV cannot decode.
- ``FrameSource.read()`` gives the next frame as uint8 (H, W, 3) in the requested encoding
  (rgb8 or bgr8; OpenCV decodes to BGR), resized to ``--width x --height`` when given;
  ``None`` at the end of a file (``loop=True`` starts it again).
- ``Pacer`` says when frame i of a stream at ``fps`` is due: a file is played at its own frame
  rate (or ``--fps``), each frame slept for; a device delivers at its own rate, and with
  ``--fps`` below it the frames that come before the next one is due are skipped.
- ``RateMeter``: frames per second over the last second or so, for the progress line.
"""
from __future__ import annotations

import os
import struct
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ENCODINGS = ("rgb8", "bgr8")
DEVICE_PREFIX = "/dev/"
DEFAULT_FPS = 30.0  # for a source that does not say (some devices, still images)
# A schedule this far behind (a stalled machine) restarts from now instead of rushing frames out.
MAX_LAG_S = 1.0
# Container signatures of audio-only formats: a file with one of these has no video stream.
AUDIO_SIGNATURES = (
    (0, b"RIFF", 8, b"WAVE", "WAV audio"),
    (0, b"fLaC", None, None, "FLAC audio"),
    (0, b"ID3", None, None, "MP3 audio"),
    (0, b"OggS", None, None, "Ogg audio"),
)
ISO_MEDIA_BRAND_OFFSET = 4  # 'ftyp' at bytes 4-8 marks an MP4/MOV (ISO base media) file


class CameraSourceError(RuntimeError):
    """SOURCE cannot be used as a camera; str(error) is one line for the user."""


@dataclass(frozen=True)
class SourceInfo:
    source: str
    is_device: bool
    width: int  # of the frames read() returns
    height: int
    fps: float  # the source's own rate (DEFAULT_FPS when it does not say)
    frame_count: int | None  # frames in a file; None for a device


def is_device(source: str) -> bool:
    return str(source).startswith(DEVICE_PREFIX)


# ---------------------------------------------------------------------------------------------
# Why a file has no video: a look inside the container
# ---------------------------------------------------------------------------------------------
def _iso_boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of the ISO BMFF boxes in data[start:end]."""
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if size == 1 and position + 16 <= end:  # 64-bit size
            size = struct.unpack(">Q", data[position + 8:position + 16])[0]
            header = 16
        elif size == 0:  # the box runs to the end
            size = end - position
        if size < header:
            return
        yield kind, position + header, min(position + size, end)
        position += size


def iso_media_handlers(data: bytes) -> list[str] | None:
    """Handler types ('vide', 'soun', ...) of the tracks of an MP4/MOV file, None if `data` is not
    one or has no readable 'moov' box (e.g. truncated before it)."""
    if data[ISO_MEDIA_BRAND_OFFSET:ISO_MEDIA_BRAND_OFFSET + 4] != b"ftyp":
        return None
    for kind, start, end in _iso_boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        handlers = []
        for track, track_start, track_end in _iso_boxes(data, start, end):
            if track != b"trak":
                continue
            for media, media_start, media_end in _iso_boxes(data, track_start, track_end):
                if media != b"mdia":
                    continue
                for box, box_start, _ in _iso_boxes(data, media_start, media_end):
                    if box == b"hdlr":  # version/flags (4), pre_defined (4), handler_type (4)
                        handlers.append(data[box_start + 8:box_start + 12].decode("latin-1"))
        return handlers
    return None


def no_video_reason(path: Path) -> str | None:
    """Why the file has no video stream, if its container says so; None when it cannot tell."""
    with open(path, "rb") as stream:
        head = stream.read(16)
        for offset, magic, offset2, magic2, what in AUDIO_SIGNATURES:
            if head[offset:offset + len(magic)] == magic and (
                    magic2 is None or head[offset2:offset2 + len(magic2)] == magic2):
                return f"it is {what}"
        if head[ISO_MEDIA_BRAND_OFFSET:ISO_MEDIA_BRAND_OFFSET + 4] == b"ftyp":
            stream.seek(0)
            handlers = iso_media_handlers(stream.read())
            if handlers is not None and "vide" not in handlers:
                kinds = ", ".join(sorted(set(handlers))) or "none"
                return f"its MP4/MOV container holds no video track (tracks: {kinds})"
    return None


# ---------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------
class FrameSource:
    """Frames of an opened cv2.VideoCapture; use ``open_source`` to build one."""

    def __init__(self, capture, info: SourceInfo, encoding: str, size: tuple[int, int] | None,
                 loop: bool, first_frame: np.ndarray | None):
        self._capture = capture
        self.info = info
        self.encoding = encoding
        self.size = size
        self.loop = loop
        self._pending = first_frame  # decoded while opening (to prove the file has video)
        self.frames_read = 0

    def _convert(self, bgr: np.ndarray) -> np.ndarray:
        import cv2

        if self.size is not None and (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        if self.encoding == "rgb8":
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(bgr)

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of a file (never for a looping file or a device,
        unless the device stops delivering)."""
        import cv2

        if self._pending is not None:
            frame, self._pending = self._pending, None
        else:
            grabbed, frame = self._capture.read()
            if not grabbed and self.loop and not self.info.is_device and self.frames_read > 0:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                grabbed, frame = self._capture.read()
            if not grabbed:
                return None
        self.frames_read += 1
        return self._convert(frame)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _checked_size(width: int | None, height: int | None) -> tuple[int, int] | None:
    if width is None and height is None:
        return None
    if width is None or height is None:
        raise CameraSourceError("--width and --height go together (give both or neither)")
    if width <= 0 or height <= 0 or width > 8192 or height > 8192:
        raise CameraSourceError(f"frame size {width}x{height} must be positive and at most 8192")
    return int(width), int(height)


def open_source(source: str, width: int | None = None, height: int | None = None,
                encoding: str = "rgb8", loop: bool = False,
                capture_factory: Callable | None = None) -> FrameSource:
    """Open SOURCE (a /dev/videoN device or a video file); CameraSourceError says what is wrong.

    capture_factory(source, api) builds the cv2.VideoCapture (tests pass a fake device)."""
    import cv2

    if encoding not in ENCODINGS:
        raise CameraSourceError(f"encoding '{encoding}' is not one of {', '.join(ENCODINGS)}")
    size = _checked_size(width, height)
    factory = capture_factory or cv2.VideoCapture
    text = str(source)
    if is_device(text):
        if not os.path.exists(text):
            raise CameraSourceError(f"no such device: {text} (is the camera plugged in? "
                                    "`ls /dev/video*` lists the devices)")
        capture = factory(text, cv2.CAP_V4L2)
        if not capture.isOpened():
            raise CameraSourceError(f"cannot open device {text} (not a V4L2 capture device, in use "
                                    "by another program, or no permission: is the user in group video?)")
        if size is not None:  # ask the driver for this size; frames are resized if it refuses
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        first = None
        frame_count = None
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise CameraSourceError(f"no such file: {text}")
        if path.is_dir():
            raise CameraSourceError(f"{text} is a directory, not a video file")
        if not os.access(path, os.R_OK):
            raise CameraSourceError(f"cannot read {text}: permission denied")
        capture = factory(str(path), cv2.CAP_ANY)
        grabbed, first = (capture.read() if capture.isOpened() else (False, None))
        if not grabbed:
            capture.release()
            reason = no_video_reason(path)
            if reason is not None:
                raise CameraSourceError(f"{text} has no video stream: {reason}")
            raise CameraSourceError(f"cannot read {text}: not a video file OpenCV can decode "
                                    "(unknown format, or a damaged or truncated file)")
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        frame_count = int(count) if 0 < count < 1e9 else None
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = float(fps) if fps and 0 < fps < 1000 else DEFAULT_FPS
    if first is not None:
        native_width, native_height = first.shape[1], first.shape[0]
    else:
        native_width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        native_height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out_width, out_height = size if size is not None else (native_width, native_height)
    info = SourceInfo(text, is_device(text), out_width, out_height, fps, frame_count)
    return FrameSource(capture, info, encoding, size, loop, first)


# ---------------------------------------------------------------------------------------------
# Pacing
# ---------------------------------------------------------------------------------------------
class Pacer:
    """Frame i of a stream at ``fps`` is due at start + i / fps (monotonic clock).

    ``wait()`` sleeps until the next frame is due (a file: every frame is sent, on time);
    ``due()`` only tells whether it is (a device: frames that come early are skipped).
    A schedule that fell more than MAX_LAG_S behind restarts from now: after a stall the
    stream resumes at its rate instead of sending the missed frames at once."""

    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self.clock = clock
        self.sleep = sleep
        self.start: float | None = None
        self.index = 0  # the next frame's number

    def _next_due(self) -> float:
        now = self.clock()
        if self.start is None:
            self.start = now
        due = self.start + self.index * self.period
        if now - due > MAX_LAG_S:
            self.start, self.index, due = now, 0, now
        return due

    def wait(self) -> None:
        """Sleep until the next frame is due, then count it as sent."""
        remaining = self._next_due() - self.clock()
        if remaining > 0:
            self.sleep(remaining)
        self.index += 1

    def due(self) -> bool:
        """Is the next frame due now? If so it is counted as sent."""
        if self._next_due() <= self.clock() + 1e-4:
            self.index += 1
            return True
        return False


class RateMeter:
    """Events per second over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self.clock = clock
        self.times: deque[float] = deque()

    def tick(self) -> None:
        now = self.clock()
        self.times.append(now)
        while self.times and now - self.times[0] > self.window_s:
            self.times.popleft()

    def rate(self) -> float:
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return 0.0
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])
