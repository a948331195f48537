"""Pose estimators: real MediaPipe Holistic on real and drawn images, recorded replay, factory."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fashionmirror_ros.pose import layout
from fashionmirror_ros.pose import mediapipe_mapping as mapping
from fashionmirror_ros.pose.estimators import (
    MediaPipeHolisticEstimator,
    PoseEstimator,
    RecordedPoseSource,
    RecordingExhausted,
    keypoints_bbox,
    keypoints_to_image_coords,
    make_estimator,
    pose_landmark_model_path,
)

skimage_data = pytest.importorskip("skimage.data")

# Regions of skimage.data.astronaut() (512 x 512), read off the image: (x0, y0, x1, y1).
ASTRONAUT_FACE_BOX = (165, 55, 285, 195)  # skin of the face, hairline to chin
ASTRONAUT_RIGHT_SHOULDER_BOX = (60, 190, 170, 300)  # her right shoulder: image left
ASTRONAUT_LEFT_SHOULDER_BOX = (260, 200, 360, 300)
# Holistic's pupil (eye-contour mean) and the pose model's eye centre are separate estimates.
EYE_AGREEMENT_PX = 10.0
# How close a hand-model wrist must be to the pose-model wrist of the same side.
WRIST_AGREEMENT_PX = 15.0
# max_input_side downscale 512 -> 256 moves landmarks by a few pixels at most.
DOWNSCALE_AGREEMENT_PX = 8.0
GREY_LEVEL = 128
NON_SQUARE_CROP_HEIGHT = 400  # keeps her head and shoulders


def inside(point: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box
    return bool(x0 <= point[0] <= x1 and y0 <= point[1] <= y1)


def body_point(keypoints: np.ndarray, name: str) -> np.ndarray:
    return keypoints[layout.BODY[name]]


def face_rows(keypoints: np.ndarray) -> np.ndarray:
    return keypoints[layout.FACE_START:layout.FACE_START + layout.NUM_FACE]


def drawn_figure_with_raised_hands(size: int = 512) -> np.ndarray:
    """A flat cartoon person facing the camera, both open hands raised beside the head.

    Holistic finds its pose and both hands (no real image with visible hands ships here).
    The person's right hand is on the image left; thumbs point away from the body.
    """
    image = np.full((size, size, 3), 200, np.uint8)
    skin, shirt, trousers = (224, 172, 140), (40, 90, 200), (50, 50, 60)
    cv2.ellipse(image, (256, 110), (38, 48), 0, 0, 360, skin, -1)
    for eye_x in (242, 270):
        cv2.circle(image, (eye_x, 100), 5, (40, 30, 30), -1)
    cv2.ellipse(image, (256, 132), (14, 5), 0, 0, 180, (150, 60, 60), -1)
    cv2.rectangle(image, (196, 165), (316, 340), shirt, -1)
    cv2.rectangle(image, (206, 340), (246, 510), trousers, -1)
    cv2.rectangle(image, (266, 340), (306, 510), trousers, -1)
    for shoulder_x, elbow_x, wrist_x in ((200, 130, 110), (312, 382, 402)):
        outward = -1 if wrist_x < size // 2 else 1
        cv2.line(image, (shoulder_x, 180), (elbow_x, 250), shirt, 26)
        cv2.line(image, (elbow_x, 250), (wrist_x, 170), skin, 20)
        palm = (wrist_x, 148)
        cv2.ellipse(image, palm, (18, 22), 0, 0, 360, skin, -1)
        for finger, angle_deg in enumerate((-40, -15, 0, 15, 35)):
            angle = np.deg2rad(angle_deg)
            base = (palm[0] + int(12 * np.sin(angle)), palm[1] - 15)
            length = 30 if finger in (1, 2, 3) else 24
            tip = (base[0] + int(length * np.sin(angle)), base[1] - int(length * np.cos(angle)))
            cv2.line(image, base, tip, skin, 8)
        thumb_base = (palm[0] + outward * 16, palm[1] + 6)
        cv2.line(image, thumb_base, (thumb_base[0] + outward * 22, thumb_base[1] - 14), skin, 9)
    return image


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def static_estimator():
    estimator = MediaPipeHolisticEstimator(static_image_mode=True)
    yield estimator
    estimator.close()


@pytest.fixture(scope="module")
def astronaut_result(static_estimator, astronaut):
    return static_estimator.estimate(astronaut)


def test_astronaut_person_found(astronaut_result):
    assert astronaut_result.person_found
    assert astronaut_result.keypoints.shape == (layout.NUM_KEYPOINTS, 3)
    assert astronaut_result.keypoints.dtype == np.float32
    assert astronaut_result.inference_ms > 0


def test_astronaut_head_and_shoulders_on_the_person(astronaut_result):
    keypoints = astronaut_result.keypoints
    for name in ("Nose", "REye", "LEye", "REar", "LEar"):
        assert body_point(keypoints, name)[2] > 0.5, name
        assert inside(body_point(keypoints, name), ASTRONAUT_FACE_BOX), name
    assert inside(body_point(keypoints, "RShoulder"), ASTRONAUT_RIGHT_SHOULDER_BOX)
    assert inside(body_point(keypoints, "LShoulder"), ASTRONAUT_LEFT_SHOULDER_BOX)
    # She faces the camera: her right side is on the image left.
    assert body_point(keypoints, "REye")[0] < body_point(keypoints, "LEye")[0]
    neck = body_point(keypoints, "Neck")
    shoulders = (body_point(keypoints, "RShoulder")[:2] + body_point(keypoints, "LShoulder")[:2]) / 2
    np.testing.assert_allclose(neck[:2], shoulders, atol=1e-3)


def test_astronaut_face_points_inside_the_face(astronaut_result):
    face = face_rows(astronaut_result.keypoints)
    assert (face[:, 2] == 1.0).all()
    assert all(inside(point, ASTRONAUT_FACE_BOX) for point in face)
    jaw = face[list(range(0, 17))]
    # The chin (iBUG 8) is the lowest jaw point; the jaw runs from her right to her left.
    assert np.argmax(jaw[:, 1]) == 8
    assert jaw[0, 0] < jaw[8, 0] < jaw[16, 0]
    right_eye_centre, left_eye_centre = face[36:42, :2].mean(0), face[42:48, :2].mean(0)
    assert right_eye_centre[0] < left_eye_centre[0]
    # Eyes above the nose tip (30), nose tip above the mouth, mouth above the chin.
    assert max(right_eye_centre[1], left_eye_centre[1]) < face[30, 1] < face[51, 1] < face[57, 1] < face[8, 1]
    for pupil_row, body_name in ((layout.FACE_RIGHT_PUPIL, "REye"), (layout.FACE_LEFT_PUPIL, "LEye")):
        distance = np.linalg.norm(face[pupil_row, :2] - body_point(astronaut_result.keypoints, body_name)[:2])
        assert distance < EYE_AGREEMENT_PX, body_name


def test_holistic_hands_are_labelled_by_the_persons_side(static_estimator):
    result = static_estimator.estimate(drawn_figure_with_raised_hands())
    keypoints = result.keypoints
    assert result.person_found
    hands = {
        "L": keypoints[layout.LEFT_HAND_START:layout.LEFT_HAND_START + layout.NUM_HAND],
        "R": keypoints[layout.RIGHT_HAND_START:layout.RIGHT_HAND_START + layout.NUM_HAND],
    }
    width = drawn_figure_with_raised_hands().shape[1]
    for side, hand in hands.items():
        assert (hand[:, 2] == 1.0).all(), f"{side} hand not found"
        body_wrist = body_point(keypoints, f"{side}Wrist")
        assert np.linalg.norm(hand[0, :2] - body_wrist[:2]) < WRIST_AGREEMENT_PX, side
        # Identity mapping keeps the thumb (4) and pinky (20) tips: the thumbs point outward.
        outward = 1 if body_wrist[0] > width / 2 else -1
        assert outward * (hand[4, 0] - hand[20, 0]) > 0, side
    # Facing the camera, the person's left hand is on the image right.
    assert hands["L"][0, 0] > width / 2 > hands["R"][0, 0]


def test_blank_image_finds_no_person(static_estimator):
    grey = np.full((240, 320, 3), GREY_LEVEL, np.uint8)
    result = static_estimator.estimate(grey)
    assert not result.person_found
    assert result.keypoints.shape == (layout.NUM_KEYPOINTS, 3) and not result.keypoints.any()


@pytest.mark.parametrize(
    "bad_image, message",
    [
        (np.zeros((64, 64, 3), np.float32), "dtype float32"),
        (np.zeros((64, 64), np.uint8), r"shape \(64, 64\)"),
        (np.zeros((64, 64, 4), np.uint8), r"shape \(64, 64, 4\)"),
        (np.zeros((0, 64, 3), np.uint8), "empty"),
        ([[0, 0, 0]], "list"),
    ],
)
def test_bad_input_raises_clear_value_error(static_estimator, bad_image, message):
    with pytest.raises(ValueError, match=message) as caught:
        static_estimator.estimate(bad_image)
    assert "uint8 array of shape (H, W, 3)" in str(caught.value)


def test_max_input_side_maps_back_to_input_pixels(astronaut, astronaut_result):
    # A non-square crop (512 wide, 400 high) also catches a swapped width/height.
    cropped = astronaut[:NON_SQUARE_CROP_HEIGHT]
    with MediaPipeHolisticEstimator(static_image_mode=True, max_input_side=256) as estimator:
        downscaled = estimator.estimate(cropped)
    assert downscaled.person_found
    for name in ("Nose", "REye", "LEye", "RShoulder", "LShoulder"):
        distance = np.linalg.norm(
            body_point(downscaled.keypoints, name)[:2] - body_point(astronaut_result.keypoints, name)[:2]
        )
        assert distance < DOWNSCALE_AGREEMENT_PX, name


def test_estimate_after_close_raises():
    estimator = MediaPipeHolisticEstimator(static_image_mode=True)
    estimator.close()
    estimator.close()
    with pytest.raises(RuntimeError, match="after close"):
        estimator.estimate(np.zeros((32, 32, 3), np.uint8))


def test_missing_pose_model_file_is_reported_not_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="model_complexity=0"):
        pose_landmark_model_path(0, package_dir=tmp_path)
    with pytest.raises(ValueError, match="model_complexity"):
        pose_landmark_model_path(3)
    with pytest.raises(ValueError, match="min_detection_confidence"):
        MediaPipeHolisticEstimator(min_detection_confidence=1.5)
    with pytest.raises(ValueError, match="max_input_side"):
        MediaPipeHolisticEstimator(max_input_side=0)


def test_eye_contours_match_mediapipe_facemesh_sets():
    from mediapipe.python.solutions import face_mesh_connections

    def vertices(edges):
        return {index for edge in edges for index in edge}

    assert set(mapping.FACEMESH_RIGHT_EYE_CONTOUR) == vertices(face_mesh_connections.FACEMESH_RIGHT_EYE)
    assert set(mapping.FACEMESH_LEFT_EYE_CONTOUR) == vertices(face_mesh_connections.FACEMESH_LEFT_EYE)
    assert set(mapping.FACE_RIGHT_BROW) <= vertices(face_mesh_connections.FACEMESH_RIGHT_EYEBROW)
    assert set(mapping.FACE_LEFT_BROW) <= vertices(face_mesh_connections.FACEMESH_LEFT_EYEBROW)
    assert set(mapping.FACE_JAW) <= vertices(face_mesh_connections.FACEMESH_FACE_OVAL)
    lips = mapping.FACE_OUTER_LIPS + mapping.FACE_INNER_LIPS
    assert set(lips) <= vertices(face_mesh_connections.FACEMESH_LIPS)


# --- Recorded keypoints ---------------------------------------------------------------------


def recorded_frames(count: int = 3) -> np.ndarray:
    frames = np.zeros((count, layout.NUM_KEYPOINTS, 3), np.float32)
    for index in range(count):
        frames[index, :, 0] = 10.0 * (index + 1)
        frames[index, :, 1] = 20.0
        frames[index, :, 2] = 1.0
    return frames


def test_recorded_source_replays_in_order_and_loops():
    frames = recorded_frames()
    source = RecordedPoseSource(frames, loop=True)
    assert isinstance(source, PoseEstimator) and len(source) == 3
    replayed = [source.estimate().keypoints for _ in range(5)]
    for got, expected_index in zip(replayed, (0, 1, 2, 0, 1)):
        np.testing.assert_array_equal(got, frames[expected_index])
    assert source.next_index == 2
    np.testing.assert_array_equal(source.estimate_at(0).keypoints, frames[0])
    assert source.next_index == 2
    np.testing.assert_array_equal(source.estimate_at(-1).keypoints, frames[2])
    with pytest.raises(IndexError):
        source.estimate_at(3)
    # The caller may modify a result without changing the recording.
    source.estimate_at(0).keypoints[:] = -1
    np.testing.assert_array_equal(source.estimate_at(0).keypoints, frames[0])


def test_recorded_source_stops_at_the_end_without_loop():
    source = RecordedPoseSource(recorded_frames(2), loop=False)
    source.estimate()
    source.estimate()
    with pytest.raises(RecordingExhausted, match="2 recorded frames"):
        source.estimate()
    source.reset()
    assert source.estimate().person_found


def test_recorded_source_person_found_and_rescaling():
    frames = recorded_frames(2)
    frames[1] = 0.0
    source = RecordedPoseSource(frames, loop=False, source_size=(100, 50))
    first = source.estimate(np.zeros((100, 200, 3), np.uint8))  # frame twice as large
    assert first.person_found
    assert np.allclose(first.keypoints[:, 0], 20.0) and np.allclose(first.keypoints[:, 1], 40.0)
    second = source.estimate(np.zeros((100, 200, 3), np.uint8))
    assert not second.person_found and not second.keypoints.any()
    with pytest.raises(ValueError, match="uint8"):
        source.estimate_at(0, np.zeros((10, 10, 3), np.float64))


def test_recorded_source_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="137"):
        RecordedPoseSource(np.zeros((4, 25, 3)))
    with pytest.raises(ValueError, match="NaN"):
        RecordedPoseSource(np.full((1, 137, 3), np.nan))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RecordedPoseSource(np.full((1, 137, 3), 2.0))
    path = tmp_path / "clip.npz"
    np.savez(path, keypoints=recorded_frames(3))
    source = make_estimator("recorded", path=path, loop=False)
    assert len(source) == 3


def test_make_estimator_names_and_errors():
    assert isinstance(make_estimator("recorded", keypoints=recorded_frames(1)), RecordedPoseSource)
    with make_estimator("MediaPipe", static_image_mode=True) as estimator:
        assert isinstance(estimator, MediaPipeHolisticEstimator)
    with pytest.raises(ValueError, match="openpose") as caught:
        make_estimator("openpose")
    assert "mediapipe" in str(caught.value) and "recorded" in str(caught.value)


def test_bbox_and_rescale_helpers():
    keypoints = np.zeros((layout.NUM_KEYPOINTS, 3), np.float32)
    assert keypoints_bbox(keypoints) is None
    keypoints[0] = (10, 20, 0.9)
    keypoints[1] = (30, 5, 0.2)
    assert keypoints_bbox(keypoints) == (10.0, 5.0, 30.0, 20.0)
    assert keypoints_bbox(keypoints, min_confidence=0.5) == (10.0, 20.0, 10.0, 20.0)
    scaled = keypoints_to_image_coords(keypoints, (100, 100), (200, 50))
    np.testing.assert_allclose(scaled[0], (20, 10, 0.9))
    assert not scaled[2].any()
    with pytest.raises(ValueError):
        keypoints_to_image_coords(keypoints, (0, 100), (200, 50))


def test_body_only_estimator_fills_body_rows_only():
    from skimage.data import astronaut

    from fashionmirror_ros.pose.estimators import make_estimator
    from fashionmirror_ros.pose.layout import BODY, NUM_BODY

    with make_estimator("mediapipe_pose", static_image_mode=True) as estimator:
        result = estimator.estimate(astronaut())
    assert result.person_found
    nose_x, nose_y, nose_confidence = result.keypoints[BODY["Nose"]]
    assert nose_confidence > 0.5 and 165 < nose_x < 285 and 55 < nose_y < 195
    assert not result.keypoints[NUM_BODY:].any()
