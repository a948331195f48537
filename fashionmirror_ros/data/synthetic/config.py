"""Every tunable number of the generator (SyntheticConfig) and the mean body proportions."""
from __future__ import annotations

from dataclasses import dataclass

GARMENT_TYPES = ("sleeveless", "short_sleeve", "long_sleeve", "dress")
TEXTURE_KINDS = ("solid", "stripes", "checks", "dots", "prints")


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
