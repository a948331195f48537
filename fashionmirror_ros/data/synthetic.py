"""Procedural FashionVideo-like clips with exact ground truth.

FashionVideo (UBC Fashion) shows one model at a time, full body, on a plain studio background,
posing and slowly turning around at 30 fps. No data set can be downloaded here, so this module
draws such clips itself, with what the paper's training and its reconstruction protocol need:
frames, the exact visible-garment mask per frame, a person mask, the true 137 OpenPose-layout
keypoints per frame, and the flat in-shop garment image C with its mask.

Design choices
--------------
* A 3D stick skeleton, rendered in 2D. Joints live in a body frame (x = the person's left,
  y = up, z = forward, 1 unit = standing height); the body turns about the vertical axis (yaw)
  and is projected orthographically. Turning front -> side -> back therefore changes widths,
  depth order and face visibility consistently, for the pixels and the keypoints alike.
* Body parts are analytic surfaces drawn per pixel into a z-buffer: tapered capsules for limbs
  and neck, elliptic generalised cylinders for torso and skirt, an ellipsoid for the head, flat
  polygons for hands and long hair. Each part reports, per pixel, its depth, a surface
  coordinate (around, along) and a shading term; arms crossing in front of the torso win the
  depth test and occlude the garment, so the clothing mask shows the occlusion exactly.
* Texture lives in body coordinates. Garment pixels carry (U, V) in body units: U is arc length
  around the torso / sleeve / skirt from the front centre line, V is length down from the shoulder
  line (or along the arm). A tileable texture is sampled there, so prints move and deform with the
  body and slide around it when the person turns. The flat garment image C is drawn from the same
  (U, V) layout laid flat (front half of the garment, width = half the circumference), so C shows
  exactly the fabric the person wears.
* Motion is keyframed: every 0.7 to 1.6 s a new target (yaw, arm pose, stepping intensity, head
  turn) is drawn and reached with a smooth-step; stepping in place and arm swing are added as a
  gait oscillation. Keyframes are drawn sequentially from their own random stream, so a clip's
  first N frames do not depend on how many frames were asked for.
* Every random choice comes from a numpy Generator seeded by (clip seed, component): person,
  garment, background, framing and motion are independent streams. ``tryon_clip`` swaps only the
  garment stream, keeping person and motion identical.
* Keypoint confidence: 1 for a point seen by the camera; body joints hidden behind another part
  keep 0.4 (OpenPose usually still guesses them); face points turned away, hidden hands and
  points outside the image get 0.
* Speed: numpy on the bounding box of each part, one texture remap per frame, colouring only
  inside the person's bounding box, buffers reused between frames: about 150 frames per second
  at 256x256 on one core (a 6-frame training sample, skeletons included, in about 75 ms).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from fashionmirror_ros.pose.layout import (
    BODY,
    FACE_START,
    LEFT_HAND_START,
    NUM_FACE,
    NUM_HAND,
    NUM_KEYPOINTS,
    RIGHT_HAND_START,
)

GARMENT_TYPES = ("sleeveless", "short_sleeve", "long_sleeve", "dress")
TEXTURE_KINDS = ("solid", "stripes", "checks", "dots", "prints")

# Seeds of the splits live in disjoint ranges, so no clip can be in two splits.
SPLIT_SEED_RANGES = {
    "train": (0, 1_000_000_000),
    "val": (1_000_000_000, 2_000_000_000),
    "test": (2_000_000_000, 3_000_000_000),
}

# Independent random streams of one clip (second entropy word of the SeedSequence).
_STREAM_PERSON, _STREAM_GARMENT, _STREAM_BACKGROUND, _STREAM_MOTION, _STREAM_FRAMING = range(5)

# Materials of the per-pixel material buffer.
MAT_BACKGROUND, MAT_SKIN, MAT_GARMENT, MAT_LOWER, MAT_SHOE, MAT_HAIR = range(6)
_NUM_MATERIALS = 6

# Part ids of the per-pixel part buffer (0 = nothing drawn).
(PART_NONE, PART_TORSO, PART_SKIRT, PART_NECK, PART_HEAD, PART_HAIR_BACK,
 PART_R_UPPER_ARM, PART_R_FOREARM, PART_R_HAND, PART_L_UPPER_ARM, PART_L_FOREARM, PART_L_HAND,
 PART_R_THIGH, PART_R_SHIN, PART_R_FOOT, PART_L_THIGH, PART_L_SHIN, PART_L_FOOT) = range(18)


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BodyShape:
    """Mean body proportions in body units (1 = soles to top of head); persons scale these."""

    torso_length: float = 0.29          # mid-hip to neck (shoulder level)
    neck_to_head_centre: float = 0.105
    head_radius_x: float = 0.054
    head_radius_y: float = 0.068
    shoulder_half_width: float = 0.112
    hip_half_width: float = 0.052
    upper_arm_length: float = 0.186
    forearm_length: float = 0.146
    hand_length: float = 0.104
    thigh_length: float = 0.245
    shin_length: float = 0.245
    ankle_height: float = 0.045
    foot_length: float = 0.135
    upper_arm_radius: tuple = (0.028, 0.024)
    forearm_radius: tuple = (0.023, 0.017)
    thigh_radius: tuple = (0.060, 0.040)
    shin_radius: tuple = (0.037, 0.023)
    foot_radius: float = 0.026
    neck_radius: float = 0.025
    # Torso cross-section along its axis: t = 0 at the shoulder line, 1 at the hip joints.
    # a = half width (left-right), b = half depth (front-back).
    torso_t: tuple = (-0.10, -0.03, 0.05, 0.30, 0.62, 0.90, 1.14)
    torso_a: tuple = (0.040, 0.095, 0.124, 0.116, 0.094, 0.110, 0.100)
    torso_b: tuple = (0.036, 0.052, 0.058, 0.072, 0.062, 0.070, 0.064)


@dataclass(frozen=True)
class SyntheticConfig:
    """Every tunable number of the generator, in one place."""

    body: BodyShape = BodyShape()
    # Person variation (multiplicative ranges).
    width_scale: tuple = (0.88, 1.14)
    shoulder_scale: tuple = (0.92, 1.10)
    hip_scale: tuple = (0.92, 1.12)
    limb_length_scale: tuple = (0.96, 1.04)
    head_scale: tuple = (0.94, 1.06)
    # Framing: person height as a fraction of the image, feet line, horizontal centre jitter.
    height_fraction: tuple = (0.80, 0.90)
    ground_fraction: tuple = (0.955, 0.975)
    centre_jitter: float = 0.04
    # Motion.
    keyframe_interval_s: tuple = (0.7, 1.6)
    turn_probability: float = 0.45
    turn_angle_deg: tuple = (35.0, 180.0)
    turn_direction_keep: float = 0.8
    start_frontal_probability: float = 0.8
    start_yaw_std_deg: float = 20.0
    idle_yaw_jitter_deg: float = 10.0
    head_turn_deg: float = 12.0
    step_frequency_hz: tuple = (0.7, 1.0)
    step_hip_flex_rad: float = 0.42
    arm_swing_rad: float = 0.18
    lateral_drift: float = 0.02
    arm_angle_jitter_deg: float = 5.0
    stepping_levels: tuple = ((0.0, 0.5), (0.35, 0.3), (1.0, 0.2))  # (level, probability)
    finger_curl: tuple = (0.1, 0.7)
    # Person look.
    hair_styles: tuple = (("short", 0.35), ("bob", 0.25), ("long", 0.4))
    long_hair_length: tuple = (0.12, 0.22)  # below the head centre, body units
    lower_garments: tuple = (("trousers", 0.6), ("shorts", 0.15), ("skirt", 0.25))
    lower_skirt_length: float = 0.21
    # Garment.
    garment_type_probabilities: tuple = (0.2, 0.3, 0.25, 0.25)  # in GARMENT_TYPES order
    short_sleeve_fraction: tuple = (0.3, 0.65)   # of the upper arm
    long_sleeve_fraction: tuple = (0.9, 0.99)    # of the whole arm
    dress_sleeves: tuple = (("none", 0.45), ("short", 0.35), ("three_quarter", 0.2))
    three_quarter_fraction: tuple = (0.6, 0.8)   # of the whole arm
    top_hem_t: tuple = (0.92, 1.14)              # torso axis units, 1 = hip joints
    dress_skirt_length: tuple = (0.24, 0.44)     # waist to hem, body units
    dress_skirt_flare: tuple = (0.01, 0.09)
    looseness: tuple = (0.0, 0.018)
    necklines: tuple = (("crew", 0.45), ("v", 0.2), ("scoop", 0.2), ("boat", 0.15))
    texture_probabilities: tuple = (0.3, 0.2, 0.15, 0.15, 0.2)  # in TEXTURE_KINDS order
    texture_periods: tuple = (("solid", (0.1, 0.1)), ("stripes", (0.025, 0.06)),
                              ("checks", (0.04, 0.08)), ("dots", (0.03, 0.055)),
                              ("prints", (0.08, 0.13)))  # body units
    graphic_probability: float = 0.3
    texture_tile_pixels: int = 64
    # Background.
    background_kinds: tuple = (("flat", 0.4), ("gradient", 0.3), ("wall_floor", 0.2), ("textured", 0.1))
    studio_background_probability: float = 0.75  # white / light grey, as in FashionVideo
    # Rendering.
    blur_sigma: float = 0.5
    edge_smoothing_sigma: float = 0.9
    occlusion_edge_darkening: float = 0.22
    ambient_light: float = 0.5
    light_direction: tuple = (-0.35, -0.4, 0.85)  # screen x right, y down, z to the camera
    flat_garment_fill: float = 0.86  # fraction of C covered by the garment's larger side


DEFAULT_CONFIG = SyntheticConfig()


# ----------------------------------------------------------------------------------------------
# Public data structure
# ----------------------------------------------------------------------------------------------
@dataclass
class Clip:
    """One video clip with its ground truth (generated, or loaded from FashionVideo).

    cloth_masks[t] is the visible garment region of frame t: in the reconstruction protocol it
    is both the removed mask M_r (for frame 0) and the target clothing mask M_c^t.
    """

    frames: np.ndarray          # uint8 (T, H, W, 3) RGB
    keypoints: np.ndarray       # float32 (T, 137, 3) x, y, confidence
    cloth_masks: np.ndarray     # uint8 (T, H, W) in {0, 1}
    person_masks: np.ndarray    # uint8 (T, H, W) in {0, 1}
    garment: np.ndarray         # uint8 (H, W, 3) the flat in-shop garment image C
    garment_mask: np.ndarray    # uint8 (H, W) in {0, 1}
    garment_type: str
    fps: float
    seed: int
    split: str

    def __len__(self) -> int:
        return int(self.frames.shape[0])


# ----------------------------------------------------------------------------------------------
# Seeds and splits
# ----------------------------------------------------------------------------------------------
def split_seed(split: str, index: int) -> int:
    """Seed of clip ``index`` of ``split``; the splits' seed ranges are disjoint."""
    if split not in SPLIT_SEED_RANGES:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_SEED_RANGES)}")
    start, stop = SPLIT_SEED_RANGES[split]
    if not 0 <= index < stop - start:
        raise ValueError(f"index {index} out of range for split {split!r}")
    return start + int(index)


def split_of_seed(seed: int) -> str:
    """The split whose seed range holds ``seed`` ("custom" for seeds outside all of them)."""
    for split, (start, stop) in SPLIT_SEED_RANGES.items():
        if start <= seed < stop:
            return split
    return "custom"


def _choose(rng: np.random.Generator, options) -> object:
    """One value from ((value, probability), ...)."""
    values = [value for value, _ in options]
    weights = np.array([weight for _, weight in options], np.float64)
    return values[int(rng.choice(len(values), p=weights / weights.sum()))]


