"""rosbag2 recordings of generated clips, written and read with `rosbags` (no ROS install needed).

A clip bag (``write_clip_bag``) holds what a camera recording of a try-on session would, plus
what only a generated clip can give (ground truth):

====================================  ==========================  =================================
topic                                 type                        when
====================================  ==========================  =================================
/tryon/source_image                   sensor_msgs/Image rgb8      once, before the first frame
/tryon/garment_image                  sensor_msgs/Image rgb8      once, before the first frame
/tryon/source_keypoints               PoseKeypoints               once, stamp = the source's stamp
/camera/keypoints                     PoseKeypoints (true pose)   every frame, camera frame's stamp
/camera/image_raw                     sensor_msgs/Image rgb8      every frame, stamps at clip fps
  or /camera/image_raw/compressed     sensor_msgs/CompressedImage (JPEG; ``camera_jpeg_quality``)
/ground_truth/image                   sensor_msgs/Image rgb8      every frame, camera frame's stamp
/ground_truth/cloth_mask              sensor_msgs/Image mono8     every frame (255 = garment)
====================================  ==========================  =================================

The bag timestamp of every message equals its header stamp (a recording made at the camera).
Camera frames have frame_id "camera". Keypoints are written before the frame with the same
stamp (pose_node's ``estimator:=recorded`` mode expects them first). The custom data of the
bag's metadata says what it is (``fashionmirror.*`` keys: split, indices, protocol, fps).

Camera frames of real video compress poorly with zstd (about 100 kB per 256 x 256 frame): with
``camera_jpeg_quality`` they are written as JPEG on /camera/image_raw/compressed, as ROS 2's
image_transport "compressed" plugin publishes them (format "rgb8; jpeg compressed bgr8"), about
15 kB each; ``read_clip_bag`` decodes either topic into the same RGB frames.

MCAP bags are written with zstd-compressed chunks (MCAP's own storage compression, readable by
``ros2 bag`` and any MCAP reader); sqlite3 bags with rosbag2 per-message zstd compression.

``read_clip_bag`` loads a bag into numpy (``ClipBag``); ``iter_messages`` yields
(topic, bag timestamp ns, deserialized message) for any topics. Any problem opening or reading a
bag raises ``BagError`` naming the path and the reason.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from fashionmirror_ros import topics

# Bags store fully qualified names: the graph's relative names in the root namespace.
CAMERA_TOPIC = topics.absolute(topics.CAMERA_IMAGE)
CAMERA_COMPRESSED_TOPIC = CAMERA_TOPIC + "/compressed"  # image_transport's name for it
KEYPOINTS_TOPIC = topics.absolute(topics.CAMERA_KEYPOINTS)
GT_IMAGE_TOPIC = topics.absolute(topics.GROUND_TRUTH_IMAGE)
GT_CLOTH_TOPIC = topics.absolute(topics.GROUND_TRUTH_CLOTH_MASK)
SOURCE_TOPIC = topics.absolute(topics.SOURCE_IMAGE)
GARMENT_TOPIC = topics.absolute(topics.GARMENT_IMAGE)
SOURCE_KEYPOINTS_TOPIC = topics.absolute(topics.SOURCE_KEYPOINTS)

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
JPEG_FORMAT = "rgb8; jpeg compressed bgr8"  # image_transport's format string for JPEG of rgb8 frames
KEYPOINTS_TYPE = "fashionmirror_ros/msg/PoseKeypoints"
OUR_MESSAGES = ("PoseKeypoints", "TryOnMasks", "NodeLatency")
CAMERA_FRAME_ID = "camera"
RECORDED_ESTIMATOR = "ground_truth"
CUSTOM_PREFIX = "fashionmirror."
STORAGES = ("mcap", "sqlite3")
NUM_KEYPOINTS = 137
# The source and garment are stamped this long before the first camera frame.
SOURCE_LEAD_NS = 1_000_000


class BagError(Exception):
    """A rosbag2 that cannot be used: missing, corrupt, unreadable, or lacking a needed topic."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"rosbag2 '{self.path}': {reason}")


# ---------------------------------------------------------------------------------------------
# Type store
# ---------------------------------------------------------------------------------------------
def _msg_definition(name: str) -> str:
    """Text of msg/<name>.msg from the source tree or the installed share directory."""
    from fashionmirror_ros.pipeline.assets import find_data

    return find_data(f"msg/{name}.msg").read_text()


