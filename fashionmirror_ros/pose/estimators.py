"""Pluggable pose estimators PE(.) (paper eq. 3): an RGB frame in, 137 OpenPose keypoints out.

Every estimator returns a ``PoseResult`` whose keypoints follow ``layout.py``: shape (137, 3),
float32, x and y in pixels of the frame given to ``estimate`` and a confidence in [0, 1],
(0, 0, 0) for a point not found.

Estimators (``make_estimator`` names):

- ``"mediapipe"``: ``MediaPipeHolisticEstimator``, MediaPipe Holistic mapped onto the OpenPose
  layout by ``mediapipe_mapping.py``; the default of pose_node (its models ship in the wheel).
- ``"recorded"``: ``RecordedPoseSource``, replays keypoints known up front (the true keypoints
  of generated clips), so the networks can be measured without pose-estimation error.
"""
from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .layout import NUM_KEYPOINTS

KEYPOINT_COLUMNS = 3  # x, y, confidence
MILLISECONDS_PER_SECOND = 1000.0


@dataclass
class PoseResult:
    """One frame's pose: ``keypoints`` float32 (137, 3) in frame pixels, see ``layout.py``."""

    keypoints: np.ndarray
    person_found: bool
    inference_ms: float
    tracked: bool = False  # moved along optical flow from the last estimate (``tracking.py``)


def validate_rgb_image(rgb: Any) -> np.ndarray:
    """Return ``rgb`` if it is a non-empty uint8 (H, W, 3) array, else raise ValueError."""
    expected = "an RGB image as a numpy uint8 array of shape (H, W, 3) with H, W > 0"
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f"pose estimation expects {expected}; got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"pose estimation expects {expected}; got dtype {rgb.dtype}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"pose estimation expects {expected}; got shape {rgb.shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"pose estimation expects {expected}; got an empty image {rgb.shape}")
    return rgb


def validate_keypoints(keypoints: Any, what: str = "keypoints") -> np.ndarray:
    """(..., 137, 3) finite values with confidences in [0, 1] -> float32 array, else ValueError."""
    array = np.asarray(keypoints, dtype=np.float32)
    if array.ndim < 2 or array.shape[-2:] != (NUM_KEYPOINTS, KEYPOINT_COLUMNS):
        raise ValueError(
            f"{what} must have shape (..., {NUM_KEYPOINTS}, {KEYPOINT_COLUMNS}), got {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    confidence = array[..., 2]
    if (confidence < 0).any() or (confidence > 1).any():
        raise ValueError(f"{what} confidences must lie in [0, 1]")
    return array


def keypoints_bbox(
    keypoints: np.ndarray, min_confidence: float = 0.0
) -> tuple[float, float, float, float] | None:
    """(x_min, y_min, x_max, y_max) of the points with confidence >= min_confidence (and > 0).

    None when no point qualifies.
    """
    keypoints = np.asarray(keypoints)
    confidence = keypoints[:, 2]
    found = keypoints[(confidence > 0) & (confidence >= min_confidence)]
    if len(found) == 0:
        return None
    x_min, y_min = found[:, :2].min(axis=0)
    x_max, y_max = found[:, :2].max(axis=0)
    return float(x_min), float(y_min), float(x_max), float(y_max)


def keypoints_to_image_coords(
    keypoints: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]
) -> np.ndarray:
    """Rescale pixel keypoints from an image of ``from_size`` (width, height) to ``to_size``.

    Confidences are kept; points not found stay (0, 0, 0).
    """
    (from_width, from_height), (to_width, to_height) = from_size, to_size
    if min(from_width, from_height, to_width, to_height) <= 0:
        raise ValueError(f"image sizes must be positive, got {from_size} -> {to_size}")
    scaled = np.array(keypoints, dtype=np.float32, copy=True)
    scaled[..., 0] *= to_width / from_width
    scaled[..., 1] *= to_height / from_height
    return scaled


