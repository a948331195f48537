"""FrameRenderer: one frame of a recipe at a time, with its cloth and person masks, part ids
and 137 keypoints whose confidences say what the camera sees."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fashionmirror_ros.data.synthetic.body import (FACE_TEMPLATE, FINGER_BASE_ROWS, SIDES, BodyPose,
                                                   Skeleton3D, build_skeleton, hand_points_3d, pose_at)
from fashionmirror_ros.data.synthetic.flat_garment import (GarmentTexture, neckline_depth,
                                                           render_background, sleeve_ease)
from fashionmirror_ros.data.synthetic.raster import (
    MAT_BACKGROUND, MAT_GARMENT, MAT_HAIR, MAT_LOWER, MAT_SHOE, MAT_SKIN, NUM_MATERIALS, PART_HAIR_BACK,
    PART_HEAD, PART_L_FOOT, PART_L_FOREARM, PART_L_HAND, PART_L_SHIN, PART_L_THIGH, PART_L_UPPER_ARM,
    PART_NECK, PART_R_FOOT, PART_R_FOREARM, PART_R_HAND, PART_R_SHIN, PART_R_THIGH, PART_R_UPPER_ARM,
    PART_SKIRT, PART_TORSO, Canvas, Projector, camera_facing, elliptic_section, local_to_screen,
    tapered_capsule)
from fashionmirror_ros.data.synthetic.recipe import LIP_TINT, ClipRecipe
from fashionmirror_ros.pose.layout import (BODY, FACE_START, LEFT_HAND_START, NUM_FACE, NUM_HAND,
                                           NUM_KEYPOINTS, RIGHT_HAND_START)


@dataclass
class RenderedFrame:
    image: np.ndarray          # uint8 (H, W, 3)
    cloth_mask: np.ndarray     # uint8 (H, W)
    person_mask: np.ndarray    # uint8 (H, W)
    keypoints: np.ndarray      # float32 (137, 3)
    part_ids: np.ndarray       # uint8 (H, W) which body part is seen at each pixel


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
# Face points counted as visible when their outward normal faces the camera at least this much.
_FACE_FACING_MIN = 0.12
_EAR_FACING_MIN = -0.45
# ... and only while the face as a whole looks at most 90 degrees away from the camera.
_FACE_FORWARD_MIN = 0.0


class FrameRenderer:
    """Renders frames of one recipe at one image size (buffers are reused between frames)."""

    def __init__(self, recipe: ClipRecipe, image_size: int):
        self.recipe = recipe
        self.size = image_size
        self.config = recipe.config
        self.canvas = Canvas(image_size, self.config.light_direction)
        self.background = render_background(recipe.background, recipe.framing, image_size)
        self.pixels_per_unit = recipe.framing.height_fraction * image_size
        self.texture = GarmentTexture(recipe.garment, self.pixels_per_unit)
        person = recipe.person
        self.colours = np.zeros((NUM_MATERIALS, 3), np.float32)
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
        projector = Projector(self.recipe.framing, self.size, pose.yaw, pose.lateral)
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

    def _draw_torso(self, screen, projector: Projector, yaw: float):
        canvas = self.canvas
        shape = self.recipe.person.shape
        garment = self.recipe.garment
        knots_t, half_widths, half_depths = self._torso_knots(projector.scale)
        section = elliptic_section(canvas, screen["Neck"], screen["MidHip"], knots_t, half_widths,
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

    def _draw_skirt(self, skeleton: Skeleton3D, projector: Projector, yaw: float, top_hem_y):
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
        section = elliptic_section(
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
    def _draw_legs(self, screen, projector: Projector, hem_y, top_hem_y):
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

                capsule = tapered_capsule(canvas, screen[start_name], screen[end_name], radius_fn, ambient)
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
            capsule = tapered_capsule(canvas, heel + np.array([0.0, -0.5 * foot_radius, 0.0]), toe,
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

                capsule = tapered_capsule(canvas, screen[start_name], screen[end_name], radius_fn, ambient)
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
        for base in FINGER_BASE_ROWS:
            chain = list(range(base, base + 4)) if base != 1 else [0, 1, 2, 3, 4]
            cv2.polylines(mask, [local[chain]], False, 1, thickness, cv2.LINE_8, 3)
        drawn = mask.astype(bool)
        depth = np.float32(hand[:, 2].mean() + 0.012 * scale)
        part = PART_R_HAND if side == "R" else PART_L_HAND
        wins = canvas.write(window, drawn, depth, part, MAT_SKIN, np.float32(0.9))
        total = int(drawn.sum())
        return float(wins.sum()) / total if total else 0.0

    # -- neck, head, hair ----------------------------------------------------------------------
    def _draw_neck(self, screen, projector: Projector):
        shape = self.recipe.person.shape
        scale = projector.scale
        top = screen["HeadCentre"] + np.array([0.0, 0.35 * shape.head_radius_y * scale, -0.01 * scale])
        bottom = screen["Neck"] + np.array([0.0, 0.01 * scale, -0.012 * scale])
        radius = shape.neck_radius * scale
        capsule = tapered_capsule(self.canvas, bottom, top, lambda along: np.full_like(along, radius),
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
        corners = local_to_screen(head_centre, local, body_yaw, scale)
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
        points = local_to_screen(head_centre, local, head_yaw, scale)
        normals = FACE_TEMPLATE / np.linalg.norm(FACE_TEMPLATE, axis=1, keepdims=True)
        return points, camera_facing(normals, head_yaw)

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
        ears = local_to_screen(screen["HeadCentre"], ears_local, head_yaw, scale)[:, :2]
        ear_facing = camera_facing(np.array([(-1.0, 0.0, -0.1), (1.0, 0.0, -0.1)]), head_yaw)
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
