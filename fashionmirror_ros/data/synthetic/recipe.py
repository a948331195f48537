"""Everything random about a clip, drawn from the clip's seed: person, garment, background,
framing and motion, each from its own stream (ClipRecipe). Also the splits' seed ranges."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from fashionmirror_ros.data.synthetic.config import (DEFAULT_CONFIG, GARMENT_TYPES, TEXTURE_KINDS,
                                                     BodyShape, SyntheticConfig)

# Seeds of the splits live in disjoint ranges, so no clip can be in two splits.
SPLIT_SEED_RANGES = {
    "train": (0, 1_000_000_000),
    "val": (1_000_000_000, 2_000_000_000),
    "test": (2_000_000_000, 3_000_000_000),
}

# Independent random streams of one clip (second entropy word of the SeedSequence).
_STREAM_PERSON, _STREAM_GARMENT, _STREAM_BACKGROUND, _STREAM_MOTION, _STREAM_FRAMING = range(5)


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
# Appearance: person, garment, background
# ----------------------------------------------------------------------------------------------
def _rgb(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    pixel = np.array([[[hue * 179.0, saturation * 255.0, value * 255.0]]], dtype=np.float32)
    return cv2.cvtColor(pixel.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


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