class PoseEstimator(abc.ABC):
    """Interface of PE(.): ``estimate`` one RGB frame, ``close`` to release resources.

    Estimators are context managers (``with make_estimator(...) as estimator:``).
    """

    @abc.abstractmethod
    def estimate(self, rgb: np.ndarray) -> PoseResult:
        """Keypoints of the most prominent person in ``rgb`` (uint8, (H, W, 3), RGB order)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release resources; calling it twice is harmless."""

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- MediaPipe Holistic ---------------------------------------------------------------------

# Pose landmark model file of each holistic model_complexity, inside the mediapipe package.
# The 0.10.21 wheel ships only the "full" one; MediaPipe downloads the others on first use,
# which fails (or stalls) offline, so they are checked for before the graph is built.
POSE_LANDMARK_MODEL_FILES = {
    0: "modules/pose_landmark/pose_landmark_lite.tflite",
    1: "modules/pose_landmark/pose_landmark_full.tflite",
    2: "modules/pose_landmark/pose_landmark_heavy.tflite",
}


def mediapipe_package_dir() -> Path:
    """Directory of the installed ``mediapipe`` package."""
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent


def pose_landmark_model_path(model_complexity: int, package_dir: Path | None = None) -> Path:
    """Path of the pose landmark model file that holistic ``model_complexity`` needs.

    Raises ValueError for an unknown complexity and FileNotFoundError, saying what to do,
    when the file is not installed (rather than letting MediaPipe try to download it).
    """
    if model_complexity not in POSE_LANDMARK_MODEL_FILES:
        raise ValueError(
            f"model_complexity must be one of {sorted(POSE_LANDMARK_MODEL_FILES)}, "
            f"got {model_complexity!r}"
        )
    package_dir = mediapipe_package_dir() if package_dir is None else Path(package_dir)
    path = package_dir / POSE_LANDMARK_MODEL_FILES[model_complexity]
    if not path.is_file():
        available = sorted(
            complexity for complexity, relative in POSE_LANDMARK_MODEL_FILES.items()
            if (package_dir / relative).is_file()
        )
        raise FileNotFoundError(
            f"MediaPipe Holistic model_complexity={model_complexity} needs {path}, which is not "
            f"installed (mediapipe would try to download it). Installed complexities: "
            f"{available}. Use one of those or copy the .tflite file to that path."
        )
    return path


