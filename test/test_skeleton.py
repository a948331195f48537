"""The skeleton image p^t: drawn where limbs are, nothing where confidence is 0, robust to
any coordinates, deterministic, sized with the image."""
import numpy as np
import pytest

from fashionmirror_ros.pose.layout import BODY, BODY_LIMBS, FACE_START, LEFT_HAND_START, NUM_KEYPOINTS
from fashionmirror_ros.pose.skeleton import BODY_LIMB_COLOURS, render_skeleton


def empty_pose():
    return np.zeros((NUM_KEYPOINTS, 3), np.float32)


def arm_pose():
    """Only the right arm: shoulder (100, 60), elbow (100, 120), wrist (160, 120)."""
    keypoints = empty_pose()
    keypoints[BODY["RShoulder"]] = (100, 60, 1.0)
    keypoints[BODY["RElbow"]] = (100, 120, 1.0)
    keypoints[BODY["RWrist"]] = (160, 120, 0.9)
    return keypoints


def test_shape_dtype_and_black_background():
    image = render_skeleton(arm_pose(), 256, 200)
    assert image.shape == (256, 200, 3)
    assert image.dtype == np.uint8
    assert image[5, 5].sum() == 0 and image[250, 190].sum() == 0


def test_draws_pixels_along_limbs_and_nothing_far_away():
    image = render_skeleton(arm_pose(), 256, 256)
    lit = image.sum(axis=2) > 0
    assert lit[90, 100] and lit[95, 101]      # middle of the upper arm
    assert lit[120, 130]                      # middle of the forearm
    assert not lit[200:, :].any()             # nothing below the arm
    assert not lit[:, :80].any()


def test_each_limb_has_its_own_colour():
    assert len(set(BODY_LIMB_COLOURS)) == len(BODY_LIMBS)
    image = render_skeleton(arm_pose(), 256, 256)
    upper = tuple(int(v) for v in image[90, 100])
    fore = tuple(int(v) for v in image[120, 130])
    assert upper != fore


def test_zero_confidence_draws_nothing():
    keypoints = arm_pose()
    keypoints[:, 2] = 0.0
    assert render_skeleton(keypoints, 128, 128).sum() == 0
    assert render_skeleton(empty_pose(), 64, 64).sum() == 0


def test_low_confidence_point_removes_its_limbs():
    keypoints = arm_pose()
    keypoints[BODY["RWrist"], 2] = 0.05
    image = render_skeleton(keypoints, 256, 256, min_confidence=0.1)
    assert image[120, 130].sum() == 0          # forearm gone
    assert image[90, 100].sum() > 0            # upper arm kept


def test_points_outside_the_image_are_clipped_without_crashing():
    keypoints = arm_pose()
    keypoints[BODY["RWrist"]] = (1e9, -1e9, 1.0)
    keypoints[BODY["LShoulder"]] = (np.nan, 10, 1.0)
    keypoints[BODY["LElbow"]] = (np.inf, 10, 1.0)
    keypoints[BODY["Neck"]] = (-500, 60, 1.0)
    image = render_skeleton(keypoints, 64, 64)
    assert image.shape == (64, 64, 3)
    # The neck-shoulder segment enters from the left edge along y = 60.
    assert image[60, 0].sum() > 0


def test_segment_leaving_the_image_keeps_its_direction():
    keypoints = empty_pose()
    keypoints[BODY["RShoulder"]] = (32, 32, 1.0)
    keypoints[BODY["RElbow"]] = (32 + 1e7, 32 + 1e7, 1.0)  # 45 degrees down-right, far away
    image = render_skeleton(keypoints, 64, 64)
    assert image[50, 50].sum() > 0 and image[60, 60].sum() > 0
    assert image[32, 60].sum() == 0


def test_hands_and_face_are_drawn_thinner_than_body():
    keypoints = empty_pose()
    keypoints[LEFT_HAND_START + 0] = (20, 100, 1.0)   # wrist
    keypoints[LEFT_HAND_START + 1] = (220, 100, 1.0)  # thumb base: a long horizontal "finger"
    keypoints[FACE_START + 0] = (20, 160, 1.0)
    keypoints[FACE_START + 1] = (220, 160, 1.0)
    keypoints[BODY["Neck"]] = (20, 40, 1.0)
    keypoints[BODY["MidHip"]] = (220, 40, 1.0)
    image = render_skeleton(keypoints, 256, 256)

    def width(row):  # pixels of the line's core (anti-aliased fringes excluded)
        return int((image[row - 8:row + 9, 120].max(axis=1) > 127).sum())

    assert width(40) > width(100) >= width(160) >= 1
    face_pixel = image[160, 120].astype(int)
    assert face_pixel.min() > 200 and face_pixel.max() - face_pixel.min() == 0  # white


def test_thickness_scales_with_image_size():
    small = render_skeleton(arm_pose(), 256, 256)
    large_pose = arm_pose()
    large_pose[:, :2] *= 2
    large = render_skeleton(large_pose, 512, 512)

    def thickness(image, row, columns):  # core pixels across the upper arm
        return int((image[row, columns].max(axis=1) > 127).sum())

    assert abs(thickness(large, 180, slice(180, 220)) - 2 * thickness(small, 90, slice(90, 110))) <= 1


def test_deterministic():
    keypoints = arm_pose()
    keypoints[BODY["Neck"]] = (120, 50, 1.0)
    keypoints[BODY["MidHip"]] = (118, 150, 1.0)
    first = render_skeleton(keypoints, 256, 256)
    second = render_skeleton(keypoints.copy(), 256, 256)
    assert np.array_equal(first, second)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError):
        render_skeleton(np.zeros((25, 3)), 64, 64)
