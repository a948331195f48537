"""Low-level drawing: the orthographic projector and the z-buffered canvas, with the analytic
surfaces parts are made of (tapered capsules, elliptic sections)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fashionmirror_ros.data.synthetic.recipe import Framing

# Materials of the per-pixel material buffer.
MAT_BACKGROUND, MAT_SKIN, MAT_GARMENT, MAT_LOWER, MAT_SHOE, MAT_HAIR = range(6)
NUM_MATERIALS = 6

# Part ids of the per-pixel part buffer (0 = nothing drawn).
(PART_NONE, PART_TORSO, PART_SKIRT, PART_NECK, PART_HEAD, PART_HAIR_BACK,
 PART_R_UPPER_ARM, PART_R_FOREARM, PART_R_HAND, PART_L_UPPER_ARM, PART_L_FOREARM, PART_L_HAND,
 PART_R_THIGH, PART_R_SHIN, PART_R_FOOT, PART_L_THIGH, PART_L_SHIN, PART_L_FOOT) = range(18)


def _interp(values_t, knots_t, knots_v):
    return np.interp(values_t, knots_t, knots_v).astype(np.float32)


class Projector:
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


class Canvas:
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
class Capsule:
    window: tuple
    inside: np.ndarray
    along: np.ndarray       # 0..1 along the axis (clamped)
    across: np.ndarray      # -1..1 across the surface (signed)
    depth: np.ndarray
    shade: np.ndarray


def tapered_capsule(canvas: Canvas, start, end, radius_fn, ambient: float) -> Capsule | None:
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
    return Capsule(window, inside, along, across, depth.astype(np.float32), shade.astype(np.float32))


@dataclass
class Section:
    window: tuple
    inside: np.ndarray
    along: np.ndarray       # axis parameter in the profile's units
    angle: np.ndarray       # angle around the body, 0 = front centre, +pi/2 = person's left
    radius: np.ndarray      # mean radius at that height (pixels), for arc lengths
    depth: np.ndarray
    shade: np.ndarray


def elliptic_section(canvas: Canvas, top, bottom, knots_t, half_widths, half_depths, yaw: float,
                      ambient: float) -> Section | None:
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
    return Section(window, inside, along, phi.astype(np.float32), 0.5 * (a + b),
                    (axis_depth + surface).astype(np.float32), shade.astype(np.float32))


def local_to_screen(centre_screen: np.ndarray, local: np.ndarray, yaw: float, scale: float) -> np.ndarray:
    """Points given relative to ``centre`` in a frame turned by ``yaw`` -> [x_px, y_px, depth_px]."""
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    x = local[:, 0] * cos_yaw + local[:, 2] * sin_yaw
    z = -local[:, 0] * sin_yaw + local[:, 2] * cos_yaw
    return np.stack([
        centre_screen[0] + x * scale,
        centre_screen[1] - local[:, 1] * scale,
        centre_screen[2] + z * scale,
    ], axis=1)


def camera_facing(normals: np.ndarray, yaw: float) -> np.ndarray:
    """z component (towards the camera) of local unit normals turned by ``yaw``."""
    return -normals[:, 0] * math.sin(yaw) + normals[:, 2] * math.cos(yaw)