@functools.lru_cache(maxsize=1)
def typestore():
    """A ROS 2 type store (Kilted when rosbags knows it, else Humble) with our three messages."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    store = get_typestore(getattr(Stores, "ROS2_KILTED", Stores.ROS2_HUMBLE))
    types = {}
    for name in OUR_MESSAGES:
        types.update(get_types_from_msg(_msg_definition(name), f"fashionmirror_ros/msg/{name}"))
    store.register(types)
    return store


def _stamp(ns: int):
    from fashionmirror_ros.messages import split_ns

    sec, nanosec = split_ns(ns)
    return typestore().types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


def _header(ns: int, frame_id: str):
    return typestore().types["std_msgs/msg/Header"](stamp=_stamp(ns), frame_id=frame_id)


def image_message(array: np.ndarray, stamp_ns: int, frame_id: str = CAMERA_FRAME_ID):
    """A rosbags sensor_msgs/Image: rgb8 for (H, W, 3) uint8, mono8 for (H, W) uint8."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"expected uint8 (H, W, 3) or (H, W), got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else 3
    return typestore().types[IMAGE_TYPE](
        header=_header(stamp_ns, frame_id), height=height, width=width,
        encoding="mono8" if channels == 1 else "rgb8", is_bigendian=0, step=width * channels,
        data=array.reshape(-1))


def compressed_image_message(rgb: np.ndarray, stamp_ns: int, quality: int,
                             frame_id: str = CAMERA_FRAME_ID):
    """A rosbags sensor_msgs/CompressedImage: JPEG of an RGB (H, W, 3) uint8 frame."""
    import cv2

    rgb = np.ascontiguousarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must lie in 1..100, got {quality}")
    encoded, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                 [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not encoded:
        raise ValueError("JPEG encoding failed")
    return typestore().types[COMPRESSED_TYPE](header=_header(stamp_ns, frame_id), format=JPEG_FORMAT,
                                              data=data.reshape(-1))


def compressed_to_numpy(msg) -> np.ndarray:
    """RGB (H, W, 3) of a CompressedImage (JPEG or PNG); ValueError if it does not decode."""
    import cv2

    bgr = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"compressed image ({msg.format!r}) does not decode")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def keypoints_message(keypoints: np.ndarray, stamp_ns: int, width: int, height: int,
                      estimator: str = RECORDED_ESTIMATOR, frame_id: str = CAMERA_FRAME_ID):
    """A rosbags PoseKeypoints from (137, 3) x, y, confidence in pixels of a width x height image."""
    keypoints = np.asarray(keypoints, np.float32)
    if keypoints.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"expected keypoints of shape (137, 3), got {keypoints.shape}")
    found = bool((keypoints[:, 2] > 0).any())
    return typestore().types[KEYPOINTS_TYPE](
        header=_header(stamp_ns, frame_id), image_width=int(width), image_height=int(height),
        person_found=found, estimator=estimator,
        x=np.ascontiguousarray(keypoints[:, 0]), y=np.ascontiguousarray(keypoints[:, 1]),
        confidence=np.ascontiguousarray(keypoints[:, 2]))


def message_stamp_ns(msg) -> int:
    from fashionmirror_ros.messages import stamp_ns

    return stamp_ns(msg.header.stamp)


def image_to_numpy(msg) -> np.ndarray:
    """RGB (H, W, 3) for colour encodings, (H, W) for mono8; validated like the nodes do."""
    from fashionmirror_ros.messages import decode_mask, decode_rgb
    from fashionmirror_ros.pipeline.images import MONO_ENCODINGS

    return decode_mask(msg) if msg.encoding in MONO_ENCODINGS else decode_rgb(msg)


def keypoints_to_numpy(msg) -> np.ndarray:
    """(137, 3) float32 x, y, confidence of a PoseKeypoints message (rosbags or rclpy)."""
    return np.stack([np.asarray(msg.x, np.float32), np.asarray(msg.y, np.float32),
                     np.asarray(msg.confidence, np.float32)], axis=1)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
@dataclass
class WrittenBag:
    path: Path
    storage: str
    frames: int
    stamps_ns: list[int]
    size_bytes: int
    message_counts: dict[str, int]