def _stream(seed: int, component: int) -> np.random.Generator:
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng([int(seed), component])


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


def _rgb(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    pixel = np.array([[[hue * 179.0, saturation * 255.0, value * 255.0]]], dtype=np.float32)
    return cv2.cvtColor(pixel.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Appearance: person, garment, background
# ----------------------------------------------------------------------------------------------
SKIN_TONES = _rgb([
    (255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 142, 104),
    (166, 112, 78), (130, 84, 56), (96, 62, 42), (236, 188, 180),
])
HAIR_COLOURS = _rgb([
    (20, 16, 14), (45, 30, 22), (82, 54, 34), (128, 88, 52), (196, 160, 104),
    (150, 64, 36), (150, 150, 150), (60, 40, 30),
])
LOWER_COLOURS = _rgb([
    (48, 64, 100), (70, 92, 140), (30, 30, 34), (200, 190, 170), (120, 120, 124),
    (240, 240, 236), (90, 60, 40), (60, 80, 60),
])
SHOE_COLOURS = _rgb([(24, 24, 24), (240, 240, 240), (110, 70, 40), (160, 30, 40), (200, 180, 150)])
LIP_TINT = _rgb((170, 70, 80))


@dataclass(frozen=True)
class PersonLook:
    shape: BodyShape
    skin: np.ndarray
    hair: np.ndarray
    hair_style: str          # "short", "bob", "long"
    hair_length: float       # long hair: how far below the head centre it falls (body units)
    lower_kind: str          # "trousers", "shorts", "skirt"
    lower_colour: np.ndarray
    shoe_colour: np.ndarray


@dataclass(frozen=True)
class GarmentSpec:
    garment_type: str
    sleeve_length: float     # body units from the shoulder joint (0 = sleeveless)
    hem_t: float             # torso hem, in torso axis units (1 = hip joints)
    skirt_length: float      # dress only: waist to hem, body units
    skirt_flare: float       # dress only: extra half width at the hem, body units
    looseness: float         # extra half width over the body, body units
    neckline: str            # "crew", "v", "scoop", "boat"
    neck_depth: float
    neck_half_width: float
    texture_kind: str
    tile: np.ndarray         # float32 (P, P, 3) RGB 0..255, tileable
    period: float            # texture period in body units
    base_colour: np.ndarray
    graphic: np.ndarray | None   # float32 (G, G, 4) RGBA decal on the chest, or None
    graphic_box: tuple       # (u_centre, v_top, size) body units


@dataclass(frozen=True)
class BackgroundSpec:
    kind: str                # "flat", "gradient", "wall_floor", "textured"
    colour: np.ndarray
    second_colour: np.ndarray
    floor_fraction: float
    texture_seed: int
    texture_period: float


@dataclass(frozen=True)
class Framing:
    height_fraction: float
    ground_fraction: float
    centre_fraction: float


@dataclass(frozen=True)
class ArmAngles:
    """One arm: abduction and flexion of the upper arm, elbow bend and the bend's direction
    (0 = forearm bends forward, pi/2 = across the body)."""

    abduction: float
    flexion: float
    elbow: float
    inward: float

    def lerp(self, other: "ArmAngles", weight: float) -> "ArmAngles":
        return ArmAngles(*(a + (b - a) * weight for a, b in zip(dataclasses.astuple(self),
                                                                 dataclasses.astuple(other))))


def _arm(abduction_deg, flexion_deg, elbow_deg, inward_deg) -> ArmAngles:
    return ArmAngles(*(math.radians(v) for v in (abduction_deg, flexion_deg, elbow_deg, inward_deg)))


# Named arm poses (right arm, left arm) and how often keyframes pick them.
ARM_POSES = {
    "relaxed": (_arm(8, 3, 12, 30), _arm(8, 3, 12, 30)),
    "a_pose": (_arm(26, 0, 8, 20), _arm(26, 0, 8, 20)),
    "hands_on_hips": (_arm(42, -14, 108, 88), _arm(42, -14, 108, 88)),
    "right_hand_on_hip": (_arm(42, -14, 108, 88), _arm(8, 3, 14, 30)),
    "left_hand_on_hip": (_arm(8, 3, 14, 30), _arm(42, -14, 108, 88)),
    "arms_crossed": (_arm(6, 30, 128, 86), _arm(6, 38, 132, 88)),
    "hands_clasped_front": (_arm(6, 14, 62, 70), _arm(6, 14, 62, 70)),
    "right_arm_out": (_arm(60, 10, 10, 0), _arm(8, 3, 12, 30)),
    "left_arm_out": (_arm(8, 3, 12, 30), _arm(60, 10, 10, 0)),
}
ARM_POSE_WEIGHTS = {
    "relaxed": 0.30, "a_pose": 0.08, "hands_on_hips": 0.10, "right_hand_on_hip": 0.05,
    "left_hand_on_hip": 0.05, "arms_crossed": 0.20, "hands_clasped_front": 0.10,
    "right_arm_out": 0.06, "left_arm_out": 0.06,
}


@dataclass(frozen=True)
class Keyframe:
    time: float
    yaw: float
    head_offset: float
    arm_pose: str
    right_arm: ArmAngles
    left_arm: ArmAngles
    stepping: float          # 0 = standing still, 1 = stepping in place
    lateral: float           # body units, sideways drift
    finger_curl: float


@dataclass(frozen=True)
class MotionScript:
    keyframes: tuple
    step_frequency: float
    step_phase: float


@dataclass(frozen=True)
class ClipRecipe:
    """Everything random about a clip; rendering a frame is a pure function of this and time."""

    seed: int
    person: PersonLook
    garment: GarmentSpec
    background: BackgroundSpec
    framing: Framing
    motion: MotionScript
    config: SyntheticConfig = field(default=DEFAULT_CONFIG, repr=False)


def _scaled_shape(rng: np.random.Generator, config: SyntheticConfig) -> BodyShape:
    base = config.body
    width = rng.uniform(*config.width_scale)
    shoulders = rng.uniform(*config.shoulder_scale)
    hips = rng.uniform(*config.hip_scale)
    limbs = rng.uniform(*config.limb_length_scale)
    head = rng.uniform(*config.head_scale)

    def scale_pair(pair, factor):
        return tuple(v * factor for v in pair)

    # Widen the torso's upper knots with the shoulders and the lower ones with the hips.
    torso_a = tuple(
        a * width * (shoulders if t < 0.45 else hips) for t, a in zip(base.torso_t, base.torso_a)
    )
    return dataclasses.replace(
        base,
        head_radius_x=base.head_radius_x * head,
        head_radius_y=base.head_radius_y * head,
        shoulder_half_width=base.shoulder_half_width * shoulders * (0.5 + 0.5 * width),
        hip_half_width=base.hip_half_width * hips * (0.5 + 0.5 * width),
        upper_arm_length=base.upper_arm_length * limbs,
        forearm_length=base.forearm_length * limbs,
        thigh_length=base.thigh_length * limbs,
        shin_length=base.shin_length * limbs,
        upper_arm_radius=scale_pair(base.upper_arm_radius, width),
        forearm_radius=scale_pair(base.forearm_radius, width),
        thigh_radius=scale_pair(base.thigh_radius, width),
        shin_radius=scale_pair(base.shin_radius, width),
        torso_a=torso_a,
        torso_b=tuple(b * width for b in base.torso_b),
    )


def sample_person(seed: int, config: SyntheticConfig = DEFAULT_CONFIG) -> PersonLook:
    rng = _stream(seed, _STREAM_PERSON)
    shape = _scaled_shape(rng, config)
    first, second = rng.choice(len(SKIN_TONES), size=2)
    skin = SKIN_TONES[first] + (SKIN_TONES[second] - SKIN_TONES[first]) * rng.uniform(0, 0.5)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    hair_style = str(_choose(rng, config.hair_styles))
    hair_length = float(rng.uniform(*config.long_hair_length))
    lower_kind = str(_choose(rng, config.lower_garments))
    lower = LOWER_COLOURS[rng.integers(len(LOWER_COLOURS))] * rng.uniform(0.85, 1.1)
    shoes = SHOE_COLOURS[rng.integers(len(SHOE_COLOURS))]
    return PersonLook(shape, np.clip(skin, 0, 255), np.clip(hair, 0, 255), hair_style,
                      hair_length, lower_kind, np.clip(lower, 0, 255), shoes)


def _fabric_colour(rng: np.random.Generator) -> np.ndarray:
    """A plausible garment colour: many muted and neutral tones, some saturated ones."""
    family = rng.choice(["neutral", "muted", "vivid"], p=[0.3, 0.4, 0.3])
    if family == "neutral":
        grey = rng.choice([0.08, 0.2, 0.45, 0.75, 0.95]) * 255 * rng.uniform(0.9, 1.05)
        tint = _hsv_to_rgb(rng.uniform(0, 1), 0.12, 1.0) / 255.0
        return np.clip(grey * tint, 0, 255).astype(np.float32)
    saturation = rng.uniform(0.2, 0.5) if family == "muted" else rng.uniform(0.55, 0.95)
    value = rng.uniform(0.35, 0.95)
    return _hsv_to_rgb(rng.uniform(0, 1), saturation, value)


def _contrasting_colour(rng: np.random.Generator, colour: np.ndarray) -> np.ndarray:
    for _ in range(8):
        candidate = _fabric_colour(rng)
        if float(np.abs(candidate - colour).sum()) > 160:
            return candidate
    return np.float32(255) - colour


def _wrapped_offsets(tile_size: int):
    """Offsets that repeat a drawing across the tile borders so the tile stays seamless."""
    return [(dx, dy) for dx in (-tile_size, 0, tile_size) for dy in (-tile_size, 0, tile_size)]


def _make_tile(rng: np.random.Generator, kind: str, base: np.ndarray, size: int) -> np.ndarray:
    """A tileable (size, size, 3) float32 texture of the given kind."""
    tile = np.empty((size, size, 3), np.float32)
    tile[:] = base
    if kind == "solid":
        return tile
    accent = _contrasting_colour(rng, base)
    coords = np.arange(size, dtype=np.float32)
    if kind == "stripes":
        widths = rng.uniform(0.2, 0.5)
        band = ((coords / size) % 1.0) < widths
        if rng.uniform() < 0.3:
            third = _contrasting_colour(rng, accent)
            thin = np.abs((coords / size) - 0.75) < 0.04
            tile[thin, :] = third
        tile[band, :] = accent
        if rng.uniform() < 0.25:  # vertical stripes: bands across U instead of V
            tile = np.ascontiguousarray(tile.transpose(1, 0, 2))
        return tile
    if kind == "checks":
        width = rng.uniform(0.3, 0.5)
        band = (((coords / size) % 1.0) < width).astype(np.float32)
        weight = (0.5 * band[:, None] + 0.5 * band[None, :])[..., None]
        return tile * (1 - weight) + accent * weight
    if kind == "dots":
        radius = size * rng.uniform(0.1, 0.2)
        centres = [(size * 0.25, size * 0.25), (size * 0.75, size * 0.75)]
        for cx, cy in centres:
            for dx, dy in _wrapped_offsets(size):
                cv2.circle(tile, (int(round((cx + dx) * 8)), int(round((cy + dy) * 8))),
                           int(round(radius * 8)), accent.tolist(), -1, cv2.LINE_AA, 3)
        return tile
    # "prints": scattered flowers and leaves in two accent colours.
    leaf = _contrasting_colour(rng, accent)
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0, size, 2)
        petal = size * rng.uniform(0.05, 0.09)
        angle0 = rng.uniform(0, 2 * math.pi)
        for dx, dy in _wrapped_offsets(size):
            lx = cx + dx + 2.2 * petal * math.cos(angle0 + 2.0)
            ly = cy + dy + 2.2 * petal * math.sin(angle0 + 2.0)
            cv2.ellipse(tile, (int(lx * 8), int(ly * 8)), (int(petal * 16), int(petal * 6)),
                        math.degrees(angle0), 0, 360, leaf.tolist(), -1, cv2.LINE_AA, 3)
            for k in range(5):
                angle = angle0 + 2 * math.pi * k / 5
                px = cx + dx + petal * math.cos(angle)
                py = cy + dy + petal * math.sin(angle)
                cv2.circle(tile, (int(px * 8), int(py * 8)), int(petal * 8), accent.tolist(), -1,
                           cv2.LINE_AA, 3)
            cv2.circle(tile, (int((cx + dx) * 8), int((cy + dy) * 8)), int(petal * 5),
                       (base * 0.5 + 120).tolist(), -1, cv2.LINE_AA, 3)
    return tile


def _make_graphic(rng: np.random.Generator, base: np.ndarray, size: int = 64) -> np.ndarray:
    """An RGBA chest graphic: a few bold shapes in a colour that contrasts with the garment."""
    colour = _contrasting_colour(rng, base)
    canvas = np.zeros((size, size, 4), np.float32)
    paint = (*colour.tolist(), 1.0)
    shape = rng.choice(["ring", "star", "bars", "heart"])
    centre = (size // 2, size // 2)
    if shape == "ring":
        cv2.circle(canvas, centre, size // 3, paint, size // 9, cv2.LINE_AA)
        cv2.circle(canvas, centre, size // 9, paint, -1, cv2.LINE_AA)
    elif shape == "star":
        points = []
        for k in range(10):
            radius = size * (0.45 if k % 2 == 0 else 0.19)
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((centre[0] + radius * math.cos(angle), centre[1] + radius * math.sin(angle)))
        cv2.fillPoly(canvas, [np.round(np.array(points)).astype(np.int32)], paint, cv2.LINE_AA)
    elif shape == "bars":
        for row in range(3):
            top = size // 6 + row * size // 4
            length = int(size * rng.uniform(0.5, 0.9))
            cv2.rectangle(canvas, ((size - length) // 2, top), ((size + length) // 2, top + size // 8),
                          paint, -1)
    else:
        cv2.circle(canvas, (size // 2 - size // 6, size // 2 - size // 10), size // 5, paint, -1,
                   cv2.LINE_AA)
        cv2.circle(canvas, (size // 2 + size // 6, size // 2 - size // 10), size // 5, paint, -1,
                   cv2.LINE_AA)
        triangle = np.array([[size * 0.14, size * 0.48], [size * 0.86, size * 0.48],
                             [size * 0.5, size * 0.88]])
        cv2.fillPoly(canvas, [np.round(triangle).astype(np.int32)], paint, cv2.LINE_AA)
    return canvas


NECKLINES = {  # depth at the front centre, half width (body units)
    "crew": (0.022, 0.048),
    "v": (0.085, 0.050),
    "scoop": (0.060, 0.066),
    "boat": (0.014, 0.082),
}


def sample_garment(seed: int, config: SyntheticConfig = DEFAULT_CONFIG) -> GarmentSpec:
    rng = _stream(seed, _STREAM_GARMENT)
    garment_type = str(rng.choice(GARMENT_TYPES, p=config.garment_type_probabilities))
    body = config.body
    arm_total = body.upper_arm_length + body.forearm_length
    sleeves = garment_type
    if garment_type == "dress":
        sleeves = {"none": "sleeveless", "short": "short_sleeve", "three_quarter": "three_quarter"}[
            _choose(rng, config.dress_sleeves)]
    if sleeves == "sleeveless":
        sleeve = 0.0
    elif sleeves == "short_sleeve":
        sleeve = body.upper_arm_length * rng.uniform(*config.short_sleeve_fraction)
    elif sleeves == "long_sleeve":
        sleeve = arm_total * rng.uniform(*config.long_sleeve_fraction)
    else:
        sleeve = arm_total * rng.uniform(*config.three_quarter_fraction)
    if garment_type == "dress":
        hem_t = body.torso_t[-1]  # the bodice runs into the skirt
        skirt_length = rng.uniform(*config.dress_skirt_length)
        skirt_flare = rng.uniform(*config.dress_skirt_flare)
    else:
        hem_t = rng.uniform(*config.top_hem_t)
        skirt_length, skirt_flare = 0.0, 0.0
    neckline = str(_choose(rng, config.necklines))
    neck_depth, neck_half_width = NECKLINES[neckline]
    texture_kind = str(rng.choice(TEXTURE_KINDS, p=config.texture_probabilities))
    base = _fabric_colour(rng)
    tile = _make_tile(rng, texture_kind, base, config.texture_tile_pixels)
    period = rng.uniform(*dict(config.texture_periods)[texture_kind])
    graphic = None
    graphic_box = (0.0, 0.0, 0.0)
    wants_graphic = rng.uniform() < config.graphic_probability
    if wants_graphic and texture_kind in ("solid", "stripes") and garment_type != "dress":
        graphic = _make_graphic(rng, base)
        graphic_box = (rng.uniform(-0.01, 0.01), neck_depth + rng.uniform(0.03, 0.05),
                       rng.uniform(0.07, 0.11))
    return GarmentSpec(
        garment_type=garment_type, sleeve_length=float(sleeve), hem_t=float(hem_t),
        skirt_length=float(skirt_length), skirt_flare=float(skirt_flare),
        looseness=float(rng.uniform(*config.looseness)), neckline=neckline, neck_depth=neck_depth,
        neck_half_width=neck_half_width, texture_kind=texture_kind, tile=tile,
        period=float(period), base_colour=base, graphic=graphic, graphic_box=graphic_box,
    )


def sample_background(seed: int, config: SyntheticConfig = DEFAULT_CONFIG) -> BackgroundSpec:
    rng = _stream(seed, _STREAM_BACKGROUND)
    kind = str(_choose(rng, config.background_kinds))
    studio = rng.uniform() < config.studio_background_probability
    if studio:
        colour = np.full(3, rng.uniform(205, 250), np.float32) + rng.uniform(-8, 8, 3).astype(np.float32)
    else:
        colour = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.05, 0.35), rng.uniform(0.55, 0.95))
    second = np.clip(colour * rng.uniform(0.75, 0.95) + rng.uniform(-10, 10, 3), 0, 255)
    return BackgroundSpec(kind, np.clip(colour, 0, 255).astype(np.float32), second.astype(np.float32),
                          float(rng.uniform(0.78, 0.9)), int(rng.integers(1 << 30)),
                          float(rng.uniform(0.05, 0.15)))


def sample_framing(seed: int, config: SyntheticConfig = DEFAULT_CONFIG) -> Framing:
    rng = _stream(seed, _STREAM_FRAMING)
    return Framing(float(rng.uniform(*config.height_fraction)),
                   float(rng.uniform(*config.ground_fraction)),
                   float(0.5 + rng.uniform(-config.centre_jitter, config.centre_jitter)))


def _jitter_arm(rng: np.random.Generator, arm: ArmAngles, degrees: float) -> ArmAngles:
    noise = np.radians(rng.uniform(-degrees, degrees, 4))
    return ArmAngles(*(value + delta for value, delta in zip(dataclasses.astuple(arm), noise)))


def sample_motion(seed: int, duration: float, config: SyntheticConfig = DEFAULT_CONFIG) -> MotionScript:
    """Keyframes covering ``duration`` seconds (plus one beyond), drawn sequentially."""
    rng = _stream(seed, _STREAM_MOTION)
    frequency = float(rng.uniform(*config.step_frequency_hz))
    phase = float(rng.uniform(0, 2 * math.pi))
    if rng.uniform() < config.start_frontal_probability:
        yaw = math.radians(rng.normal(0.0, config.start_yaw_std_deg))
    else:
        yaw = rng.uniform(-math.pi, math.pi)
    direction = 1.0 if rng.uniform() < 0.5 else -1.0
    pose_names = list(ARM_POSE_WEIGHTS)
    pose_weights = np.array([ARM_POSE_WEIGHTS[name] for name in pose_names])
    pose_weights /= pose_weights.sum()
    keyframes = []
    time = 0.0
    while True:
        turning = bool(keyframes) and rng.uniform() < config.turn_probability
        if turning:
            if rng.uniform() > config.turn_direction_keep:
                direction = -direction
            yaw += direction * math.radians(rng.uniform(*config.turn_angle_deg))
        elif keyframes:
            yaw += math.radians(rng.uniform(-1, 1) * config.idle_yaw_jitter_deg)
        name = str(rng.choice(pose_names, p=pose_weights))
        right, left = ARM_POSES[name]
        keyframes.append(Keyframe(
            time=time, yaw=yaw,
            head_offset=math.radians(rng.uniform(-1, 1) * config.head_turn_deg),
            arm_pose=name,
            right_arm=_jitter_arm(rng, right, config.arm_angle_jitter_deg),
            left_arm=_jitter_arm(rng, left, config.arm_angle_jitter_deg),
            stepping=1.0 if turning else float(_choose(rng, config.stepping_levels)),
            lateral=float(rng.uniform(-1, 1) * config.lateral_drift),
            finger_curl=float(rng.uniform(*config.finger_curl)),
        ))
        if time > duration:
            break
        time += float(rng.uniform(*config.keyframe_interval_s))
    return MotionScript(tuple(keyframes), frequency, phase)


def sample_recipe(seed: int, duration: float, config: SyntheticConfig = DEFAULT_CONFIG,
                  garment_seed: int | None = None) -> ClipRecipe:
    garment = sample_garment(seed if garment_seed is None else garment_seed, config)
    return ClipRecipe(seed, sample_person(seed, config), garment, sample_background(seed, config),
                      sample_framing(seed, config), sample_motion(seed, duration, config), config)


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
_FINGER_BASE_ROWS = (1, 5, 9, 13, 17)  # rows of the 21-point hand: CMC / MCP of each finger


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
# Face points counted as visible when their outward normal faces the camera at least this much.
_FACE_FACING_MIN = 0.12
_EAR_FACING_MIN = -0.45
# ... and only while the face as a whole looks at most 90 degrees away from the camera.
_FACE_FORWARD_MIN = 0.0


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
@dataclass
class RenderedFrame:
    image: np.ndarray          # uint8 (H, W, 3)
    cloth_mask: np.ndarray     # uint8 (H, W)
    person_mask: np.ndarray    # uint8 (H, W)
    keypoints: np.ndarray      # float32 (137, 3)
    part_ids: np.ndarray       # uint8 (H, W) which body part is seen at each pixel


def _interp(values_t, knots_t, knots_v):
    return np.interp(values_t, knots_t, knots_v).astype(np.float32)


class _Projector:
    """Body frame -> world (yaw about the pelvis) -> pixels (orthographic, depth in pixels)."""

    def __init__(self, framing: Framing, image_size: int, yaw: float, lateral: float):
        self.scale = framing.height_fraction * image_size
        self.centre_x = framing.centre_fraction * image_size + lateral * self.scale
        self.ground_y = framing.ground_fraction * image_size
        self.cos = math.cos(yaw)
        self.sin = math.sin(yaw)

    def world(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        x = points[..., 0] * self.cos + points[..., 2] * self.sin
        z = -points[..., 0] * self.sin + points[..., 2] * self.cos
        return np.stack([x, points[..., 1], z], axis=-1)

    def screen(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) body-frame points -> (..., 3) [x_px, y_px, depth_px] (depth: larger = nearer)."""
        world = self.world(points)
        return np.stack([
            self.centre_x + world[..., 0] * self.scale,
            self.ground_y - world[..., 1] * self.scale,
            world[..., 2] * self.scale,
        ], axis=-1)


class _Canvas:
    """Z-buffered per-pixel layers of one frame: depth, part id, material, U, V, shading."""

    def __init__(self, size: int, light: tuple):
        self.size = size
        self.depth = np.empty((size, size), np.float32)
        self.part = np.empty((size, size), np.uint8)
        self.material = np.empty((size, size), np.uint8)
        self.tex_u = np.empty((size, size), np.float32)
        self.tex_v = np.empty((size, size), np.float32)
        self.shade = np.empty((size, size), np.float32)
        self.coords = np.arange(size, dtype=np.float32)
        light = np.asarray(light, np.float64)
        self.light = (light / np.linalg.norm(light)).astype(np.float32)

    def reset(self):
        self.bounds = None  # (y0, y1, x0, x1) union of the windows drawn into
        self.depth.fill(-np.inf)
        self.part.fill(PART_NONE)
        self.material.fill(MAT_BACKGROUND)
        self.tex_u.fill(0)
        self.tex_v.fill(0)
        self.shade.fill(1)

    def window(self, x_min, x_max, y_min, y_max):
        """Clipped integer pixel window covering [x_min, x_max] x [y_min, y_max], or None."""
        x0 = max(int(math.floor(x_min)), 0)
        x1 = min(int(math.ceil(x_max)) + 1, self.size)
        y0 = max(int(math.floor(y_min)), 0)
        y1 = min(int(math.ceil(y_max)) + 1, self.size)
        if x0 >= x1 or y0 >= y1:
            return None
        return slice(y0, y1), slice(x0, x1)

    def drawn_window(self, margin: int):
        """Window around everything drawn so far, grown by ``margin`` pixels, or None."""
        if self.bounds is None:
            return None
        y0, y1, x0, x1 = self.bounds
        return (slice(max(y0 - margin, 0), min(y1 + margin, self.size)),
                slice(max(x0 - margin, 0), min(x1 + margin, self.size)))

    def grid(self, window):
        rows, cols = window
        return self.coords[cols][None, :], self.coords[rows][:, None]

    def lambert(self, normal_x, normal_y, normal_z):
        lit = normal_x * self.light[0] + normal_y * self.light[1] + normal_z * self.light[2]
        return np.maximum(lit, 0.0)

    def write(self, window, mask, depth, part, material, shade, tex_u=None, tex_v=None):
        """Z-test ``mask`` pixels of ``window`` against the buffer and store the winners.
        Returns the boolean array of winning pixels."""
        depth_view = self.depth[window]
        wins = mask & (depth > depth_view)
        if not wins.any():
            return wins
        np.copyto(depth_view, depth, where=wins)
        rows, cols = window
        if self.bounds is None:
            self.bounds = (rows.start, rows.stop, cols.start, cols.stop)
        else:
            y0, y1, x0, x1 = self.bounds
            self.bounds = (min(y0, rows.start), max(y1, rows.stop), min(x0, cols.start),
                           max(x1, cols.stop))
        self.part[window][wins] = part
        np.copyto(self.material[window], material, where=wins, casting="unsafe")
        np.copyto(self.shade[window], shade, where=wins)
        if tex_u is not None:
            np.copyto(self.tex_u[window], tex_u, where=wins)
            np.copyto(self.tex_v[window], tex_v, where=wins)
        return wins


@dataclass
class _Capsule:
    window: tuple
    inside: np.ndarray
    along: np.ndarray       # 0..1 along the axis (clamped)
    across: np.ndarray      # -1..1 across the surface (signed)
    depth: np.ndarray
    shade: np.ndarray


def _capsule(canvas: _Canvas, start, end, radius_fn, ambient: float) -> _Capsule | None:
    """Pixels of a tapered capsule from ``start`` to ``end`` ([x, y, depth] in pixels);
    ``radius_fn(along)`` gives the radius in pixels along the axis (numpy in, numpy out)."""
    x0, y0, z0 = (float(v) for v in start)
    x1, y1, z1 = (float(v) for v in end)
    reach = float(np.max(radius_fn(np.array([0.0, 0.5, 1.0], np.float32)))) + 1.0
    window = canvas.window(min(x0, x1) - reach, max(x0, x1) + reach,
                           min(y0, y1) - reach, max(y0, y1) + reach)
    if window is None:
        return None
    grid_x, grid_y = canvas.grid(window)
    dx, dy = x1 - x0, y1 - y0
    length_sq = max(dx * dx + dy * dy, 1e-6)
    rel_x = grid_x - x0
    rel_y = grid_y - y0
    along = np.clip((rel_x * dx + rel_y * dy) / length_sq, 0.0, 1.0)
    off_x = rel_x - along * dx
    off_y = rel_y - along * dy
    distance = np.sqrt(off_x * off_x + off_y * off_y)
    radius = radius_fn(along)
    inside = distance <= radius
    if not inside.any():
        return None
    length = math.sqrt(length_sq)
    cross_sign = np.sign(rel_x * dy - rel_y * dx) if length > 1e-3 else 1.0
    across = np.minimum(distance / np.maximum(radius, 1e-3), 1.0) * cross_sign
    bulge = np.sqrt(np.maximum(1.0 - across * across, 0.0))
    depth = z0 + (z1 - z0) * along + radius * bulge
    # Surface normal: |across| sideways (away from the axis), bulge towards the camera.
    sideways = np.abs(across) / np.maximum(distance, 1e-3)
    shade = ambient + (1.0 - ambient) * canvas.lambert(off_x * sideways, off_y * sideways, bulge)
    return _Capsule(window, inside, along, across, depth.astype(np.float32), shade.astype(np.float32))


@dataclass
class _Section:
    window: tuple
    inside: np.ndarray
    along: np.ndarray       # axis parameter in the profile's units
    angle: np.ndarray       # angle around the body, 0 = front centre, +pi/2 = person's left
    radius: np.ndarray      # mean radius at that height (pixels), for arc lengths
    depth: np.ndarray
    shade: np.ndarray


def _elliptic_section(canvas: _Canvas, top, bottom, knots_t, half_widths, half_depths, yaw: float,
                      ambient: float) -> _Section | None:
    """Pixels of a generalised elliptic cylinder whose axis runs from ``top`` (t = 0) to
    ``bottom`` (t = 1), with half width a(t) and half depth b(t) in pixels given at ``knots_t``
    (which may extend beyond [0, 1]). The body's own yaw sets which side faces the camera."""
    x0, y0, z0 = (float(v) for v in top)
    x1, y1, z1 = (float(v) for v in bottom)
    dx, dy = x1 - x0, y1 - y0
    length = max(math.hypot(dx, dy), 1e-3)
    t_min, t_max = knots_t[0], knots_t[-1]
    reach = max(max(half_widths), max(half_depths)) + 1.0
    ends_x = (x0 + dx * t_min, x0 + dx * t_max)
    ends_y = (y0 + dy * t_min, y0 + dy * t_max)
    window = canvas.window(min(ends_x) - reach, max(ends_x) + reach,
                           min(ends_y) - reach, max(ends_y) + reach)
    if window is None:
        return None
    grid_x, grid_y = canvas.grid(window)
    rel_x = grid_x - x0
    rel_y = grid_y - y0
    along = (rel_x * dx + rel_y * dy) / (length * length)
    lateral = (rel_x * dy - rel_y * dx) / length  # + towards image right for a downward axis
    a = _interp(along, knots_t, half_widths)
    b = _interp(along, knots_t, half_depths)
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    width = np.sqrt((a * cos_yaw) ** 2 + (b * sin_yaw) ** 2)
    inside = (along >= t_min) & (along <= t_max) & (np.abs(lateral) <= width)
    if not inside.any():
        return None
    s = np.clip(lateral / np.maximum(width, 1e-3), -1.0, 1.0)
    delta = np.arctan2(b * sin_yaw, a * cos_yaw)
    arcsin = np.arcsin(s)
    phi_1 = arcsin - delta
    phi_2 = math.pi - arcsin - delta
    depth_1 = -a * np.sin(phi_1) * sin_yaw + b * np.cos(phi_1) * cos_yaw
    depth_2 = -a * np.sin(phi_2) * sin_yaw + b * np.cos(phi_2) * cos_yaw
    front_is_1 = depth_1 >= depth_2
    phi = np.where(front_is_1, phi_1, phi_2)
    surface = np.where(front_is_1, depth_1, depth_2)
    phi = (phi + math.pi) % (2 * math.pi) - math.pi
    axis_depth = z0 + (z1 - z0) * np.clip(along, 0.0, 1.0)
    facing = np.sqrt(np.maximum(1.0 - s * s, 0.0))
    shade = ambient + (1.0 - ambient) * canvas.lambert(s * dy / length, -s * dx / length, facing)
    return _Section(window, inside, along, phi.astype(np.float32), 0.5 * (a + b),
                    (axis_depth + surface).astype(np.float32), shade.astype(np.float32))


def _local_to_screen(centre_screen: np.ndarray, local: np.ndarray, yaw: float, scale: float) -> np.ndarray:
    """Points given relative to ``centre`` in a frame turned by ``yaw`` -> [x_px, y_px, depth_px]."""
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    x = local[:, 0] * cos_yaw + local[:, 2] * sin_yaw
    z = -local[:, 0] * sin_yaw + local[:, 2] * cos_yaw
    return np.stack([
        centre_screen[0] + x * scale,
        centre_screen[1] - local[:, 1] * scale,
        centre_screen[2] + z * scale,
    ], axis=1)


def _facing(normals: np.ndarray, yaw: float) -> np.ndarray:
    """z component (towards the camera) of local unit normals turned by ``yaw``."""
    return -normals[:, 0] * math.sin(yaw) + normals[:, 2] * math.cos(yaw)


# Body joints and the parts that may cover them while they still count as seen (a joint lies
# inside its own limbs; it is hidden only when some other part is in front of it).
_JOINT_OWN_PARTS = {
    "Neck": (PART_TORSO, PART_NECK, PART_HEAD),
    "MidHip": (PART_TORSO, PART_SKIRT, PART_R_THIGH, PART_L_THIGH),
}
for _side in ("R", "L"):
    _upper = PART_R_UPPER_ARM if _side == "R" else PART_L_UPPER_ARM
    _fore = PART_R_FOREARM if _side == "R" else PART_L_FOREARM
    _hand = PART_R_HAND if _side == "R" else PART_L_HAND
    _thigh = PART_R_THIGH if _side == "R" else PART_L_THIGH
    _shin = PART_R_SHIN if _side == "R" else PART_L_SHIN
    _foot = PART_R_FOOT if _side == "R" else PART_L_FOOT
    _JOINT_OWN_PARTS.update({
        f"{_side}Shoulder": (PART_TORSO, _upper, PART_NECK),
        f"{_side}Elbow": (_upper, _fore),
        f"{_side}Wrist": (_fore, _hand),
        f"{_side}Hip": (PART_TORSO, PART_SKIRT, _thigh),
        f"{_side}Knee": (_thigh, _shin, PART_SKIRT),
        f"{_side}Ankle": (_shin, _foot, PART_SKIRT),
        f"{_side}Heel": (_foot, _shin),
        f"{_side}BigToe": (_foot,),
        f"{_side}SmallToe": (_foot,),
    })
_JOINT_NAMES = tuple(_JOINT_OWN_PARTS)
_JOINT_ROWS = np.array([BODY[name] for name in _JOINT_NAMES])
_NUM_PARTS = PART_L_FOOT + 1


def _allowed_table(part_sets) -> np.ndarray:
    table = np.zeros((len(part_sets), _NUM_PARTS), bool)
    for row, parts in enumerate(part_sets):
        table[row, list(parts)] = True
    return table


_JOINT_ALLOWED = _allowed_table([_JOINT_OWN_PARTS[name] for name in _JOINT_NAMES])
_FACE_ALLOWED = _allowed_table([(PART_HEAD,)] * NUM_FACE)
_EAR_ALLOWED = _allowed_table([(PART_HEAD, PART_HAIR_BACK)] * 2)
_PATCH_DY, _PATCH_DX = (offsets.ravel() for offsets in np.mgrid[-1:2, -1:2])
_OCCLUDED_BODY_CONFIDENCE = 0.4
_CROSS_KERNEL = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_PARTIAL_HAND_CONFIDENCE = 0.3


class FrameRenderer:
    """Renders frames of one recipe at one image size (buffers are reused between frames)."""

    def __init__(self, recipe: ClipRecipe, image_size: int):
        self.recipe = recipe
        self.size = image_size
        self.config = recipe.config
        self.canvas = _Canvas(image_size, self.config.light_direction)
        self.background = render_background(recipe.background, recipe.framing, image_size)
        self.pixels_per_unit = recipe.framing.height_fraction * image_size
        self.texture = GarmentTexture(recipe.garment, self.pixels_per_unit)
        person = recipe.person
        self.colours = np.zeros((_NUM_MATERIALS, 3), np.float32)
        self.colours[MAT_SKIN] = person.skin
        self.colours[MAT_GARMENT] = recipe.garment.base_colour
        self.colours[MAT_LOWER] = person.lower_colour
        self.colours[MAT_SHOE] = person.shoe_colour
        self.colours[MAT_HAIR] = person.hair
        # A dress replaces the person's own lower garment: legs are bare below its hem.
        self.lower_kind = "none" if recipe.garment.garment_type == "dress" else person.lower_kind
        if recipe.garment.garment_type == "dress":
            self.skirt_length = recipe.garment.skirt_length
        elif person.lower_kind == "skirt":
            self.skirt_length = self.config.lower_skirt_length
        else:
            self.skirt_length = 0.0

    def render_time(self, time: float, draw_arms: bool = True) -> RenderedFrame:
        return self.render(pose_at(self.recipe.motion, time, self.config), draw_arms)

    def render(self, pose: BodyPose, draw_arms: bool = True) -> RenderedFrame:
        """Draw one frame. ``draw_arms=False`` leaves arms and hands out (the unoccluded garment
        silhouette, used to check occlusion)."""
        canvas = self.canvas
        canvas.reset()
        shape = self.recipe.person.shape
        skeleton = build_skeleton(shape, pose, self.skirt_length)
        projector = _Projector(self.recipe.framing, self.size, pose.yaw, pose.lateral)
        names = list(skeleton.joints)
        screen = dict(zip(names, projector.screen(np.array([skeleton.joints[n] for n in names]))))
        hands = {
            side: projector.screen(hand_points_3d(
                skeleton.joints[f"{side}Wrist"], skeleton.forearm_direction[side],
                skeleton.thumb_direction[side], shape.hand_length, pose.finger_curl))
            for side, _ in SIDES
        }
        self._draw_torso(screen, projector, pose.yaw)
        top_hem_y = None
        if self.lower_kind != "none":  # a top over trousers, shorts or a skirt
            hem_t = self.recipe.garment.hem_t
            top_hem_y = float(screen["Neck"][1] + hem_t * (screen["MidHip"][1] - screen["Neck"][1]))
        hem_y = None
        if skeleton.hem_centre is not None:
            hem_y = float(projector.screen(skeleton.hem_centre)[1])
            self._draw_skirt(skeleton, projector, pose.yaw, top_hem_y)
        self._draw_legs(screen, projector, hem_y, top_hem_y)
        self._draw_neck(screen, projector)
        self._draw_head(screen["HeadCentre"], projector.scale, pose.head_yaw)
        if self.recipe.person.hair_style == "long":
            self._draw_long_hair(screen["HeadCentre"], projector.scale, pose.yaw)
        hand_visibility = {"R": 0.0, "L": 0.0}
        if draw_arms:
            self._draw_arms(screen, projector.scale)
            for side, _ in SIDES:
                hand_visibility[side] = self._draw_hand(hands[side], projector.scale, side)
        face, face_facing = self._face_points(screen["HeadCentre"], projector.scale, pose.head_yaw)
        image = self._compose()
        keypoints = self._keypoints(screen, hands, hand_visibility, face, face_facing,
                                    projector.scale, pose.head_yaw)
        self._draw_face_features(image, face, keypoints[FACE_START:FACE_START + NUM_FACE, 2] > 0.5,
                                 projector.scale)
        sigma = self.config.blur_sigma
        if sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        material = canvas.material
        return RenderedFrame(
            image=np.clip(image, 0, 255).astype(np.uint8),
            cloth_mask=(material == MAT_GARMENT).astype(np.uint8),
            person_mask=(material != MAT_BACKGROUND).astype(np.uint8),
            keypoints=keypoints,
            part_ids=canvas.part.copy(),
        )

    # -- torso and skirt -----------------------------------------------------------------------
    def _torso_knots(self, scale: float):
        """Torso profile in pixels, widened by the garment's looseness below the chest."""
        shape = self.recipe.person.shape
        garment = self.recipe.garment
        t = np.asarray(shape.torso_t)
        covered = t <= garment.hem_t + 0.02
        loose = garment.looseness * np.clip((t - 0.25) / 0.4, 0.0, 1.0) * covered
        half_widths = (np.asarray(shape.torso_a) + loose) * scale
        half_depths = (np.asarray(shape.torso_b) + 0.6 * loose) * scale
        return t.tolist(), half_widths.tolist(), half_depths.tolist()

    def _draw_torso(self, screen, projector: _Projector, yaw: float):
        canvas = self.canvas
        shape = self.recipe.person.shape
        garment = self.recipe.garment
        knots_t, half_widths, half_depths = self._torso_knots(projector.scale)
        section = _elliptic_section(canvas, screen["Neck"], screen["MidHip"], knots_t, half_widths,
                                    half_depths, yaw, self.config.ambient_light)
        if section is None:
            return
        tex_v = (section.along * shape.torso_length).astype(np.float32)
        radius_units = section.radius / projector.scale
        tex_u = (section.angle * radius_units).astype(np.float32)
        from_back = (math.pi - np.abs(section.angle)) * radius_units
        neckline = neckline_depth(garment, np.abs(tex_u), from_back)
        material = np.full(section.inside.shape, MAT_GARMENT, np.uint8)
        if garment.garment_type != "dress":
            material[section.along > garment.hem_t] = MAT_LOWER
        material[tex_v < neckline] = MAT_SKIN
        canvas.write(section.window, section.inside, section.depth, PART_TORSO, material,
                     section.shade, tex_u, tex_v)

    def _draw_skirt(self, skeleton: Skeleton3D, projector: _Projector, yaw: float, top_hem_y):
        """A dress's skirt, or a skirt worn under a top (which then hangs over it down to
        ``top_hem_y``)."""
        canvas = self.canvas
        shape = self.recipe.person.shape
        garment = self.recipe.garment
        joints = skeleton.joints
        waist = joints["MidHip"] + np.array([0.0, 0.38 * shape.torso_length, 0.0])
        hem = skeleton.hem_centre
        length = float(np.linalg.norm(hem - waist))
        knee_half_spread = 0.5 * abs(joints["LKnee"][0] - joints["RKnee"][0])
        knee_half_depth = 0.5 * abs(joints["LKnee"][2] - joints["RKnee"][2])
        knee_radius = shape.thigh_radius[1]
        is_dress = garment.garment_type == "dress"
        flare = garment.skirt_flare if is_dress else 0.03
        waist_a = float(np.interp(0.62, shape.torso_t, shape.torso_a)) + 0.004
        waist_b = float(np.interp(0.62, shape.torso_t, shape.torso_b)) + 0.004
        hip_a = float(np.interp(0.95, shape.torso_t, shape.torso_a)) + 0.012
        hip_b = float(np.interp(0.95, shape.torso_t, shape.torso_b)) + 0.008
        hem_a = max(hip_a + flare, knee_half_spread + knee_radius + 0.02)
        hem_b = max(hip_b + 0.5 * flare, knee_half_depth + knee_radius + 0.02)
        hip_t = min(0.5, 0.12 / max(length, 1e-3))
        scale = projector.scale
        section = _elliptic_section(
            canvas, projector.screen(waist), projector.screen(hem), [0.0, hip_t, 1.0],
            [waist_a * scale, hip_a * scale, hem_a * scale],
            [waist_b * scale, hip_b * scale, hem_b * scale], yaw, self.config.ambient_light)
        if section is None:
            return
        tex_v = (0.62 * shape.torso_length + section.along * length).astype(np.float32)
        tex_u = (section.angle * section.radius / scale).astype(np.float32)
        # Soft vertical folds that turn with the body, deeper towards the hem.
        folds = 1.0 - 0.12 * np.clip(section.along, 0, 1) * (0.5 + 0.5 * np.cos(section.angle * 8.0))
        material = MAT_GARMENT if is_dress else MAT_LOWER
        # The skirt hangs outside the thighs: a small lift towards the camera keeps it in front
        # of them where the legs swing inside it.
        inside = section.inside
        if top_hem_y is not None:
            _, grid_y = canvas.grid(section.window)
            under_top = (canvas.part[section.window] == PART_TORSO) & (
                canvas.material[section.window] == MAT_GARMENT) & (grid_y < top_hem_y + 1.0)
            inside = inside & ~under_top
        canvas.write(section.window, inside, section.depth + np.float32(0.02 * scale),
                     PART_SKIRT, material, (section.shade * folds).astype(np.float32), tex_u, tex_v)

    # -- limbs ---------------------------------------------------------------------------------
    def _draw_legs(self, screen, projector: _Projector, hem_y, top_hem_y):
        """Thighs, shins and shoes. Legs show only below a skirt's hem (``hem_y``), and never
        cover the top's fabric above its hem (``top_hem_y``): the top hangs over the trousers."""
        canvas = self.canvas
        person = self.recipe.person
        shape = person.shape
        scale = projector.scale
        ambient = self.config.ambient_light
        leg_length = shape.thigh_length + shape.shin_length
        covered_until = {"trousers": leg_length, "shorts": 0.45 * shape.thigh_length}.get(
            self.lower_kind, 0.0)
        loose = 0.008 if self.lower_kind == "trousers" else 0.012
        for side, _ in SIDES:
            segments = (
                (PART_R_THIGH if side == "R" else PART_L_THIGH, f"{side}Hip", f"{side}Knee",
                 shape.thigh_radius, 0.0, shape.thigh_length),
                (PART_R_SHIN if side == "R" else PART_L_SHIN, f"{side}Knee", f"{side}Ankle",
                 shape.shin_radius, shape.thigh_length, shape.shin_length),
            )
            for part, start_name, end_name, radii, offset, length in segments:
                def radius_fn(along, r0=radii[0], r1=radii[1], offset=offset, length=length):
                    covered = (offset + along * length) < covered_until
                    return (r0 + (r1 - r0) * along + loose * covered) * scale

                capsule = _capsule(canvas, screen[start_name], screen[end_name], radius_fn, ambient)
                if capsule is None:
                    continue
                inside = capsule.inside
                _, grid_y = canvas.grid(capsule.window)
                if hem_y is not None:
                    inside = inside & (grid_y > hem_y - 1.0)
                if top_hem_y is not None:
                    under_top = (canvas.part[capsule.window] == PART_TORSO) & (
                        canvas.material[capsule.window] == MAT_GARMENT) & (grid_y < top_hem_y + 1.0)
                    inside = inside & ~under_top
                covered = (offset + capsule.along * length) < covered_until
                material = np.where(covered, MAT_LOWER, MAT_SKIN).astype(np.uint8)
                canvas.write(capsule.window, inside, capsule.depth, part, material, capsule.shade)
            heel = screen[f"{side}Heel"]
            toe = 0.5 * (screen[f"{side}BigToe"] + screen[f"{side}SmallToe"])
            foot_radius = shape.foot_radius * scale
            capsule = _capsule(canvas, heel + np.array([0.0, -0.5 * foot_radius, 0.0]), toe,
                               lambda along, r=foot_radius: r * (1.0 - 0.35 * along), ambient)
            if capsule is not None:
                canvas.write(capsule.window, capsule.inside, capsule.depth,
                             PART_R_FOOT if side == "R" else PART_L_FOOT, MAT_SHOE, capsule.shade)

    def _draw_arms(self, screen, scale: float):
        canvas = self.canvas
        shape = self.recipe.person.shape
        garment = self.recipe.garment
        ambient = self.config.ambient_light
        sleeve_loose = sleeve_ease(garment)
        for side, _ in SIDES:
            segments = (
                (PART_R_UPPER_ARM if side == "R" else PART_L_UPPER_ARM, f"{side}Shoulder",
                 f"{side}Elbow", shape.upper_arm_radius, 0.0, shape.upper_arm_length),
                (PART_R_FOREARM if side == "R" else PART_L_FOREARM, f"{side}Elbow", f"{side}Wrist",
                 shape.forearm_radius, shape.upper_arm_length, shape.forearm_length),
            )
            for part, start_name, end_name, radii, offset, length in segments:
                def radius_fn(along, r0=radii[0], r1=radii[1], offset=offset, length=length):
                    position = offset + along * length
                    covered = position < garment.sleeve_length
                    # Sleeves fit at the shoulder seam and widen down the arm.
                    ease = np.clip(position / 0.06, 0.0, 1.0)
                    return (r0 + (r1 - r0) * along + sleeve_loose * ease * covered) * scale

                capsule = _capsule(canvas, screen[start_name], screen[end_name], radius_fn, ambient)
                if capsule is None:
                    continue
                tex_v = (offset + capsule.along * length).astype(np.float32)
                mean_radius = 0.5 * (radii[0] + radii[1]) + sleeve_loose
                tex_u = (np.arcsin(capsule.across) * mean_radius).astype(np.float32)
                material = np.where(tex_v < garment.sleeve_length, MAT_GARMENT, MAT_SKIN)
                canvas.write(capsule.window, capsule.inside, capsule.depth, part,
                             material.astype(np.uint8), capsule.shade, tex_u, tex_v)

    def _draw_hand(self, hand: np.ndarray, scale: float, side: str) -> float:
        """Palm polygon and finger strokes at the hand's mean depth; returns the fraction of the
        drawn hand that won the depth test (how visible the hand is)."""
        canvas = self.canvas
        finger_width = max(1.0, 0.016 * scale)
        xs, ys = hand[:, 0], hand[:, 1]
        window = canvas.window(xs.min() - finger_width, xs.max() + finger_width,
                               ys.min() - finger_width, ys.max() + finger_width)
        if window is None:
            return 0.0
        rows, cols = window
        origin = np.array([cols.start, rows.start], np.float64)
        mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.uint8)
        thumb_side = hand[5, :2] - hand[17, :2]
        thumb_side = thumb_side / max(float(np.linalg.norm(thumb_side)), 1e-3)
        wrist_half = thumb_side * 0.022 * scale
        palm = np.array([hand[0, :2] + wrist_half, hand[1, :2], hand[5, :2], hand[9, :2],
                         hand[13, :2], hand[17, :2], hand[0, :2] - wrist_half])
        hull = cv2.convexHull(np.round((palm - origin) * 8.0).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, 3)
        local = np.round((hand[:, :2] - origin) * 8.0).astype(np.int32)
        thickness = max(1, int(round(finger_width)))
        for base in _FINGER_BASE_ROWS:
            chain = list(range(base, base + 4)) if base != 1 else [0, 1, 2, 3, 4]
            cv2.polylines(mask, [local[chain]], False, 1, thickness, cv2.LINE_8, 3)
        drawn = mask.astype(bool)
        depth = np.float32(hand[:, 2].mean() + 0.012 * scale)
        part = PART_R_HAND if side == "R" else PART_L_HAND
        wins = canvas.write(window, drawn, depth, part, MAT_SKIN, np.float32(0.9))
        total = int(drawn.sum())
        return float(wins.sum()) / total if total else 0.0

    # -- neck, head, hair ----------------------------------------------------------------------
    def _draw_neck(self, screen, projector: _Projector):
        shape = self.recipe.person.shape
        scale = projector.scale
        top = screen["HeadCentre"] + np.array([0.0, 0.35 * shape.head_radius_y * scale, -0.01 * scale])
        bottom = screen["Neck"] + np.array([0.0, 0.01 * scale, -0.012 * scale])
        radius = shape.neck_radius * scale
        capsule = _capsule(self.canvas, bottom, top, lambda along: np.full_like(along, radius),
                           self.config.ambient_light)
        if capsule is not None:
            # The neck sits in the head's shadow.
            self.canvas.write(capsule.window, capsule.inside, capsule.depth, PART_NECK, MAT_SKIN,
                              capsule.shade * np.float32(0.88))

    def _draw_head(self, centre, scale: float, head_yaw: float):
        """Ellipsoidal head; each pixel's head-local normal decides hair or skin, so the face
        turns away and the back of the head shows hair as the person turns."""
        canvas = self.canvas
        person = self.recipe.person
        shape = person.shape
        volume = {"short": 1.06, "bob": 1.14, "long": 1.10}[person.hair_style]
        radius_x = shape.head_radius_x * scale * volume
        radius_y = shape.head_radius_y * scale * (1.0 + 0.4 * (volume - 1.0))
        cx, cy, cz = (float(v) for v in centre)
        window = canvas.window(cx - radius_x, cx + radius_x, cy - radius_y, cy + radius_y)
        if window is None:
            return
        grid_x, grid_y = canvas.grid(window)
        nx = (grid_x - cx) / radius_x
        ny = (grid_y - cy) / radius_y
        radial = 1.0 - nx * nx - ny * ny
        inside = radial >= 0
        if not inside.any():
            return
        nz = np.sqrt(np.maximum(radial, 0.0))
        cos_h, sin_h = math.cos(head_yaw), math.sin(head_yaw)
        local_x = nx * cos_h - nz * sin_h
        local_z = nx * sin_h + nz * cos_h
        is_hair = self._hair_region(local_x, -ny, local_z)
        material = np.where(is_hair, MAT_HAIR, MAT_SKIN).astype(np.uint8)
        depth = (cz + radius_x * nz).astype(np.float32)
        ambient = self.config.ambient_light
        shade = (ambient + (1 - ambient) * canvas.lambert(nx, ny, nz)).astype(np.float32)
        canvas.write(window, inside, depth, PART_HEAD, material, shade)

    def _hair_region(self, local_x, local_up, local_z):
        style = self.recipe.person.hair_style
        hairline = 0.40 if style != "bob" else 0.26
        top = local_up > hairline - 0.3 * np.abs(local_x)
        back = (local_z < -0.2) & (local_up > -0.55)
        temples = (local_z < 0.3) & (local_up > 0.05)
        hair = top | back | temples
        if style in ("bob", "long"):
            hair |= (local_z < 0.4) & (local_up > -0.8)
        return hair

    def _draw_long_hair(self, head_centre, scale: float, body_yaw: float):
        """Long hair: a rounded sheet hanging from the back of the head over the upper back."""
        person = self.recipe.person
        shape = person.shape
        half = 0.92 * shape.head_radius_x
        back = -(float(np.interp(0.1, shape.torso_t, shape.torso_b)) + 0.02)
        bottom = person.hair_length
        round_height = min(0.6 * half, 0.5 * bottom)
        outline = [(-half, 0.0), (half, 0.0), (half, -(bottom - round_height))]
        for k in range(1, 8):  # rounded ends of the hair
            angle = math.pi * k / 8
            outline.append((half * math.cos(angle), -(bottom - round_height) - round_height * math.sin(angle)))
        outline.append((-half, -(bottom - round_height)))
        local = np.array([(x, y, back) for x, y in outline])
        corners = _local_to_screen(head_centre, local, body_yaw, scale)
        canvas = self.canvas
        xs, ys = corners[:, 0], corners[:, 1]
        pad = 0.02 * scale + 2
        window = canvas.window(xs.min() - pad, xs.max() + pad, ys.min() - pad, ys.max() + pad)
        if window is None:
            return
        rows, cols = window
        origin = np.array([cols.start, rows.start])
        mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.uint8)
        hull = cv2.convexHull(np.round((corners[:, :2] - origin) * 8).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, 3)
        # A stroke around the outline gives the sheet thickness, so it does not vanish edge-on.
        cv2.polylines(mask, [hull], True, 1, max(1, int(round(0.03 * scale))), cv2.LINE_8, 3)
        depth = np.float32(corners[:, 2].mean())
        canvas.write(window, mask.astype(bool), depth, PART_HAIR_BACK, MAT_HAIR, np.float32(0.75))

    # -- composition ---------------------------------------------------------------------------
    def _compose(self) -> np.ndarray:
        """Colour the drawn pixels (materials, fabric, shading) over the background. Work is
        limited to the person's bounding box."""
        canvas = self.canvas
        image = self.background.copy()
        window = canvas.drawn_window(margin=3)
        if window is None:
            return image
        material = canvas.material[window]
        part = canvas.part[window]
        view = image[window]
        colours = self.colours[material]
        garment = material == MAT_GARMENT
        if garment.any():
            rows = np.flatnonzero(garment.any(axis=1))
            cols = np.flatnonzero(garment.any(axis=0))
            inner = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            colour = self.texture.sample(canvas.tex_u[window][inner], canvas.tex_v[window][inner],
                                         part[inner] != PART_TORSO)
            np.copyto(colours[inner], colour, where=garment[inner][..., None])
        colours *= canvas.shade[window][..., None]
        np.copyto(view, colours, where=(material != MAT_BACKGROUND)[..., None])
        self._darken_occlusion_edges(view, part, canvas.depth[window])
        self._smooth_silhouettes(view, part)
        return image

    def _smooth_silhouettes(self, image: np.ndarray, part: np.ndarray):
        """Anti-aliasing where parts meet: pixels next to a change of part id take a blurred
        value (the per-pixel rasterisation has hard, stair-stepped edges)."""
        boundary = np.zeros(part.shape, np.uint8)
        boundary[1:] |= part[1:] != part[:-1]
        boundary[:, 1:] |= part[:, 1:] != part[:, :-1]
        boundary = cv2.dilate(boundary, _CROSS_KERNEL).astype(bool)
        softened = cv2.GaussianBlur(image, (0, 0), self.config.edge_smoothing_sigma)
        np.copyto(image, softened, where=boundary[..., None])

    def _darken_occlusion_edges(self, image: np.ndarray, part: np.ndarray, depth: np.ndarray):
        """A thin dark line where a nearer part covers a farther one (a contact shadow): arms
        in front of the torso read clearly, as in real footage."""
        threshold = 0.025 * self.pixels_per_unit
        edge = np.zeros(depth.shape, bool)
        for axis in (0, 1):
            first = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
            second = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
            boundary = (part[first] != part[second]) & (part[first] > 0) & (part[second] > 0)
            with np.errstate(invalid="ignore"):  # -inf - -inf where neither pixel is drawn
                gap = depth[second] - depth[first]
            edge[second] |= boundary & (gap < -threshold)
            edge[first] |= boundary & (gap > threshold)
        image[edge] *= np.float32(1.0 - self.config.occlusion_edge_darkening)

    # -- face and keypoints --------------------------------------------------------------------
    def _face_points(self, head_centre, scale: float, head_yaw: float):
        shape = self.recipe.person.shape
        local = np.stack([FACE_TEMPLATE[:, 0] * shape.head_radius_x,
                          -FACE_TEMPLATE[:, 1] * shape.head_radius_y,
                          FACE_TEMPLATE[:, 2] * shape.head_radius_x], axis=1)
        points = _local_to_screen(head_centre, local, head_yaw, scale)
        normals = FACE_TEMPLATE / np.linalg.norm(FACE_TEMPLATE, axis=1, keepdims=True)
        return points, _facing(normals, head_yaw)

    def _seen(self, points: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """For each (x, y) in ``points``: is a part allowed for it (``allowed`` is a
        (N, number of parts) boolean table) drawn within a pixel of it, inside the image?"""
        columns = np.round(points[:, 0]).astype(np.int64)
        rows = np.round(points[:, 1]).astype(np.int64)
        inside = (columns >= 0) & (columns < self.size) & (rows >= 0) & (rows < self.size)
        patch_rows = np.clip(rows[:, None] + _PATCH_DY[None, :], 0, self.size - 1)
        patch_cols = np.clip(columns[:, None] + _PATCH_DX[None, :], 0, self.size - 1)
        parts = self.canvas.part[patch_rows, patch_cols]
        hits = np.take_along_axis(allowed, parts.astype(np.int64), axis=1).any(axis=1)
        return hits & inside

    def _inside(self, points: np.ndarray) -> np.ndarray:
        return ((points[:, 0] >= 0) & (points[:, 0] < self.size)
                & (points[:, 1] >= 0) & (points[:, 1] < self.size))

    def _keypoints(self, screen, hands, hand_visibility, face, face_facing, scale, head_yaw):
        keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)
        joints = np.array([screen[name][:2] for name in _JOINT_NAMES])
        seen = self._seen(joints, _JOINT_ALLOWED)
        confidence = np.where(seen, 1.0, _OCCLUDED_BODY_CONFIDENCE) * self._inside(joints)
        keypoints[_JOINT_ROWS, :2] = joints
        keypoints[_JOINT_ROWS, 2] = confidence
        # Face: seen when the face is turned towards the camera (no face from behind, as for a
        # face detector), the point itself faces the camera and nothing covers it (e.g. a hand).
        face_forward = math.cos(head_yaw) >= _FACE_FORWARD_MIN
        face_seen = face_forward & (face_facing > _FACE_FACING_MIN) & self._seen(face[:, :2], _FACE_ALLOWED)
        keypoints[FACE_START:FACE_START + NUM_FACE, :2] = face[:, :2]
        keypoints[FACE_START:FACE_START + NUM_FACE, 2] = face_seen
        for body_name, face_index in (("Nose", 30), ("REye", 68), ("LEye", 69)):
            keypoints[BODY[body_name]] = keypoints[FACE_START + face_index]
        shape = self.recipe.person.shape
        ears_local = np.array([(-shape.head_radius_x, 0.0, -0.1 * shape.head_radius_x),
                               (shape.head_radius_x, 0.0, -0.1 * shape.head_radius_x)])
        ears = _local_to_screen(screen["HeadCentre"], ears_local, head_yaw, scale)[:, :2]
        ear_facing = _facing(np.array([(-1.0, 0.0, -0.1), (1.0, 0.0, -0.1)]), head_yaw)
        ear_seen = (ear_facing > _EAR_FACING_MIN) & self._seen(ears, _EAR_ALLOWED)
        for ear, name in enumerate(("REar", "LEar")):
            keypoints[BODY[name]] = (ears[ear, 0], ears[ear, 1], float(ear_seen[ear]))
        for side, start in (("R", RIGHT_HAND_START), ("L", LEFT_HAND_START)):
            fraction = hand_visibility[side]
            if fraction >= 0.5:
                confidence = 1.0
            elif fraction >= 0.2:
                confidence = _PARTIAL_HAND_CONFIDENCE
            else:
                confidence = 0.0
            points = hands[side][:, :2]
            keypoints[start:start + NUM_HAND, :2] = points
            keypoints[start:start + NUM_HAND, 2] = confidence * self._inside(points)
        return keypoints

    def _draw_face_features(self, image: np.ndarray, face: np.ndarray, visible: np.ndarray, scale: float):
        """Eyes, brows, nose and lips at the landmarks, only where all of a feature's landmarks
        are seen (so the drawn face always agrees with the keypoints)."""
        skin = self.recipe.person.skin
        hair = self.recipe.person.hair
        points = np.round(face[:, :2] * 8.0).astype(np.int32)
        thin = 1

        def all_visible(rows):
            return bool(visible[list(rows)].all())

        lips = (0.55 * skin + 0.45 * LIP_TINT).tolist()
        if all_visible(range(48, 60)):
            cv2.fillPoly(image, [points[48:60]], lips, cv2.LINE_AA, 3)
            cv2.polylines(image, [points[60:68]], True, (0.45 * skin).tolist(), thin, cv2.LINE_AA, 3)
        if all_visible(range(31, 36)):
            cv2.polylines(image, [points[31:36]], False, (0.72 * skin).tolist(), thin, cv2.LINE_AA, 3)
        pupil_radius = max(0.5, 0.009 * scale)
        for eye_rows, pupil in ((range(36, 42), 68), (range(42, 48), 69)):
            if all_visible(eye_rows) and visible[pupil]:
                cv2.fillPoly(image, [points[list(eye_rows)]], (236, 232, 228), cv2.LINE_AA, 3)
                cv2.circle(image, tuple(points[pupil]), int(round(pupil_radius * 8)), (40, 28, 24),
                           -1, cv2.LINE_AA, 3)
        brow = (0.7 * hair).tolist()
        for brow_rows in (range(17, 22), range(22, 27)):
            if all_visible(brow_rows):
                cv2.polylines(image, [points[list(brow_rows)]], False, brow, thin, cv2.LINE_AA, 3)


def sleeve_ease(garment: GarmentSpec) -> float:
    """How much wider than the arm a sleeve is (body units): a little ease, plus the
    garment's own looseness."""
    return 0.004 + 0.6 * garment.looseness


def neckline_depth(garment: GarmentSpec, from_front: np.ndarray, from_back: np.ndarray) -> np.ndarray:
    """Depth below the shoulder line where the garment starts, given the arc distance (body
    units) of a point from the front and from the back centre line. Outside the neck opening the
    garment reaches up to the collar line."""
    collar = -0.035
    half_width = garment.neck_half_width
    front = np.clip(1.0 - from_front / half_width, 0.0, 1.0)
    if garment.neckline != "v":
        front = np.sqrt(front * (2.0 - front))  # a round opening instead of a V
    back = np.clip(1.0 - from_back / half_width, 0.0, 1.0)
    back = np.sqrt(back * (2.0 - back))
    depth = collar + (garment.neck_depth - collar) * front + (0.012 - collar) * back
    return depth.astype(np.float32)


class GarmentTexture:
    """Samples a garment's fabric at body coordinates (U, V), at a tile resolution matched to
    the image scale so fine stripes do not alias."""

    def __init__(self, spec: GarmentSpec, pixels_per_unit: float):
        self.spec = spec
        period_pixels = spec.period * pixels_per_unit
        tile_pixels = int(np.clip(round(2.0 * period_pixels), 4, spec.tile.shape[0]))
        if tile_pixels == spec.tile.shape[0]:
            self.tile = spec.tile
        else:
            self.tile = cv2.resize(spec.tile, (tile_pixels, tile_pixels), interpolation=cv2.INTER_AREA)
        self.tile_pixels = tile_pixels

    def sample(self, tex_u: np.ndarray, tex_v: np.ndarray, no_graphic: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 3) float32 colours; ``no_graphic`` marks pixels where the chest graphic must not
        appear (sleeves, skirt)."""
        spec = self.spec
        size = self.tile_pixels
        map_x = (np.mod(tex_u / spec.period, 1.0) * size).astype(np.float32)
        map_y = (np.mod(tex_v / spec.period, 1.0) * size).astype(np.float32)
        colour = cv2.remap(self.tile, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        if spec.graphic is not None:
            u_centre, v_top, extent = spec.graphic_box
            grid = spec.graphic.shape[0]
            gx = ((tex_u - u_centre) / extent + 0.5) * grid
            gy = (tex_v - v_top) / extent * grid
            decal = cv2.remap(spec.graphic, gx.astype(np.float32), gy.astype(np.float32),
                              cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            alpha = decal[..., 3:4]
            if no_graphic is not None:
                alpha = alpha * (~no_graphic)[..., None]
            colour = colour * (1.0 - alpha) + decal[..., :3] * alpha
        return colour.astype(np.float32)


def render_background(spec: BackgroundSpec, framing: Framing, image_size: int) -> np.ndarray:
    """Studio background (float32 RGB) with a soft contact shadow under the feet."""
    size = image_size
    rows = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    if spec.kind == "gradient":
        image = spec.colour + (spec.second_colour - spec.colour) * rows ** 1.5
        image = np.broadcast_to(image, (size, size, 3)).copy()
    elif spec.kind == "wall_floor":
        floor = np.clip((rows - spec.floor_fraction) / 0.01, 0.0, 1.0)
        image = spec.colour + (spec.second_colour - spec.colour) * floor
        image = np.broadcast_to(image, (size, size, 3)).copy()
    else:
        image = np.broadcast_to(spec.colour, (size, size, 3)).astype(np.float32).copy()
    if spec.kind == "textured":
        # Faint wallpaper: blurred noise at a fixed resolution, scaled to the image (so the
        # background looks the same at any size).
        rng = np.random.default_rng(spec.texture_seed)
        cells = max(4, int(round(1.0 / spec.texture_period)))
        noise = rng.normal(0.0, 1.0, (cells, cells)).astype(np.float32)
        noise = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
        noise = cv2.GaussianBlur(noise, (0, 0), size / cells / 2)
        stripes = np.sin(np.linspace(0, 2 * math.pi * cells, size, dtype=np.float32))[None, :]
        pattern = 0.6 * noise + 0.4 * stripes
        image += (spec.second_colour - spec.colour) * 0.12 * pattern[..., None]
    shadow = np.zeros((size, size), np.float32)
    height = framing.height_fraction * size
    centre = (int(round(framing.centre_fraction * size * 8)), int(round(framing.ground_fraction * size * 8)))
    axes = (int(round(0.14 * height * 8)), int(round(0.02 * height * 8)))
    cv2.ellipse(shadow, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA, 3)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(1.0, 0.012 * height))
    image *= (1.0 - 0.25 * shadow)[..., None]
    return np.clip(image, 0, 255).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# The flat in-shop garment image C
# ----------------------------------------------------------------------------------------------
def _flat_sleeve_geometry(spec: GarmentSpec, shape: BodyShape, shoulder_tip, armpit):
    """Quad of a sleeve laid flat from the shoulder seam, with its axis start and direction."""
    shoulder_tip = np.asarray(shoulder_tip, np.float64)
    armpit = np.asarray(armpit, np.float64)
    start = 0.5 * (shoulder_tip + armpit)
    # Short sleeves stick out, long ones hang closer to the body as in flat-lay photos.
    angle_from_vertical = math.radians(48.0 if spec.sleeve_length < shape.upper_arm_length else 24.0)
    direction = np.array([math.sin(angle_from_vertical), math.cos(angle_from_vertical)])
    across = np.array([direction[1], -direction[0]])
    arm_total = shape.upper_arm_length + shape.forearm_length
    fraction = min(spec.sleeve_length / arm_total, 1.0)
    end_radius = shape.upper_arm_radius[0] + (shape.forearm_radius[1] - shape.upper_arm_radius[0]) * fraction
    end_half = 0.5 * math.pi * (end_radius + sleeve_ease(spec))
    end = start + spec.sleeve_length * direction
    # The sleeve's top edge is the seam itself (shoulder tip to armpit), so it stays attached.
    quad = np.array([shoulder_tip, end + end_half * across, end - end_half * across, armpit])
    return quad, start, direction, across


def render_flat_garment(spec: GarmentSpec, image_size: int = 256,
                        config: SyntheticConfig = DEFAULT_CONFIG) -> tuple[np.ndarray, np.ndarray]:
    """The in-shop image C (uint8 RGB, garment laid flat, front up, on white) and its mask.

    Layout in body units: x = U (arc length from the front centre; the flat front is half the
    body's circumference wide), y = V (down from the shoulder line); sleeves laid out from the
    shoulder seams. The fabric is sampled with the same (U, V) as on the body.
    """
    shape = config.body
    torso = shape.torso_length
    # Half width of the flat front at height V: a quarter of the (looser) circumference.
    knots_v = [t * torso for t in shape.torso_t]
    radius = [0.5 * (a + b) for a, b in zip(shape.torso_a, shape.torso_b)]
    loose = [spec.looseness * min(max((t - 0.25) / 0.4, 0.0), 1.0) for t in shape.torso_t]
    half_flat = [0.5 * math.pi * (r + 0.8 * extra) for r, extra in zip(radius, loose)]
    collar_v = -0.035
    shoulder_v = 0.012
    sleeveless = spec.sleeve_length <= 0
    shoulder_x = shape.shoulder_half_width * (0.9 if sleeveless else 1.12)
    armpit_v = 0.3 * torso
    armpit_x = float(np.interp(armpit_v, knots_v, half_flat))
    is_dress = spec.garment_type == "dress"
    waist_v = 0.62 * torso
    hem_v = waist_v + spec.skirt_length if is_dress else spec.hem_t * torso
    side_v = np.linspace(armpit_v, hem_v, 12)
    side_x = np.interp(side_v, knots_v, half_flat)
    if is_dress:
        below = side_v > waist_v
        hip_x = float(np.interp(0.95 * torso, knots_v, half_flat))
        spread = np.clip((side_v - waist_v) / max(spec.skirt_length, 1e-3), 0.0, 1.0)
        skirt_x = float(np.interp(waist_v, knots_v, half_flat)) + (hip_x + 0.5 * math.pi * spec.skirt_flare
                                                                     - float(np.interp(waist_v, knots_v, half_flat))) * np.sqrt(spread)
        side_x = np.where(below, np.maximum(side_x, skirt_x), side_x)
    # Right half outline (x > 0) from the collar round to the hem centre, then mirrored.
    outline = [(spec.neck_half_width, collar_v), (shoulder_x, shoulder_v)]
    if sleeveless:  # a curved armhole
        for k in range(1, 5):
            f = k / 5
            outline.append((shoulder_x + (armpit_x - shoulder_x) * f - 0.02 * math.sin(math.pi * f),
                            shoulder_v + (armpit_v - shoulder_v) * f))
    outline += list(zip(side_x.tolist(), side_v.tolist()))
    outline.append((0.0, hem_v))
    right = np.array(outline)
    left = right[::-1] * np.array([-1.0, 1.0])
    body_outline = np.concatenate([right, left[1:]])
    sleeves = []
    if not sleeveless:
        for sign in (1.0, -1.0):
            quad, start, direction, across = _flat_sleeve_geometry(
                spec, shape, (shoulder_x, shoulder_v), (armpit_x, armpit_v))
            flip = np.array([sign, 1.0])
            sleeves.append((quad * flip, start * flip, direction * flip, across * flip))
    every_point = np.concatenate([body_outline] + [s[0] for s in sleeves])
    extent = every_point.max(axis=0) - every_point.min(axis=0)
    scale = config.flat_garment_fill * image_size / float(extent.max())
    centre = 0.5 * (every_point.max(axis=0) + every_point.min(axis=0))
    offset = np.array([image_size / 2.0, image_size / 2.0]) - centre * scale

    def to_pixels(points):
        return np.round((np.asarray(points) * scale + offset) * 8.0).astype(np.int32)

    coords = np.arange(image_size, dtype=np.float32)
    grid_u = np.broadcast_to(((coords - offset[0]) / scale)[None, :], (image_size, image_size))
    grid_v = np.broadcast_to(((coords - offset[1]) / scale)[:, None], (image_size, image_size))
    tex_u = grid_u.astype(np.float32).copy()
    tex_v = grid_v.astype(np.float32).copy()
    body_mask = np.zeros((image_size, image_size), np.uint8)
    cv2.fillPoly(body_mask, [to_pixels(body_outline)], 1, cv2.LINE_8, 3)
    sleeve_mask = np.zeros_like(body_mask)
    for quad, start, direction, across in sleeves:
        one = np.zeros_like(body_mask)
        cv2.fillPoly(one, [to_pixels(quad)], 1, cv2.LINE_8, 3)
        rel_u = grid_u - start[0]
        rel_v = grid_v - start[1]
        along = rel_u * direction[0] + rel_v * direction[1]
        side = rel_u * across[0] + rel_v * across[1]
        take = one.astype(bool) & ~body_mask.astype(bool)
        tex_u[take] = side[take]
        tex_v[take] = along[take]
        sleeve_mask |= one
    # Neck opening: above the front neckline the inside of the back panel shows (darker),
    # above the back neckline there is no garment.
    abs_u = np.abs(grid_u)
    front_line = neckline_depth(spec, abs_u, np.full_like(abs_u, 10.0))
    back_line = collar_v + (0.012 - collar_v) * 0.0 + np.zeros_like(abs_u)
    back_curve = np.clip(1.0 - abs_u / spec.neck_half_width, 0.0, 1.0)
    back_line = back_line + 0.02 * np.sqrt(back_curve * (2 - back_curve))
    in_opening = body_mask.astype(bool) & (grid_v < front_line)
    outside = in_opening & (grid_v < back_line)
    inner = in_opening & ~outside
    mask = (body_mask.astype(bool) | sleeve_mask.astype(bool)) & ~outside
    texture = GarmentTexture(spec, scale)
    colour = texture.sample(tex_u, tex_v, ~body_mask.astype(bool))
    shade = np.full((image_size, image_size), 0.97, np.float32)
    shade[inner] = 0.55
    shade[sleeve_mask.astype(bool) & ~body_mask.astype(bool)] = 0.93
    # Gentle fabric relief: lighter in the middle of each panel, darker towards the edges.
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    shade *= 0.86 + 0.14 * np.clip(distance / (0.02 * scale), 0.0, 1.0)
    image = np.full((image_size, image_size, 3), 255.0, np.float32)
    np.copyto(image, colour * shade[..., None], where=mask[..., None])
    image = cv2.GaussianBlur(image, (0, 0), config.blur_sigma) if config.blur_sigma > 0 else image
    return np.clip(image, 0, 255).astype(np.uint8), mask.astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Clips
# ----------------------------------------------------------------------------------------------
def _render_clip(person_seed: int, garment_seed: int, frame_indices, image_size: int, fps: float,
                 config: SyntheticConfig) -> Clip:
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32, got {image_size}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    frame_indices = [int(i) for i in frame_indices]
    if not frame_indices or min(frame_indices) < 0:
        raise ValueError("need at least one frame and non-negative frame indices")
    duration = (max(frame_indices) + 1) / fps
    recipe = sample_recipe(person_seed, duration, config, garment_seed)
    renderer = FrameRenderer(recipe, image_size)
    count = len(frame_indices)
    frames = np.empty((count, image_size, image_size, 3), np.uint8)
    keypoints = np.empty((count, NUM_KEYPOINTS, 3), np.float32)
    cloth_masks = np.empty((count, image_size, image_size), np.uint8)
    person_masks = np.empty((count, image_size, image_size), np.uint8)
    for slot, index in enumerate(frame_indices):
        rendered = renderer.render_time(index / fps)
        frames[slot] = rendered.image
        keypoints[slot] = rendered.keypoints
        cloth_masks[slot] = rendered.cloth_mask
        person_masks[slot] = rendered.person_mask
    garment, garment_mask = render_flat_garment(recipe.garment, image_size, config)
    return Clip(frames=frames, keypoints=keypoints, cloth_masks=cloth_masks,
                person_masks=person_masks, garment=garment, garment_mask=garment_mask,
                garment_type=recipe.garment.garment_type, fps=float(fps), seed=int(person_seed),
                split=split_of_seed(person_seed))


def generate_clip(seed: int, num_frames: int = 60, image_size: int = 256, fps: float = 30.0,
                  config: SyntheticConfig = DEFAULT_CONFIG) -> Clip:
    """The clip of ``seed``: same seed, same bytes. Its first N frames do not depend on
    ``num_frames``; the motion runs in real time at ``fps``."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    return _render_clip(seed, seed, range(num_frames), image_size, fps, config)


def generate_frames(seed: int, frame_indices, image_size: int = 256, fps: float = 30.0,
                    config: SyntheticConfig = DEFAULT_CONFIG, garment_seed: int | None = None) -> Clip:
    """Only the listed frames of clip ``seed`` (identical to those frames of the full clip);
    a Clip whose frame k is source frame ``frame_indices[k]``."""
    return _render_clip(seed, seed if garment_seed is None else garment_seed, frame_indices,
                        image_size, fps, config)


def tryon_clip(person_seed: int, garment_seed: int, num_frames: int = 60, image_size: int = 256,
               fps: float = 30.0, config: SyntheticConfig = DEFAULT_CONFIG) -> Clip:
    """Person, motion, background and framing of ``person_seed`` wearing the garment of
    ``garment_seed``; the ground-truth masks and C follow the new garment. ``seed`` and ``split``
    of the result are the person's."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    return _render_clip(person_seed, garment_seed, range(num_frames), image_size, fps, config)


class SyntheticFashionVideo:
    """A split of generated clips, made on the fly (nothing stored); clip i has seed
    ``split_seed(split, i)``. Also serves single frames cheaply through ``get_frames``."""

    def __init__(self, split: str, num_clips: int, num_frames: int = 60, image_size: int = 256,
                 fps: float = 30.0, config: SyntheticConfig = DEFAULT_CONFIG):
        if num_clips < 0:
            raise ValueError(f"num_clips must be non-negative, got {num_clips}")
        split_seed(split, max(num_clips - 1, 0))  # validates the split and the range
        self.split = split
        self.num_clips = int(num_clips)
        self.num_frames = int(num_frames)
        self.image_size = int(image_size)
        self.fps = float(fps)
        self.config = config

    def __len__(self) -> int:
        return self.num_clips

    def _index(self, index: int) -> int:
        if index < 0:
            index += self.num_clips
        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip index {index} out of range for {self.num_clips} clips")
        return index

    def seed(self, index: int) -> int:
        return split_seed(self.split, self._index(index))

    def clip_length(self, index: int) -> int:
        self._index(index)
        return self.num_frames

    def __getitem__(self, index: int) -> Clip:
        clip = generate_clip(self.seed(index), self.num_frames, self.image_size, self.fps, self.config)
        clip.split = self.split
        return clip

    def get_frames(self, index: int, frame_indices, garment_index: int | None = None) -> Clip:
        """Frames ``frame_indices`` of clip ``index`` only (what the training sampler needs);
        with ``garment_index``, the person wears the garment of that clip of the split instead
        (``tryon_clip``'s swap: same person, motion and background)."""
        frame_indices = list(frame_indices)
        if frame_indices and max(frame_indices) >= self.num_frames:
            raise IndexError(f"frame index {max(frame_indices)} beyond clip length {self.num_frames}")
        garment_seed = None if garment_index is None else self.seed(garment_index)
        clip = generate_frames(self.seed(index), frame_indices, self.image_size, self.fps, self.config,
                               garment_seed=garment_seed)
        clip.split = self.split
        return clip
