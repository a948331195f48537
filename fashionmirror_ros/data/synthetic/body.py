"""Motion -> 3D skeleton: the pose at a time (keyframes, stepping, arm swing), the joints in
the body frame, and the hand and face templates the keypoints come from."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from fashionmirror_ros.data.synthetic.config import DEFAULT_CONFIG, BodyShape, SyntheticConfig
from fashionmirror_ros.data.synthetic.recipe import ArmAngles, MotionScript
from fashionmirror_ros.pose.layout import NUM_FACE


# ----------------------------------------------------------------------------------------------
# Small maths helpers
# ----------------------------------------------------------------------------------------------
def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-9 else vector


def _limb_direction(side: float, abduction: float, flexion: float) -> np.ndarray:
    """Unit direction of a limb hanging down, swung out by ``abduction`` and forward by
    ``flexion`` (radians); ``side`` is +1 for the person's left, -1 for the right."""
    return np.array([
        side * math.sin(abduction) * math.cos(flexion),
        -math.cos(abduction) * math.cos(flexion),
        math.sin(flexion),
    ])


def _bend(direction: np.ndarray, towards: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``direction`` by ``angle`` towards ``towards`` (made orthogonal to it first)."""
    ortho = towards - float(np.dot(towards, direction)) * direction
    ortho = _normalise(ortho)
    return math.cos(angle) * direction + math.sin(angle) * ortho


# ----------------------------------------------------------------------------------------------
# Motion -> 3D skeleton
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BodyPose:
    yaw: float
    head_yaw: float
    lateral: float
    right_arm: ArmAngles
    left_arm: ArmAngles
    hip_flex: tuple          # (right, left)
    knee_bend: tuple
    pelvis_roll: float
    finger_curl: float


def pose_at(motion: MotionScript, time: float, config: SyntheticConfig = DEFAULT_CONFIG) -> BodyPose:
    """Interpolate the keyframes at ``time`` and add stepping and arm swing."""
    frames = motion.keyframes
    index = 0
    while index + 1 < len(frames) and frames[index + 1].time <= time:
        index += 1
    current = frames[index]
    following = frames[min(index + 1, len(frames) - 1)]
    span = following.time - current.time
    weight = _smoothstep((time - current.time) / span) if span > 0 else 0.0

    def mix(a, b):
        return a + (b - a) * weight

    stepping = mix(current.stepping, following.stepping)
    phase = 2 * math.pi * motion.step_frequency * time + motion.step_phase
    lift_right = stepping * max(0.0, math.sin(phase)) ** 1.5
    lift_left = stepping * max(0.0, -math.sin(phase)) ** 1.5
    hip_right = config.step_hip_flex_rad * lift_right
    hip_left = config.step_hip_flex_rad * lift_left
    swing = config.arm_swing_rad * stepping * math.sin(phase)
    right_arm = current.right_arm.lerp(following.right_arm, weight)
    left_arm = current.left_arm.lerp(following.left_arm, weight)
    # Arms swing against the legs, less when they are busy (bent elbows).
    right_arm = dataclasses.replace(right_arm, flexion=right_arm.flexion - swing * math.cos(right_arm.elbow))
    left_arm = dataclasses.replace(left_arm, flexion=left_arm.flexion + swing * math.cos(left_arm.elbow))
    yaw = mix(current.yaw, following.yaw)
    breathing_sway = 0.015 * math.sin(2 * math.pi * 0.3 * time + motion.step_phase)
    return BodyPose(
        yaw=yaw + breathing_sway,
        head_yaw=yaw + breathing_sway + mix(current.head_offset, following.head_offset),
        lateral=mix(current.lateral, following.lateral) + 0.008 * stepping * math.cos(phase),
        right_arm=right_arm,
        left_arm=left_arm,
        hip_flex=(hip_right, hip_left),
        knee_bend=(2.1 * hip_right, 2.1 * hip_left),
        pelvis_roll=0.035 * stepping * math.sin(phase),
        finger_curl=mix(current.finger_curl, following.finger_curl),
    )


@dataclass
class Skeleton3D:
    """Named joints in the body frame (x = person's left, y = up, z = forward)."""

    joints: dict
    forearm_direction: dict   # side name -> unit 3D vector
    thumb_direction: dict     # side name -> unit 3D vector
    hem_centre: np.ndarray | None = None


SIDES = (("R", -1.0), ("L", 1.0))


def build_skeleton(shape: BodyShape, pose: BodyPose, skirt_length: float = 0.0) -> Skeleton3D:
    joints: dict = {}
    pelvis = np.array([0.0, shape.ankle_height + shape.shin_length + shape.thigh_length, 0.0])
    roll = pose.pelvis_roll
    hip_axis = np.array([math.cos(roll), math.sin(roll), 0.0])
    joints["MidHip"] = pelvis
    forward = np.array([0.0, 0.0, 1.0])
    up = np.array([0.0, 1.0, 0.0])
    for (name, side), flex, knee_bend in zip(SIDES, pose.hip_flex, pose.knee_bend):
        hip = pelvis + side * shape.hip_half_width * hip_axis
        thigh = _limb_direction(side, math.radians(3.0), flex)
        knee = hip + shape.thigh_length * thigh
        shin = _bend(thigh, -forward, knee_bend)
        ankle = knee + shape.shin_length * shin
        toe_out = math.radians(9.0) * side
        foot_forward = np.array([math.sin(toe_out), 0.0, math.cos(toe_out)])
        pitch = max(0.0, knee_bend - flex) * 0.8  # a lifted foot hangs toes-down
        foot = _normalise(math.cos(pitch) * foot_forward - math.sin(pitch) * up)
        sole = ankle - shape.ankle_height * up * math.cos(pitch)
        medial = np.array([-side, 0.0, 0.0])
        joints[f"{name}Hip"] = hip
        joints[f"{name}Knee"] = knee
        joints[f"{name}Ankle"] = ankle
        joints[f"{name}Heel"] = sole - 0.035 * foot
        joints[f"{name}BigToe"] = sole + shape.foot_length * foot + 0.016 * medial
        joints[f"{name}SmallToe"] = sole + 0.8 * shape.foot_length * foot - 0.024 * medial
    # The torso leans against the pelvis roll, as people do when shifting weight.
    lean = -0.6 * roll
    spine = np.array([-math.sin(lean), math.cos(lean), 0.0])
    neck = pelvis + shape.torso_length * spine
    joints["Neck"] = neck
    shoulder_axis = np.array([math.cos(lean), math.sin(lean), 0.0])
    joints["HeadCentre"] = neck + shape.neck_to_head_centre * spine + np.array([0.0, 0.0, 0.008])
    forearms, thumbs = {}, {}
    for (name, side), arm in zip(SIDES, (pose.right_arm, pose.left_arm)):
        # The shoulder joint sits below the top of the shoulder (the deltoid rounds over it).
        shoulder = neck + side * shape.shoulder_half_width * shoulder_axis - 0.032 * spine
        upper = _limb_direction(side, arm.abduction, arm.flexion)
        elbow = shoulder + shape.upper_arm_length * upper
        medial = np.array([-side, 0.0, 0.0])
        bend_towards = math.cos(arm.inward) * forward + math.sin(arm.inward) * medial
        fore = _bend(upper, bend_towards, arm.elbow)
        wrist = elbow + shape.forearm_length * fore
        joints[f"{name}Shoulder"] = shoulder
        joints[f"{name}Elbow"] = elbow
        joints[f"{name}Wrist"] = wrist
        forearms[name] = fore
        thumb = forward + 0.3 * medial + 0.45 * up
        thumbs[name] = _normalise(thumb - float(np.dot(thumb, fore)) * fore)
    # Feet stay on the ground: lift or drop the whole body so the lowest sole point is at y = 0.
    foot_names = ("RHeel", "RBigToe", "RSmallToe", "LHeel", "LBigToe", "LSmallToe")
    ground_offset = min(joints[n][1] for n in foot_names)
    for key in joints:
        joints[key] = joints[key] - np.array([0.0, ground_offset, 0.0])
    hem = None
    if skirt_length > 0:
        waist = joints["MidHip"] + 0.38 * shape.torso_length * spine
        knees = 0.5 * (joints["RKnee"] + joints["LKnee"])
        down = _normalise(knees + np.array([0.0, -0.05, 0.0]) - waist)
        hem = waist + skirt_length * down
    return Skeleton3D(joints, forearms, thumbs, hem)


# Hand model: (along, across) offsets in hand lengths for the 20 points after the wrist, in
# OpenPose order (thumb CMC..tip, index MCP..tip, middle, ring, pinky). "across" points to the
# thumb side.
_HAND_TEMPLATE = np.array([
    (0.12, 0.20), (0.25, 0.36), (0.37, 0.44), (0.48, 0.50),
    (0.45, 0.17), (0.62, 0.19), (0.73, 0.20), (0.83, 0.21),
    (0.46, 0.04), (0.66, 0.04), (0.78, 0.04), (0.90, 0.04),
    (0.45, -0.08), (0.63, -0.09), (0.74, -0.10), (0.84, -0.11),
    (0.42, -0.19), (0.55, -0.21), (0.64, -0.22), (0.72, -0.23),
])
FINGER_BASE_ROWS = (1, 5, 9, 13, 17)  # rows of the 21-point hand: CMC / MCP of each finger


def hand_points_3d(wrist: np.ndarray, forearm: np.ndarray, thumb: np.ndarray, length: float,
                   curl: float) -> np.ndarray:
    """21 hand keypoints in 3D. Curled fingers bend toward the palm, which shortens them."""
    palm_normal = np.cross(forearm, thumb)
    points = [wrist]
    for row, (along, across) in enumerate(_HAND_TEMPLATE, start=1):
        finger = (row - 1) // 4
        base_along = _HAND_TEMPLATE[finger * 4][0]
        beyond = max(0.0, along - base_along)
        bent = 0.55 * curl * beyond if finger > 0 else 0.25 * curl * beyond
        points.append(wrist + length * ((along - bent) * forearm + across * thumb
                                        - 0.6 * bent * palm_normal))
    return np.array(points)


def _face_template() -> np.ndarray:
    """70 face points (iBUG 68 + pupils) on a unit head: x to the person's left, y down,
    z forward; the nose sticks out."""
    points = np.zeros((NUM_FACE, 3))
    for k in range(17):  # jaw from the right ear round the chin to the left ear
        angle = math.pi * k / 16
        points[k, :2] = (-0.9 * math.cos(angle), 0.08 + 0.86 * math.sin(angle))
    for k in range(5):
        arch = -0.30 - 0.08 * math.sin(math.pi * k / 4)
        points[17 + k, :2] = (-0.62 + 0.12 * k, arch)
        points[22 + k, :2] = (0.14 + 0.12 * k, -0.30 - 0.08 * math.sin(math.pi * (4 - k) / 4))
    for k in range(4):
        points[27 + k, :2] = (0.0, -0.16 + 0.15 * k)
    for k in range(5):
        x = -0.17 + 0.085 * k
        points[31 + k, :2] = (x, 0.36 + 0.03 * (1 - abs(x) / 0.17))
    right_eye = [(-0.52, -0.05), (-0.42, -0.10), (-0.31, -0.10), (-0.21, -0.05), (-0.31, 0.0),
                 (-0.42, 0.0)]
    for k, (x, y) in enumerate(right_eye):
        points[36 + k, :2] = (x, y)
        points[42 + (3 - k) % 6, :2] = (-x, y)  # mirrored: 42 inner corner, 45 outer corner
    outer_lips = [(-0.24, 0.60), (-0.15, 0.55), (-0.05, 0.53), (0.0, 0.545), (0.05, 0.53),
                  (0.15, 0.55), (0.24, 0.60), (0.15, 0.67), (0.06, 0.70), (0.0, 0.705),
                  (-0.06, 0.70), (-0.15, 0.67)]
    inner_lips = [(-0.2, 0.60), (-0.08, 0.585), (0.0, 0.59), (0.08, 0.585), (0.2, 0.60),
                  (0.08, 0.615), (0.0, 0.62), (-0.08, 0.615)]
    points[48:60, :2] = outer_lips
    points[60:68, :2] = inner_lips
    points[68, :2] = (-0.365, -0.05)
    points[69, :2] = (0.365, -0.05)
    radial = np.clip(1.0 - points[:, 0] ** 2 - (0.85 * points[:, 1]) ** 2, 0.05, None)
    points[:, 2] = np.sqrt(radial)
    nose_bump = np.zeros(NUM_FACE)
    nose_bump[27:31] = (0.03, 0.08, 0.14, 0.22)
    nose_bump[31:36] = (0.08, 0.11, 0.13, 0.11, 0.08)
    points[:, 2] += nose_bump
    return points


FACE_TEMPLATE = _face_template()
