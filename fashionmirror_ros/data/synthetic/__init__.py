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

Modules, in the order they build on one another
-----------------------------------------------
* ``config``: every tunable number (SyntheticConfig) and the mean body (BodyShape).
* ``recipe``: seeds and splits; sampling person, garment, background, framing and motion into
  a ClipRecipe.
* ``body``: motion -> pose at a time -> 3D skeleton; the hand and face templates.
* ``raster``: projector, z-buffered canvas, capsules and elliptic sections (low-level drawing).
* ``flat_garment``: fabric sampling (GarmentTexture), the studio background, the flat image C.
* ``renderer``: FrameRenderer, a frame with its masks, part ids and keypoint confidences.
* ``clips``: Clip, generate_clip, generate_frames, tryon_clip and SyntheticFashionVideo.
"""

# Every public name of the former single module synthetic.py, from the module that defines it.
from fashionmirror_ros.data.synthetic.body import (
    FACE_TEMPLATE,
    SIDES,
    BodyPose,
    Skeleton3D,
    build_skeleton,
    hand_points_3d,
    pose_at,
)
from fashionmirror_ros.data.synthetic.clips import (
    Clip,
    SyntheticFashionVideo,
    generate_clip,
    generate_frames,
    tryon_clip,
)
from fashionmirror_ros.data.synthetic.config import (
    DEFAULT_CONFIG,
    GARMENT_TYPES,
    TEXTURE_KINDS,
    BodyShape,
    SyntheticConfig,
)
from fashionmirror_ros.data.synthetic.flat_garment import (
    GarmentTexture,
    neckline_depth,
    render_background,
    render_flat_garment,
    sleeve_ease,
)
from fashionmirror_ros.data.synthetic.raster import (
    MAT_BACKGROUND,
    MAT_GARMENT,
    MAT_HAIR,
    MAT_LOWER,
    MAT_SHOE,
    MAT_SKIN,
    PART_HAIR_BACK,
    PART_HEAD,
    PART_L_FOOT,
    PART_L_FOREARM,
    PART_L_HAND,
    PART_L_SHIN,
    PART_L_THIGH,
    PART_L_UPPER_ARM,
    PART_NECK,
    PART_NONE,
    PART_R_FOOT,
    PART_R_FOREARM,
    PART_R_HAND,
    PART_R_SHIN,
    PART_R_THIGH,
    PART_R_UPPER_ARM,
    PART_SKIRT,
    PART_TORSO,
)
from fashionmirror_ros.data.synthetic.recipe import (
    ARM_POSES,
    ARM_POSE_WEIGHTS,
    HAIR_COLOURS,
    LIP_TINT,
    LOWER_COLOURS,
    NECKLINES,
    SHOE_COLOURS,
    SKIN_TONES,
    SPLIT_SEED_RANGES,
    ArmAngles,
    BackgroundSpec,
    ClipRecipe,
    Framing,
    GarmentSpec,
    Keyframe,
    MotionScript,
    PersonLook,
    sample_background,
    sample_framing,
    sample_garment,
    sample_motion,
    sample_person,
    sample_recipe,
    split_of_seed,
    split_seed,
)
from fashionmirror_ros.data.synthetic.renderer import (
    FrameRenderer,
    RenderedFrame,
)

__all__ = [
    "ARM_POSES", "ARM_POSE_WEIGHTS", "ArmAngles", "BackgroundSpec", "BodyPose", "BodyShape",
    "Clip", "ClipRecipe", "DEFAULT_CONFIG", "FACE_TEMPLATE", "FrameRenderer", "Framing",
    "GARMENT_TYPES", "GarmentSpec", "GarmentTexture", "HAIR_COLOURS", "Keyframe", "LIP_TINT",
    "LOWER_COLOURS", "MAT_BACKGROUND", "MAT_GARMENT", "MAT_HAIR", "MAT_LOWER", "MAT_SHOE",
    "MAT_SKIN", "MotionScript", "NECKLINES", "PART_HAIR_BACK", "PART_HEAD", "PART_L_FOOT",
    "PART_L_FOREARM", "PART_L_HAND", "PART_L_SHIN", "PART_L_THIGH", "PART_L_UPPER_ARM",
    "PART_NECK", "PART_NONE", "PART_R_FOOT", "PART_R_FOREARM", "PART_R_HAND", "PART_R_SHIN",
    "PART_R_THIGH", "PART_R_UPPER_ARM", "PART_SKIRT", "PART_TORSO", "PersonLook",
    "RenderedFrame", "SHOE_COLOURS", "SIDES", "SKIN_TONES", "SPLIT_SEED_RANGES", "Skeleton3D",
    "SyntheticConfig", "SyntheticFashionVideo", "TEXTURE_KINDS", "build_skeleton",
    "generate_clip", "generate_frames", "hand_points_3d", "neckline_depth", "pose_at",
    "render_background", "render_flat_garment", "sample_background", "sample_framing",
    "sample_garment", "sample_motion", "sample_person", "sample_recipe", "sleeve_ease",
    "split_of_seed", "split_seed", "tryon_clip",
]