def bag_size_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def write_clip_bag(path, clip, storage: str = "mcap", source_index: int = 0, *,
                   source_image: np.ndarray | None = None, source_keypoints: np.ndarray | None = None,
                   garment: np.ndarray | None = None, ground_truth: bool = True,
                   ground_truth_frames: np.ndarray | None = None,
                   ground_truth_cloth_masks: np.ndarray | None = None,
                   start_ns: int | None = None, fps: float | None = None, compress: bool = True,
                   custom: dict | None = None, camera_jpeg_quality: int | None = None,
                   progress: Callable[[int], None] | None = None) -> WrittenBag:
    """Write `clip` (frames (T,H,W,3), keypoints (T,137,3), cloth_masks (T,H,W), garment, fps)
    as a rosbag2 at `path` (a new directory).

    The source image h^s is `source_image` or the clip's frame `source_index`, with its keypoints
    (`source_keypoints` or the clip's); the garment is `garment` or the clip's. Ground truth
    (`ground_truth=True`) is the clip's frames and cloth masks unless given. `start_ns` is the
    stamp of the first frame (default: now). `progress(n)` is called after each frame.
    `camera_jpeg_quality` writes the camera frames as JPEG on /camera/image_raw/compressed.
    """
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists already; rosbag2 writers only create new bags")
    frames = np.asarray(clip.frames)
    keypoints = np.asarray(clip.keypoints, np.float32)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"clip frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    count, height, width = frames.shape[:3]
    if keypoints.shape != (count, NUM_KEYPOINTS, 3):
        raise ValueError(f"clip keypoints must be ({count}, 137, 3), got {keypoints.shape}")
    if not 0 <= source_index < count and source_image is None:
        raise ValueError(f"source_index {source_index} outside the clip's {count} frames")
    fps = float(fps or getattr(clip, "fps", 30.0))
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    source = frames[source_index] if source_image is None else np.asarray(source_image, np.uint8)
    source_pose = keypoints[source_index] if source_keypoints is None else np.asarray(source_keypoints,
                                                                                        np.float32)
    garment_image = np.asarray(clip.garment if garment is None else garment, np.uint8)
    gt_frames = gt_masks = None
    if ground_truth:
        gt_frames = frames if ground_truth_frames is None else np.asarray(ground_truth_frames, np.uint8)
        gt_masks = np.asarray(clip.cloth_masks if ground_truth_cloth_masks is None
                              else ground_truth_cloth_masks)
        if gt_frames.shape != frames.shape:
            raise ValueError(f"ground-truth frames {gt_frames.shape} differ from frames {frames.shape}")
        if gt_masks.shape != frames.shape[:3]:
            raise ValueError(f"ground-truth masks {gt_masks.shape} do not match frames {frames.shape[:3]}")
        gt_masks = mask_to_uint8(gt_masks)

    start_ns = int(time.time_ns() if start_ns is None else start_ns)
    stamps = [start_ns + round(index * 1e9 / fps) for index in range(count)]
    source_ns = start_ns - SOURCE_LEAD_NS

    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
    if compress:
        mode = CompressionMode.STORAGE if storage == "mcap" else CompressionMode.MESSAGE
        writer.set_compression(mode, CompressionFormat.ZSTD)
    store = typestore()
    counts: dict[str, int] = {}
    info = {"fps": f"{fps:g}", "frames": str(count), "source_index": str(source_index),
            "ground_truth": "true" if ground_truth else "false"}
    info.update({key: str(value) for key, value in (custom or {}).items()})
    for key, value in info.items():
        writer.set_custom_data(CUSTOM_PREFIX + key, value)
    with writer:
        connections = {}
        camera = ((CAMERA_COMPRESSED_TOPIC, COMPRESSED_TYPE) if camera_jpeg_quality
                  else (CAMERA_TOPIC, IMAGE_TYPE))
        topics = [(SOURCE_TOPIC, IMAGE_TYPE), (GARMENT_TOPIC, IMAGE_TYPE),
                  (SOURCE_KEYPOINTS_TOPIC, KEYPOINTS_TYPE), (KEYPOINTS_TOPIC, KEYPOINTS_TYPE), camera]
        if ground_truth:
            topics += [(GT_IMAGE_TOPIC, IMAGE_TYPE), (GT_CLOTH_TOPIC, IMAGE_TYPE)]
        for topic, msgtype in topics:
            connections[topic] = writer.add_connection(topic, msgtype, typestore=store)

        def put(topic: str, msg, msgtype: str, ns: int) -> None:
            writer.write(connections[topic], ns, store.serialize_cdr(msg, msgtype))
            counts[topic] = counts.get(topic, 0) + 1

        put(SOURCE_TOPIC, image_message(source, source_ns), IMAGE_TYPE, source_ns)
        put(GARMENT_TOPIC, image_message(garment_image, source_ns, "garment"), IMAGE_TYPE, source_ns)
        put(SOURCE_KEYPOINTS_TOPIC, keypoints_message(source_pose, source_ns, source.shape[1],
                                                      source.shape[0]), KEYPOINTS_TYPE, source_ns)
        for index, ns in enumerate(stamps):
            put(KEYPOINTS_TOPIC, keypoints_message(keypoints[index], ns, width, height),
                KEYPOINTS_TYPE, ns)
            if camera_jpeg_quality:
                put(CAMERA_COMPRESSED_TOPIC, compressed_image_message(frames[index], ns, camera_jpeg_quality),
                    COMPRESSED_TYPE, ns)
            else:
                put(CAMERA_TOPIC, image_message(frames[index], ns), IMAGE_TYPE, ns)
            if ground_truth:
                put(GT_IMAGE_TOPIC, image_message(gt_frames[index], ns), IMAGE_TYPE, ns)
                put(GT_CLOTH_TOPIC, image_message(gt_masks[index], ns), IMAGE_TYPE, ns)
            if progress is not None:
                progress(index + 1)
    return WrittenBag(path, storage, count, stamps, bag_size_bytes(path), counts)


