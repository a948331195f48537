"""The flat images: the garment's fabric sampled at body coordinates (GarmentTexture, shared
with the worn garment), the studio background, and the in-shop garment image C."""
from __future__ import annotations

import math

import cv2
import numpy as np

from fashionmirror_ros.data.synthetic.config import DEFAULT_CONFIG, BodyShape, SyntheticConfig
from fashionmirror_ros.data.synthetic.recipe import BackgroundSpec, Framing, GarmentSpec


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
