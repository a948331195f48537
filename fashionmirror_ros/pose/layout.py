"""The OpenPose 137-point keypoint layout used everywhere in the package.

Keypoints are an array of shape (137, 3): x, y in pixels of the image they were found in, and a
confidence in [0, 1] (0 = not found). The 137 rows are, in this order (the order OpenPose writes
its JSON files: pose, then hands left/right, then face):

- rows   0..24  BODY_25 (OpenPose body model with feet),
- rows  25..45  left hand (21 points, OpenPose hand model),
- rows  46..66  right hand (21 points),
- rows  67..136 face (70 points: 68 iBUG-300W landmarks + 2 pupils).

"Left" and "right" are the person's own sides, as in OpenPose.
"""
from __future__ import annotations

NUM_BODY = 25
NUM_HAND = 21
NUM_FACE = 70
NUM_KEYPOINTS = NUM_BODY + 2 * NUM_HAND + NUM_FACE  # 137

BODY_START = 0
LEFT_HAND_START = NUM_BODY  # 25
RIGHT_HAND_START = LEFT_HAND_START + NUM_HAND  # 46
FACE_START = RIGHT_HAND_START + NUM_HAND  # 67

BODY_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
BODY = {name: index for index, name in enumerate(BODY_NAMES)}

# BODY_25 limbs in OpenPose's rendering order (pairs of body indices).
BODY_LIMBS = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
    (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18),
    (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
)

# Hand: 0 wrist, then 4 points per finger (thumb, index, middle, ring, pinky), base to tip.
HAND_LIMBS = tuple(
    pair
    for finger in range(5)
    for pair in ((0 if k == 0 else 1 + 4 * finger + k - 1, 1 + 4 * finger + k) for k in range(4))
)

# Face (iBUG 68 + pupils): contiguous polylines, closed where the feature is a loop.
FACE_POLYLINES = (
    (tuple(range(0, 17)), False),   # jaw
    (tuple(range(17, 22)), False),  # right eyebrow
    (tuple(range(22, 27)), False),  # left eyebrow
    (tuple(range(27, 31)), False),  # nose bridge
    (tuple(range(31, 36)), False),  # nose bottom
    (tuple(range(36, 42)), True),   # right eye
    (tuple(range(42, 48)), True),   # left eye
    (tuple(range(48, 60)), True),   # outer lips
    (tuple(range(60, 68)), True),   # inner lips
)
FACE_RIGHT_PUPIL = 68
FACE_LEFT_PUPIL = 69
FACE_LIMBS = tuple(
    (line[i], line[(i + 1) % len(line)])
    for line, closed in FACE_POLYLINES
    for i in range(len(line) if closed else len(line) - 1)
)


def all_limbs() -> tuple[tuple[int, int], ...]:
    """Every drawn segment as pairs of rows of the 137-point array."""
    limbs = list(BODY_LIMBS)
    limbs += [(a + LEFT_HAND_START, b + LEFT_HAND_START) for a, b in HAND_LIMBS]
    limbs += [(a + RIGHT_HAND_START, b + RIGHT_HAND_START) for a, b in HAND_LIMBS]
    limbs += [(a + FACE_START, b + FACE_START) for a, b in FACE_LIMBS]
    return tuple(limbs)
