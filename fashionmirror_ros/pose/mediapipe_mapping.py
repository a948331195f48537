"""MediaPipe Holistic landmarks mapped onto the OpenPose 137-point layout (see ``layout.py``).

MediaPipe Holistic reports 33 pose landmarks, 468 face-mesh landmarks (478 with
``refine_face_landmarks``: + 2 irises of 5 points) and 21 landmarks per hand, all as x, y
normalised to the image width and height (z is a relative depth that OpenPose has no use for).
This module writes the correspondence down as data tables and converts both the raw
MediaPipe result object and plain arrays (so the mapping is testable without running MediaPipe).

Sides. OpenPose and MediaPipe both name points after the person's own side: MediaPipe
``right_shoulder`` (12) is the person's right shoulder, which is on the image LEFT when the
person faces the camera, and goes to OpenPose ``RShoulder`` (row 2). Nothing is mirrored here.

Body: MediaPipe Pose (33) -> BODY_25 (rows 0..24)
==================  ==========================================  =========================
BODY_25 row         MediaPipe Pose landmark                     confidence
==================  ==========================================  =========================
 0 Nose             0 nose                                      visibility
 1 Neck             midpoint of 11 left_shoulder, 12 right_sh.  min of the two visibilities
 2 RShoulder        12 right_shoulder                           visibility
 3 RElbow           14 right_elbow                              visibility
 4 RWrist           16 right_wrist                              visibility
 5 LShoulder        11 left_shoulder                            visibility
 6 LElbow           13 left_elbow                               visibility
 7 LWrist           15 left_wrist                               visibility
 8 MidHip           midpoint of 23 left_hip, 24 right_hip       min of the two visibilities
 9 RHip             24 right_hip                                visibility
10 RKnee            26 right_knee                               visibility
11 RAnkle           28 right_ankle                              visibility
12 LHip             23 left_hip                                 visibility
13 LKnee            25 left_knee                                visibility
14 LAnkle           27 left_ankle                               visibility
15 REye             5 right_eye (eye centre)                    visibility
16 LEye             2 left_eye (eye centre)                     visibility
17 REar             8 right_ear                                 visibility
18 LEar             7 left_ear                                  visibility
19 LBigToe          31 left_foot_index                          visibility
20 LSmallToe        none: left at 0 (not found)                 0
21 LHeel            29 left_heel                                visibility
22 RBigToe          32 right_foot_index                         visibility
23 RSmallToe        none: left at 0 (not found)                 0
24 RHeel            30 right_heel                               visibility
==================  ==========================================  =========================

Unused MediaPipe pose points: 1/3 and 4/6 (inner/outer eye corners), 9/10 (mouth corners),
17-22 (pinky, index, thumb knuckles; the hand model gives better ones).
The small toes have no MediaPipe counterpart (its foot has heel and foot index only). We leave
them at (0, 0, 0), OpenPose's own "not found", rather than inventing a point: a copy of the foot
index would only add a zero-length limb and would claim a detection that did not happen.
OpenPose places Neck a little above the shoulder line; the midpoint is the usual stand-in.

Hands: MediaPipe Hands (21) -> OpenPose hand (21), identity
Both models use the same points in the same order: 0 wrist; thumb 1 CMC, 2 MCP, 3 IP, 4 tip;
index 5 MCP, 6 PIP, 7 DIP, 8 tip; middle 9-12; ring 13-16; pinky 17-20 (base to tip).
``left_hand_landmarks`` -> rows 25..45, ``right_hand_landmarks`` -> rows 46..66.
Holistic names hands by the PERSON's side, consistently with its pose: the graph shipped in
mediapipe 0.10.21 (subgraph HandLandmarksLeftAndRightCpu inside the wheel's binary) crops
``left_hand_landmarks`` around pose landmarks 15/17/19 (left wrist, pinky, index) and
``right_hand_landmarks`` around 16/18/20, and on a drawn frontal figure with both hands raised
the left hand came back at the image-right wrist, next to pose landmark 15 (tested in
``test/test_pose_estimators.py``). This differs from the stand-alone MediaPipe Hands solution,
whose handedness label assumes a mirrored selfie image; holistic output needs no swap.
MediaPipe gives no per-point hand confidence: a present hand gets 1.0 on all 21 points.

Face: MediaPipe FaceMesh (468) -> iBUG-300W 68 + 2 pupils (rows 67..136)
The table below is our choice of FaceMesh vertices whose positions match the iBUG definitions
(checked by drawing them on ``skimage.data.astronaut()``). iBUG "right" is the person's right
(the image-left side of a frontal face), as in MediaPipe's ``FACEMESH_RIGHT_*`` sets.

=============  ========================================================================
iBUG points    FaceMesh vertices
=============  ========================================================================
 0..16 jaw     127 234 132 58 172 136 149 176 152 400 378 365 397 288 361 454 356
               (face-oval vertices from the right ear line over the chin (152) to the left
               one, picked for about even arc length between 127 and 152, mirrored)
17..21 R brow  70 63 105 66 107  (upper brow edge, outer to inner)
22..26 L brow  336 296 334 293 300  (upper brow edge, inner to outer)
27..30 bridge  168 197 5 4  (nasion between the eyes down to the nose tip)
31..35 nostr.  98 97 2 326 327  (right alar base, subnasale 2, left alar base)
36..41 R eye   33 160 158 133 153 144  (outer corner, upper lid x2, inner corner, lower x2)
42..47 L eye   362 385 387 263 373 380  (inner corner, upper lid x2, outer corner, lower x2)
48..59 lips    61 39 37 0 267 269 291 321 314 17 84 91  (outer: right corner, upper lip to the
               left corner, lower lip back)
60..67 inner   78 81 13 311 308 402 14 178  (inner: right corner, upper, left corner, lower)
68 R pupil     mean of the 16 FACEMESH_RIGHT_EYE contour vertices; iris centre 468 if refined
69 L pupil     mean of the 16 FACEMESH_LEFT_EYE contour vertices; iris centre 473 if refined
=============  ========================================================================

MediaPipe gives no per-point face confidence: a present face gets 1.0 on all 70 points.

Confidence and coordinates, all parts: x_pixel = x_normalised * width, y_pixel = y * height.
A point outside the image (MediaPipe extrapolates, e.g. ankles below the frame) or with a
non-finite coordinate is written as (0, 0, 0), OpenPose's "not found", which never reports
points outside the image. Visibilities are clipped to [0, 1].
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .layout import (
    BODY,
    FACE_LEFT_PUPIL,
    FACE_RIGHT_PUPIL,
    FACE_START,
    LEFT_HAND_START,
    NUM_BODY,
    NUM_FACE,
    NUM_HAND,
    NUM_KEYPOINTS,
    RIGHT_HAND_START,
)

# --- MediaPipe Pose -------------------------------------------------------------------------

MEDIAPIPE_POSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
MEDIAPIPE_POSE = {name: index for index, name in enumerate(MEDIAPIPE_POSE_NAMES)}
NUM_MEDIAPIPE_POSE = len(MEDIAPIPE_POSE_NAMES)  # 33
# Pose landmarks come as x, y, z, visibility.
POSE_LANDMARK_COLUMNS = 4

# BODY_25 name -> the MediaPipe pose landmark copied into it.
BODY_FROM_POSE: dict[str, str] = {
    "Nose": "nose",
    "RShoulder": "right_shoulder",
    "RElbow": "right_elbow",
    "RWrist": "right_wrist",
    "LShoulder": "left_shoulder",
    "LElbow": "left_elbow",
    "LWrist": "left_wrist",
    "RHip": "right_hip",
    "RKnee": "right_knee",
    "RAnkle": "right_ankle",
    "LHip": "left_hip",
    "LKnee": "left_knee",
    "LAnkle": "left_ankle",
    "REye": "right_eye",
    "LEye": "left_eye",
    "REar": "right_ear",
    "LEar": "left_ear",
    "LBigToe": "left_foot_index",
    "LHeel": "left_heel",
    "RBigToe": "right_foot_index",
    "RHeel": "right_heel",
}
# BODY_25 name -> the two MediaPipe pose landmarks whose midpoint it is.
BODY_FROM_POSE_MIDPOINT: dict[str, tuple[str, str]] = {
    "Neck": ("right_shoulder", "left_shoulder"),
    "MidHip": ("right_hip", "left_hip"),
}
# BODY_25 points MediaPipe cannot provide; they stay (0, 0, 0).
BODY_WITHOUT_COUNTERPART = ("LSmallToe", "RSmallToe")

# --- MediaPipe Hands ------------------------------------------------------------------------

HAND_POINT_NAMES = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
# OpenPose hand point k <- MediaPipe hand landmark HAND_FROM_MEDIAPIPE[k]: the same order.
HAND_FROM_MEDIAPIPE = tuple(range(NUM_HAND))

# --- MediaPipe FaceMesh ---------------------------------------------------------------------

NUM_FACEMESH = 468
NUM_FACEMESH_REFINED = 478  # with refine_face_landmarks: + 5 points per iris
FACEMESH_RIGHT_IRIS_CENTER = 468
FACEMESH_LEFT_IRIS_CENTER = 473

FACE_JAW = (127, 234, 132, 58, 172, 136, 149, 176, 152, 400, 378, 365, 397, 288, 361, 454, 356)
FACE_RIGHT_BROW = (70, 63, 105, 66, 107)
FACE_LEFT_BROW = (336, 296, 334, 293, 300)
FACE_NOSE_BRIDGE = (168, 197, 5, 4)
FACE_NOSE_BOTTOM = (98, 97, 2, 326, 327)
FACE_RIGHT_EYE = (33, 160, 158, 133, 153, 144)
FACE_LEFT_EYE = (362, 385, 387, 263, 373, 380)
FACE_OUTER_LIPS = (61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91)
FACE_INNER_LIPS = (78, 81, 13, 311, 308, 402, 14, 178)
# iBUG-300W point i <- FaceMesh vertex FACE_FROM_FACEMESH[i], i = 0..67.
FACE_FROM_FACEMESH = (
    FACE_JAW + FACE_RIGHT_BROW + FACE_LEFT_BROW + FACE_NOSE_BRIDGE + FACE_NOSE_BOTTOM
    + FACE_RIGHT_EYE + FACE_LEFT_EYE + FACE_OUTER_LIPS + FACE_INNER_LIPS
)
NUM_IBUG = 68

# The 16 vertices of each eye contour (MediaPipe's FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE
# sets); their mean is the pupil estimate when the face mesh has no iris points.
FACEMESH_RIGHT_EYE_CONTOUR = (
    33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7,
)
FACEMESH_LEFT_EYE_CONTOUR = (
    263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249,
)

# Hands and faces: MediaPipe gives presence per part, not a confidence per point.
PRESENT_PART_CONFIDENCE = 1.0


def _to_pixels(
    normalised_xy: np.ndarray, confidence: np.ndarray, width: int, height: int
) -> np.ndarray:
    """(N, 2) normalised x, y and (N,) confidences -> (N, 3) pixels + confidence, OpenPose style.

    Points outside the image or with non-finite values become (0, 0, 0) because OpenPose never
    reports a point it cannot see, and downstream code treats confidence 0 as "not found".
    """
    points = np.zeros((len(normalised_xy), 3), dtype=np.float32)
    points[:, 0] = normalised_xy[:, 0] * width
    points[:, 1] = normalised_xy[:, 1] * height
    points[:, 2] = np.clip(confidence, 0.0, 1.0)
    inside = (
        np.isfinite(points).all(axis=1)
        & (points[:, 0] >= 0) & (points[:, 0] < width)
        & (points[:, 1] >= 0) & (points[:, 1] < height)
        & (points[:, 2] > 0)
    )
    points[~inside] = 0.0
    return points


def _check_image_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got width={width} height={height}")


def _as_landmark_array(landmarks: Any, min_rows: int, min_columns: int, what: str) -> np.ndarray:
    array = np.asarray(landmarks, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < min_rows or array.shape[1] < min_columns:
        raise ValueError(
            f"{what} must be an array of shape ({min_rows}, >={min_columns}), got {array.shape}"
        )
    return array


def body_from_pose33(landmarks: Any, width: int, height: int) -> np.ndarray:
    """MediaPipe Pose landmarks (33, 4: x, y normalised, z, visibility) -> BODY_25 (25, 3) pixels."""
    _check_image_size(width, height)
    pose = _as_landmark_array(landmarks, NUM_MEDIAPIPE_POSE, POSE_LANDMARK_COLUMNS, "pose landmarks")
    xy = np.zeros((NUM_BODY, 2))
    confidence = np.zeros(NUM_BODY)
    for body_name, pose_name in BODY_FROM_POSE.items():
        row, source = BODY[body_name], pose[MEDIAPIPE_POSE[pose_name]]
        xy[row], confidence[row] = source[:2], source[3]
    for body_name, (first_name, second_name) in BODY_FROM_POSE_MIDPOINT.items():
        first, second = pose[MEDIAPIPE_POSE[first_name]], pose[MEDIAPIPE_POSE[second_name]]
        row = BODY[body_name]
        xy[row] = (first[:2] + second[:2]) / 2.0
        # A midpoint is only as trustworthy as the weaker of its two ends.
        confidence[row] = min(first[3], second[3])
    return _to_pixels(xy, confidence, width, height)


def hand_from_mediapipe(landmarks: Any | None, width: int, height: int) -> np.ndarray:
    """MediaPipe hand landmarks (21, >=2: x, y normalised) or None -> OpenPose hand (21, 3) pixels."""
    _check_image_size(width, height)
    if landmarks is None:
        return np.zeros((NUM_HAND, 3), dtype=np.float32)
    hand = _as_landmark_array(landmarks, NUM_HAND, 2, "hand landmarks")
    xy = hand[list(HAND_FROM_MEDIAPIPE), :2]
    return _to_pixels(xy, np.full(NUM_HAND, PRESENT_PART_CONFIDENCE), width, height)


def face_from_facemesh(landmarks: Any | None, width: int, height: int) -> np.ndarray:
    """FaceMesh landmarks (468 or 478, >=2: x, y normalised) or None -> OpenPose face (70, 3).

    Rows 0..67 are the iBUG points of ``FACE_FROM_FACEMESH``; row 68 the right pupil, 69 the
    left one: the iris centres of a refined mesh (478 points), else the eye contour means.
    """
    _check_image_size(width, height)
    if landmarks is None:
        return np.zeros((NUM_FACE, 3), dtype=np.float32)
    mesh = _as_landmark_array(landmarks, NUM_FACEMESH, 2, "face mesh landmarks")
    xy = np.zeros((NUM_FACE, 2))
    xy[:NUM_IBUG] = mesh[list(FACE_FROM_FACEMESH), :2]
    if mesh.shape[0] >= NUM_FACEMESH_REFINED:
        xy[FACE_RIGHT_PUPIL] = mesh[FACEMESH_RIGHT_IRIS_CENTER, :2]
        xy[FACE_LEFT_PUPIL] = mesh[FACEMESH_LEFT_IRIS_CENTER, :2]
    else:
        xy[FACE_RIGHT_PUPIL] = mesh[list(FACEMESH_RIGHT_EYE_CONTOUR), :2].mean(axis=0)
        xy[FACE_LEFT_PUPIL] = mesh[list(FACEMESH_LEFT_EYE_CONTOUR), :2].mean(axis=0)
    return _to_pixels(xy, np.full(NUM_FACE, PRESENT_PART_CONFIDENCE), width, height)


def landmark_list_to_array(landmark_list: Any | None, with_visibility: bool = False) -> np.ndarray | None:
    """A MediaPipe NormalizedLandmarkList (or None) -> (N, 3) x, y, z or (N, 4) with visibility."""
    if landmark_list is None:
        return None
    if with_visibility:
        rows = [(p.x, p.y, p.z, p.visibility) for p in landmark_list.landmark]
    else:
        rows = [(p.x, p.y, p.z) for p in landmark_list.landmark]
    return np.asarray(rows, dtype=np.float64)


def holistic_to_openpose(results: Any, width: int, height: int) -> np.ndarray:
    """A ``mediapipe.solutions.holistic.Holistic.process`` result -> (137, 3) float32 keypoints.

    ``width`` and ``height`` are those of the image the pixel coordinates should refer to
    (MediaPipe's coordinates are normalised, so this may differ from the processed size).
    No pose -> all zeros (holistic derives hands and face from the pose, so they are absent too).
    """
    _check_image_size(width, height)
    keypoints = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    pose = landmark_list_to_array(results.pose_landmarks, with_visibility=True)
    if pose is None:
        return keypoints
    keypoints[:NUM_BODY] = body_from_pose33(pose, width, height)
    keypoints[LEFT_HAND_START:LEFT_HAND_START + NUM_HAND] = hand_from_mediapipe(
        landmark_list_to_array(results.left_hand_landmarks), width, height
    )
    keypoints[RIGHT_HAND_START:RIGHT_HAND_START + NUM_HAND] = hand_from_mediapipe(
        landmark_list_to_array(results.right_hand_landmarks), width, height
    )
    keypoints[FACE_START:FACE_START + NUM_FACE] = face_from_facemesh(
        landmark_list_to_array(results.face_landmarks), width, height
    )
    return keypoints


def pose_to_openpose(results: Any, width: int, height: int) -> np.ndarray:
    """A ``mediapipe.solutions.pose.Pose.process`` result -> (137, 3): BODY_25 rows only."""
    _check_image_size(width, height)
    keypoints = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    pose = landmark_list_to_array(results.pose_landmarks, with_visibility=True)
    if pose is not None:
        keypoints[:NUM_BODY] = body_from_pose33(pose, width, height)
    return keypoints