class MediaPipeHolisticEstimator(PoseEstimator):
    """MediaPipe Holistic -> OpenPose 137 keypoints (mapping in ``mediapipe_mapping.py``).

    ``static_image_mode=False`` tracks across frames (detection only when tracking is lost),
    which is faster and steadier on a video stream but assumes consecutive frames of ONE stream;
    use ``True`` for unrelated images. ``max_input_side`` downscales frames whose longer side
    exceeds it before inference (MediaPipe crops and resizes to model inputs of 192-256 pixels
    anyway, so large frames mostly cost image conversion time); keypoints are still returned in
    pixels of the frame as given. ``refine_face_landmarks`` adds the iris model, whose centres become the
    pupils (otherwise the eye-contour means).

    Thread safety: one MediaPipe graph is not re-entrant, so ``estimate`` calls are serialised
    by a lock; several threads may share an estimator, but frames from different streams must
    not be interleaved in tracking mode (give each stream its own estimator).
    """

    def __init__(
        self,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        static_image_mode: bool = False,
        max_input_side: int | None = None,
        refine_face_landmarks: bool = False,
        smooth_landmarks: bool = True,
    ) -> None:
        for name, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if max_input_side is not None and (
            isinstance(max_input_side, bool) or not isinstance(max_input_side, int)
            or max_input_side <= 0
        ):
            raise ValueError(f"max_input_side must be a positive int or None, got {max_input_side!r}")
        pose_landmark_model_path(model_complexity)

        # Imported here so the module (and RecordedPoseSource) works without mediapipe.
        import cv2

        from .mediapipe_mapping import holistic_to_openpose

        self._resize = cv2.resize
        self._resize_interpolation = cv2.INTER_AREA
        self._to_openpose = holistic_to_openpose
        self.max_input_side = max_input_side
        self.static_image_mode = static_image_mode
        self._lock = threading.Lock()
        self._holistic = self._create_graph(
            static_image_mode=static_image_mode,
            model_complexity=model_complexity,
            smooth_landmarks=smooth_landmarks,
            refine_face_landmarks=refine_face_landmarks,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def _create_graph(self, **settings: Any) -> Any:
        from mediapipe.python.solutions import holistic

        return holistic.Holistic(**settings)

    def _inference_input(self, rgb: np.ndarray) -> np.ndarray:
        # MediaPipe and cv2 need C-contiguous pixels (a flipped or cropped view is not).
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        longer_side = max(height, width)
        if self.max_input_side is None or longer_side <= self.max_input_side:
            return rgb
        scale = self.max_input_side / longer_side
        new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return self._resize(rgb, new_size, interpolation=self._resize_interpolation)

    def estimate(self, rgb: np.ndarray) -> PoseResult:
        """Keypoints of the most prominent person; person_found False and zeros if none.

        ``inference_ms`` is the wall time of this call (resize, MediaPipe, mapping).
        """
        validate_rgb_image(rgb)
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        with self._lock:
            if self._holistic is None:
                raise RuntimeError("MediaPipeHolisticEstimator.estimate() called after close()")
            results = self._holistic.process(self._inference_input(rgb))
        # Landmarks are normalised, so mapping with the original size undoes any downscale.
        keypoints = self._to_openpose(results, width, height)
        elapsed_ms = (time.perf_counter() - start) * MILLISECONDS_PER_SECOND
        return PoseResult(
            keypoints=keypoints,
            person_found=results.pose_landmarks is not None,
            inference_ms=elapsed_ms,
        )

    def close(self) -> None:
        with self._lock:
            if self._holistic is not None:
                self._holistic.close()
                self._holistic = None


# --- Recorded keypoints ---------------------------------------------------------------------


class MediaPipePoseEstimator(MediaPipeHolisticEstimator):
    """MediaPipe Pose (body only) -> the BODY_25 rows of the 137 keypoints; hands and face stay 0.

    The speed option: about 19 ms per frame here against 35-46 ms for Holistic, whose face mesh
    is most of the difference. The skeleton p^t then lacks hands and face, so use it only when
    the 137-point Holistic estimator cannot keep up with the camera.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from .mediapipe_mapping import pose_to_openpose

        self._to_openpose = pose_to_openpose

    def _create_graph(self, **settings: Any) -> Any:
        from mediapipe.python.solutions import pose

        settings.pop("refine_face_landmarks")
        return pose.Pose(**settings)


class RecordingExhausted(RuntimeError):
    """A non-looping RecordedPoseSource was asked for a frame past its last one."""


class RecordedPoseSource(PoseEstimator):
    """Replays keypoints given up front, one frame per ``estimate`` call, in order.

    ``keypoints``: (T, 137, 3) (or one (137, 3) frame) in pixels of frames of ``source_size``.
    ``loop``: start again at frame 0 after the last one; otherwise ``estimate`` raises
    ``RecordingExhausted`` past the end. ``source_size`` (width, height): if given, keypoints
    are rescaled to the size of the frame passed to ``estimate`` (for a camera stream at a
    different resolution than the recording); if None they are returned as recorded.
    The image passed to ``estimate`` is otherwise ignored and may be None.
    ``person_found`` is True when a frame has any point with confidence > 0.
    """

    def __init__(
        self,
        keypoints: Any,
        loop: bool = True,
        source_size: tuple[int, int] | None = None,
    ) -> None:
        frames = validate_keypoints(keypoints, "recorded keypoints")
        if frames.ndim == 2:
            frames = frames[np.newaxis]
        if frames.ndim != 3 or len(frames) == 0:
            raise ValueError(
                f"recorded keypoints must have shape (T, {NUM_KEYPOINTS}, {KEYPOINT_COLUMNS}) "
                f"with T > 0, got {frames.shape}"
            )
        if source_size is not None and (len(source_size) != 2 or min(source_size) <= 0):
            raise ValueError(f"source_size must be (width, height) > 0, got {source_size!r}")
        self._frames = frames
        self.loop = loop
        self.source_size = None if source_size is None else (int(source_size[0]), int(source_size[1]))
        self._next_index = 0
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path, key: str = "keypoints", **kwargs: Any) -> RecordedPoseSource:
        """Load (T, 137, 3) keypoints from a ``.npy`` file or the ``key`` array of a ``.npz``."""
        path = Path(path)
        # allow_pickle stays False: recordings are plain arrays, never pickled objects.
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if key not in loaded.files:
                    raise ValueError(f"{path} has no array {key!r}; it has {loaded.files}")
                keypoints = loaded[key]
        else:
            keypoints = loaded
        return cls(keypoints, **kwargs)

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def next_index(self) -> int:
        """Index of the frame the next ``estimate`` call returns."""
        return self._next_index

    def reset(self) -> None:
        """Replay from frame 0 again."""
        with self._lock:
            self._next_index = 0

    def _result(self, index: int, rgb: np.ndarray | None) -> PoseResult:
        start = time.perf_counter()
        keypoints = self._frames[index].copy()
        if rgb is not None and self.source_size is not None:
            height, width = rgb.shape[:2]
            keypoints = keypoints_to_image_coords(keypoints, self.source_size, (width, height))
        elapsed_ms = (time.perf_counter() - start) * MILLISECONDS_PER_SECOND
        return PoseResult(
            keypoints=keypoints,
            person_found=bool((keypoints[:, 2] > 0).any()),
            inference_ms=elapsed_ms,
        )

    def estimate(self, rgb: np.ndarray | None = None) -> PoseResult:
        """The next recorded frame (rescaled to ``rgb``'s size if ``source_size`` was given)."""
        if rgb is not None:
            validate_rgb_image(rgb)
        with self._lock:
            if self._next_index >= len(self._frames):
                if not self.loop:
                    raise RecordingExhausted(
                        f"all {len(self._frames)} recorded frames were replayed (loop=False)"
                    )
                self._next_index = 0
            index = self._next_index
            self._next_index += 1
        return self._result(index, rgb)

    def estimate_at(self, index: int, rgb: np.ndarray | None = None) -> PoseResult:
        """Recorded frame ``index`` (negative counts from the end); the replay cursor stays."""
        if not -len(self._frames) <= index < len(self._frames):
            raise IndexError(f"frame index {index} out of range for {len(self._frames)} frames")
        if rgb is not None:
            validate_rgb_image(rgb)
        return self._result(index, rgb)

    def close(self) -> None:
        """Nothing to release; present for the interface."""


# --- Factory --------------------------------------------------------------------------------

ESTIMATORS = {
    "mediapipe": MediaPipeHolisticEstimator,
    "mediapipe_pose": MediaPipePoseEstimator,
    "recorded": RecordedPoseSource,
}


def make_estimator(name: str, **kwargs: Any) -> PoseEstimator:
    """Build the estimator called ``name`` ("mediapipe" or "recorded") with ``kwargs``.

    For "recorded", ``path=...`` loads the keypoints with ``RecordedPoseSource.from_file``
    instead of passing ``keypoints=...``.
    """
    key = str(name).strip().lower()
    if key not in ESTIMATORS:
        raise ValueError(
            f"unknown pose estimator {name!r}; valid names: {', '.join(sorted(ESTIMATORS))}"
        )
    if key == "recorded" and "path" in kwargs:
        path = kwargs.pop("path")
        return RecordedPoseSource.from_file(path, **kwargs)
    return ESTIMATORS[key](**kwargs)