def mask_to_uint8(mask: np.ndarray) -> np.ndarray:
    """bool / {0,1} / [0,1] float / uint8 masks -> uint8 with 255 = 1."""
    mask = np.asarray(mask)
    if mask.dtype == np.uint8:
        return mask if mask.max(initial=0) > 1 else mask * np.uint8(255)
    if mask.dtype == bool:
        return mask.astype(np.uint8) * np.uint8(255)
    return (np.clip(mask.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def _open_reader(path: Path):
    from rosbags.rosbag2 import Reader

    if not path.exists():
        raise BagError(path, "no such file or directory")
    if path.is_dir() and not (path / "metadata.yaml").exists():
        raise BagError(path, "not a rosbag2 directory (no metadata.yaml); pass the bag directory "
                             "or its .mcap / .db3 file")
    try:
        reader = Reader(path)
        reader.open()
    except BagError:
        raise
    except Exception as error:  # noqa: BLE001 - rosbags raises many kinds for broken files
        raise BagError(path, f"cannot be opened: {_describe(error)}") from None
    return reader


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) < 400 else text[:400] + "..."


def bag_topics(path) -> dict[str, tuple[str, int]]:
    """topic -> (message type, message count) of a bag."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        return {name: (info.msgtype, info.msgcount) for name, info in reader.topics.items()}
    finally:
        reader.close()


def bag_custom_data(reader) -> dict[str, str]:
    metadata = getattr(getattr(reader, "storage", None), "metadata", None)
    custom = getattr(metadata, "custom", None) or {}
    return {key[len(CUSTOM_PREFIX):]: value for key, value in custom.items()
            if key.startswith(CUSTOM_PREFIX)}


def iter_messages(path, topics: Iterable[str] | None = None) -> Iterator[tuple[str, int, object]]:
    """(topic, bag timestamp ns, deserialized message) in bag time order; BagError on failure."""
    path = Path(path)
    reader = _open_reader(path)
    store = typestore()
    try:
        wanted = None if topics is None else set(topics)
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        try:
            for connection, timestamp, data in reader.messages(connections=connections):
                try:
                    msg = store.deserialize_cdr(data, connection.msgtype)
                except KeyError:
                    raise BagError(path, f"topic {connection.topic} has type {connection.msgtype}, "
                                         "unknown to the type store") from None
                yield connection.topic, timestamp, msg
        except BagError:
            raise
        except Exception as error:  # noqa: BLE001 - truncated chunks, bad CDR, sqlite errors
            raise BagError(path, f"reading failed: {_describe(error)}") from None
    finally:
        reader.close()


@dataclass
class ClipBag:
    """A clip bag in memory. Per-frame dicts are keyed by the header stamp (ns) of the frame."""

    path: Path
    topics: dict[str, tuple[str, int]]
    custom: dict[str, str]
    camera_stamps: list[int] = field(default_factory=list)  # header stamps in bag order
    camera_bag_times: list[int] = field(default_factory=list)  # bag timestamps, same order
    frames: dict[int, np.ndarray] = field(default_factory=dict)
    keypoints: dict[int, np.ndarray] = field(default_factory=dict)
    keypoint_sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    gt_images: dict[int, np.ndarray] = field(default_factory=dict)
    gt_cloth_masks: dict[int, np.ndarray] = field(default_factory=dict)
    source_image: np.ndarray | None = None
    source_stamp: int | None = None
    garment_image: np.ndarray | None = None
    source_keypoints: np.ndarray | None = None
    source_keypoints_size: tuple[int, int] | None = None
    source_keypoints_stamp: int | None = None

    @property
    def num_frames(self) -> int:
        return len(self.camera_stamps)

    @property
    def has_ground_truth(self) -> bool:
        return bool(self.gt_images)

    @property
    def fps(self) -> float:
        """Frame rate of the recording from its bag timestamps (custom data as a fallback)."""
        from fashionmirror_ros.pipeline.stats import rate_hz

        rate = rate_hz(np.asarray(self.camera_bag_times, np.float64) / 1e9)
        return rate if rate is not None else float(self.custom.get("fps", 30.0))

    def frame_array(self) -> np.ndarray:
        return np.stack([self.frames[stamp] for stamp in self.camera_stamps])


def read_clip_bag(path, progress: Callable[[int], None] | None = None) -> ClipBag:
    """Load a bag recorded with a camera stream (ours or any with /camera/image_raw) into numpy.

    Only the topics a clip bag has are read; the bag must have /camera/image_raw (or its JPEG
    /camera/image_raw/compressed) with at least one frame, else BagError. Camera frames with the
    same stamp as an earlier one are skipped.
    """
    path = Path(path)
    reader = _open_reader(path)
    try:
        topics = {name: (info.msgtype, info.msgcount) for name, info in reader.topics.items()}
        custom = bag_custom_data(reader)
    finally:
        reader.close()
    camera = CAMERA_TOPIC if CAMERA_TOPIC in topics or CAMERA_COMPRESSED_TOPIC not in topics \
        else CAMERA_COMPRESSED_TOPIC
    expected_type = IMAGE_TYPE if camera == CAMERA_TOPIC else COMPRESSED_TYPE
    if camera not in topics:
        listed = ", ".join(sorted(topics)) or "none"
        raise BagError(path, f"has no {CAMERA_TOPIC} (or {CAMERA_COMPRESSED_TOPIC}) topic (topics: {listed})")
    if topics[camera][0] != expected_type:
        raise BagError(path, f"{camera} has type {topics[camera][0]}, expected {expected_type}")
    bag = ClipBag(path, topics, custom)
    wanted = [camera, KEYPOINTS_TOPIC, GT_IMAGE_TOPIC, GT_CLOTH_TOPIC, SOURCE_TOPIC,
              GARMENT_TOPIC, SOURCE_KEYPOINTS_TOPIC]
    from fashionmirror_ros.pipeline.images import ImageRejected

    for topic, timestamp, msg in iter_messages(path, [t for t in wanted if t in topics]):
        stamp = message_stamp_ns(msg)
        try:
            if topic == camera:
                if stamp in bag.frames:
                    continue
                bag.frames[stamp] = image_to_numpy(msg) if camera == CAMERA_TOPIC else compressed_to_numpy(msg)
                bag.camera_stamps.append(stamp)
                bag.camera_bag_times.append(timestamp)
                if progress is not None:
                    progress(len(bag.camera_stamps))
            elif topic == KEYPOINTS_TOPIC:
                bag.keypoints[stamp] = keypoints_to_numpy(msg)
                bag.keypoint_sizes[stamp] = (int(msg.image_width), int(msg.image_height))
            elif topic == GT_IMAGE_TOPIC:
                bag.gt_images[stamp] = image_to_numpy(msg)
            elif topic == GT_CLOTH_TOPIC:
                bag.gt_cloth_masks[stamp] = image_to_numpy(msg)
            elif topic == SOURCE_TOPIC:
                bag.source_image, bag.source_stamp = image_to_numpy(msg), stamp
            elif topic == GARMENT_TOPIC:
                bag.garment_image = image_to_numpy(msg)
            elif topic == SOURCE_KEYPOINTS_TOPIC:
                bag.source_keypoints = keypoints_to_numpy(msg)
                bag.source_keypoints_size = (int(msg.image_width), int(msg.image_height))
                bag.source_keypoints_stamp = stamp
        except (ImageRejected, ValueError) as error:
            raise BagError(path, f"bad image on {topic} at stamp {stamp}: {error}") from None
    if not bag.camera_stamps:
        raise BagError(path, f"{camera} has no messages")
    return bag


def describe_bag(path) -> str:
    """One line per topic: name, type, count (for command-line output)."""
    topics = bag_topics(path)
    width = max(map(len, topics), default=0)
    return "\n".join(f"  {name:<{width}}  {msgtype}  x{count}" for name, (msgtype, count)
                     in sorted(topics.items()))


def default_bag_name(split: str, index: int, garment_index: int | None) -> str:
    garment = "" if garment_index is None or garment_index == index else f"_garment{garment_index}"
    return f"{split}{index:03d}{garment}"

