"""MediaPipe -> OpenPose 137 mapping on plain arrays (no MediaPipe run needed)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fashionmirror_ros.pose import layout
from fashionmirror_ros.pose import mediapipe_mapping as mapping

WIDTH, HEIGHT = 640, 480


def frontal_pose33(visibility: float = 0.9) -> np.ndarray:
    """A synthetic MediaPipe pose (33, 4) of a person facing the camera, all inside the image.

    Facing the camera, the person's right side is on the image left: right_* landmarks get
    small x. Each landmark gets a distinct y so swapped rows would show.
    """
    pose = np.zeros((mapping.NUM_MEDIAPIPE_POSE, 4))
    for index, name in enumerate(mapping.MEDIAPIPE_POSE_NAMES):
        if name.startswith("right_"):
            x = 0.3
        elif name.startswith("left_"):
            x = 0.7
        else:
            x = 0.5
        pose[index] = (x, 0.05 + 0.025 * index, 0.0, visibility)
    return pose


def landmark_list(array: np.ndarray) -> SimpleNamespace:
    """Mimic a MediaPipe NormalizedLandmarkList built from an (N, 3|4) array."""
    points = [
        SimpleNamespace(x=row[0], y=row[1], z=row[2], visibility=row[3] if len(row) > 3 else 0.0)
        for row in array
    ]
    return SimpleNamespace(landmark=points)


def test_every_body_row_is_mapped_exactly_once():
    rows = [layout.BODY[name] for name in mapping.BODY_FROM_POSE]
    rows += [layout.BODY[name] for name in mapping.BODY_FROM_POSE_MIDPOINT]
    rows += [layout.BODY[name] for name in mapping.BODY_WITHOUT_COUNTERPART]
    assert sorted(rows) == list(range(layout.NUM_BODY))
    sources = list(mapping.BODY_FROM_POSE.values())
    sources += [name for pair in mapping.BODY_FROM_POSE_MIDPOINT.values() for name in pair]
    assert all(name in mapping.MEDIAPIPE_POSE for name in sources)
    assert len(set(mapping.BODY_FROM_POSE.values())) == len(mapping.BODY_FROM_POSE)


def test_body_sides_follow_the_person_not_the_image():
    # OpenPose R*/L* names and MediaPipe right_*/left_* names both mean the person's side.
    for body_name, pose_name in mapping.BODY_FROM_POSE.items():
        if body_name[0] in "RL":
            expected = "right_" if body_name[0] == "R" else "left_"
            assert pose_name.startswith(expected), (body_name, pose_name)
    assert mapping.MEDIAPIPE_POSE["right_shoulder"] == 12
    assert mapping.MEDIAPIPE_POSE["left_shoulder"] == 11


def test_right_shoulder_at_image_left_maps_to_rshoulder_at_image_left():
    body = mapping.body_from_pose33(frontal_pose33(), WIDTH, HEIGHT)
    body_x = {name: body[layout.BODY[name], 0] for name in layout.BODY_NAMES}
    for name in ("RShoulder", "RElbow", "RWrist", "RHip", "RKnee", "RAnkle", "REye", "REar"):
        assert body_x[name] == pytest.approx(0.3 * WIDTH), name
    for name in ("LShoulder", "LElbow", "LWrist", "LHip", "LKnee", "LAnkle", "LEye", "LEar"):
        assert body_x[name] == pytest.approx(0.7 * WIDTH), name


def test_direct_points_are_scaled_to_pixels():
    pose = frontal_pose33()
    body = mapping.body_from_pose33(pose, WIDTH, HEIGHT)
    assert body.dtype == np.float32 and body.shape == (layout.NUM_BODY, 3)
    for body_name, pose_name in mapping.BODY_FROM_POSE.items():
        source = pose[mapping.MEDIAPIPE_POSE[pose_name]]
        np.testing.assert_allclose(
            body[layout.BODY[body_name], :2], (source[0] * WIDTH, source[1] * HEIGHT), rtol=1e-6
        )


def test_neck_and_midhip_are_midpoints():
    pose = frontal_pose33()
    pose[mapping.MEDIAPIPE_POSE["left_shoulder"], :2] = (0.62, 0.30)
    pose[mapping.MEDIAPIPE_POSE["right_shoulder"], :2] = (0.38, 0.34)
    pose[mapping.MEDIAPIPE_POSE["left_hip"], :2] = (0.58, 0.60)
    pose[mapping.MEDIAPIPE_POSE["right_hip"], :2] = (0.44, 0.62)
    body = mapping.body_from_pose33(pose, WIDTH, HEIGHT)
    np.testing.assert_allclose(
        body[layout.BODY["Neck"], :2],
        (body[layout.BODY["RShoulder"], :2] + body[layout.BODY["LShoulder"], :2]) / 2, rtol=1e-6,
    )
    np.testing.assert_allclose(
        body[layout.BODY["MidHip"], :2],
        (body[layout.BODY["RHip"], :2] + body[layout.BODY["LHip"], :2]) / 2, rtol=1e-6,
    )


def test_confidences_follow_visibility():
    pose = frontal_pose33()
    pose[:, 3] = np.linspace(0.05, 1.0, mapping.NUM_MEDIAPIPE_POSE)
    body = mapping.body_from_pose33(pose, WIDTH, HEIGHT)
    for body_name, pose_name in mapping.BODY_FROM_POSE.items():
        expected = pose[mapping.MEDIAPIPE_POSE[pose_name], 3]
        assert body[layout.BODY[body_name], 2] == pytest.approx(expected, abs=1e-6), body_name
    shoulders = pose[[mapping.MEDIAPIPE_POSE["left_shoulder"], mapping.MEDIAPIPE_POSE["right_shoulder"]], 3]
    assert body[layout.BODY["Neck"], 2] == pytest.approx(shoulders.min(), abs=1e-6)
    for name in mapping.BODY_WITHOUT_COUNTERPART:
        assert (body[layout.BODY[name]] == 0).all()


def test_points_outside_the_image_or_invisible_are_not_found():
    pose = frontal_pose33()
    pose[mapping.MEDIAPIPE_POSE["left_ankle"], 1] = 1.3  # extrapolated below the frame
    pose[mapping.MEDIAPIPE_POSE["right_wrist"], 0] = -0.01
    pose[mapping.MEDIAPIPE_POSE["nose"], 3] = 0.0
    pose[mapping.MEDIAPIPE_POSE["left_knee"], 0] = np.nan
    body = mapping.body_from_pose33(pose, WIDTH, HEIGHT)
    for name in ("LAnkle", "RWrist", "Nose", "LKnee"):
        assert (body[layout.BODY[name]] == 0).all(), name
    assert body[layout.BODY["RAnkle"], 2] > 0


def test_hand_mapping_is_identity_with_full_confidence():
    assert mapping.HAND_FROM_MEDIAPIPE == tuple(range(layout.NUM_HAND))
    assert len(mapping.HAND_POINT_NAMES) == layout.NUM_HAND
    hand = np.column_stack([np.linspace(0.1, 0.9, 21), np.linspace(0.2, 0.8, 21), np.zeros(21)])
    mapped = mapping.hand_from_mediapipe(hand, WIDTH, HEIGHT)
    np.testing.assert_allclose(mapped[:, 0], hand[:, 0] * WIDTH, rtol=1e-6)
    np.testing.assert_allclose(mapped[:, 1], hand[:, 1] * HEIGHT, rtol=1e-6)
    assert (mapped[:, 2] == 1.0).all()
    assert (mapping.hand_from_mediapipe(None, WIDTH, HEIGHT) == 0).all()


def test_face_table_has_68_unique_facemesh_indices():
    table = mapping.FACE_FROM_FACEMESH
    assert len(table) == mapping.NUM_IBUG == 68
    assert len(set(table)) == len(table)
    assert all(0 <= index < mapping.NUM_FACEMESH for index in table)
    # One group per iBUG polyline, in layout order.
    groups = (
        mapping.FACE_JAW, mapping.FACE_RIGHT_BROW, mapping.FACE_LEFT_BROW,
        mapping.FACE_NOSE_BRIDGE, mapping.FACE_NOSE_BOTTOM, mapping.FACE_RIGHT_EYE,
        mapping.FACE_LEFT_EYE, mapping.FACE_OUTER_LIPS, mapping.FACE_INNER_LIPS,
    )
    assert [len(g) for g in groups] == [len(line) for line, _ in layout.FACE_POLYLINES]
    for contour in (mapping.FACEMESH_RIGHT_EYE_CONTOUR, mapping.FACEMESH_LEFT_EYE_CONTOUR):
        assert len(set(contour)) == 16


def test_face_rows_and_pupils():
    rng = np.random.default_rng(0)
    mesh = np.column_stack([rng.uniform(0.3, 0.7, (468, 2)), np.zeros(468)])
    face = mapping.face_from_facemesh(mesh, WIDTH, HEIGHT)
    assert face.shape == (layout.NUM_FACE, 3)
    for ibug, vertex in enumerate(mapping.FACE_FROM_FACEMESH):
        np.testing.assert_allclose(face[ibug, :2], mesh[vertex, :2] * (WIDTH, HEIGHT), rtol=1e-5)
    right_pupil = mesh[list(mapping.FACEMESH_RIGHT_EYE_CONTOUR), :2].mean(axis=0) * (WIDTH, HEIGHT)
    np.testing.assert_allclose(face[layout.FACE_RIGHT_PUPIL, :2], right_pupil, rtol=1e-5)
    assert (face[:, 2] == 1.0).all()

    refined = np.vstack([mesh, np.column_stack([rng.uniform(0.3, 0.7, (10, 2)), np.zeros(10)])])
    face = mapping.face_from_facemesh(refined, WIDTH, HEIGHT)
    np.testing.assert_allclose(
        face[layout.FACE_LEFT_PUPIL, :2],
        refined[mapping.FACEMESH_LEFT_IRIS_CENTER, :2] * (WIDTH, HEIGHT), rtol=1e-5,
    )
    assert (mapping.face_from_facemesh(None, WIDTH, HEIGHT) == 0).all()


def test_holistic_to_openpose_places_each_part_in_its_rows():
    pose = frontal_pose33()
    left_hand = np.column_stack([np.full(21, 0.75), np.linspace(0.4, 0.5, 21), np.zeros(21)])
    right_hand = np.column_stack([np.full(21, 0.25), np.linspace(0.4, 0.5, 21), np.zeros(21)])
    mesh = np.column_stack([np.full(468, 0.5), np.full(468, 0.1), np.zeros(468)])
    results = SimpleNamespace(
        pose_landmarks=landmark_list(pose),
        left_hand_landmarks=landmark_list(left_hand),
        right_hand_landmarks=landmark_list(right_hand),
        face_landmarks=landmark_list(mesh),
    )
    keypoints = mapping.holistic_to_openpose(results, WIDTH, HEIGHT)
    assert keypoints.shape == (layout.NUM_KEYPOINTS, 3) and keypoints.dtype == np.float32
    left_rows = slice(layout.LEFT_HAND_START, layout.LEFT_HAND_START + layout.NUM_HAND)
    right_rows = slice(layout.RIGHT_HAND_START, layout.RIGHT_HAND_START + layout.NUM_HAND)
    assert np.allclose(keypoints[left_rows, 0], 0.75 * WIDTH)
    assert np.allclose(keypoints[right_rows, 0], 0.25 * WIDTH)
    assert np.allclose(keypoints[layout.FACE_START:, 1], 0.1 * HEIGHT)
    np.testing.assert_array_equal(keypoints[: layout.NUM_BODY], mapping.body_from_pose33(pose, WIDTH, HEIGHT))

    results.left_hand_landmarks = None
    results.face_landmarks = None
    keypoints = mapping.holistic_to_openpose(results, WIDTH, HEIGHT)
    assert (keypoints[left_rows] == 0).all() and (keypoints[layout.FACE_START:] == 0).all()
    assert (keypoints[right_rows, 2] == 1.0).all()


def test_no_pose_gives_all_zeros():
    results = SimpleNamespace(
        pose_landmarks=None, left_hand_landmarks=None, right_hand_landmarks=None, face_landmarks=None
    )
    keypoints = mapping.holistic_to_openpose(results, WIDTH, HEIGHT)
    assert keypoints.shape == (layout.NUM_KEYPOINTS, 3) and not keypoints.any()


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        mapping.body_from_pose33(np.zeros((17, 4)), WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="shape"):
        mapping.face_from_facemesh(np.zeros((68, 3)), WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="positive"):
        mapping.hand_from_mediapipe(np.zeros((21, 3)), 0, HEIGHT)
