"""The keypoint prior (pose/part_flow.py, models/prior.py) on hand-made poses."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fashionmirror_ros.models.prior import keypoint_warp
from fashionmirror_ros.pose.layout import BODY, NUM_KEYPOINTS
from fashionmirror_ros.pose.part_flow import MAX_SCALE, keypoint_flow

SIZE = 128


def standing_pose() -> np.ndarray:
    """A frontal figure on a 128 image, arms hanging, every body joint seen."""
    points = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    joints = {
        "Nose": (64, 18), "REye": (61, 16), "LEye": (67, 16), "REar": (58, 17), "LEar": (70, 17),
        "Neck": (64, 30), "RShoulder": (52, 32), "LShoulder": (76, 32),
        "RElbow": (48, 50), "RWrist": (46, 66), "LElbow": (80, 50), "LWrist": (82, 66),
        "MidHip": (64, 66), "RHip": (57, 66), "LHip": (71, 66),
        "RKnee": (57, 90), "RAnkle": (57, 114), "LKnee": (71, 90), "LAnkle": (71, 114),
    }
    for name, (x, y) in joints.items():
        points[BODY[name]] = (x, y, 1.0)
    return points


def flow_of(target: np.ndarray, source: np.ndarray, **kwargs):
    return keypoint_flow(torch.from_numpy(target)[None], torch.from_numpy(source)[None], SIZE, SIZE, **kwargs)


def test_same_pose_gives_the_identity():
    pose = standing_pose()
    flow, support = flow_of(pose, pose)
    assert flow.shape == (1, 2, SIZE, SIZE)
    assert float(flow.abs().max()) < 1e-3
    assert float(support[0, 0, 50, 64]) == 1.0  # on the torso
    assert float(support[0, 0, 5, 5]) == 0.0  # far from the body


def test_a_translated_pose_gives_that_translation_on_the_body():
    source = standing_pose()
    target = source.copy()
    target[:, :2] += (7.0, -3.0)
    flow, _ = flow_of(target, source)
    # on the torso of the target, every pixel samples 7 px left and 3 px down in the source
    torso = flow[0, :, 45:60, 60:75]
    assert torch.allclose(torso[0], torch.full_like(torso[0], -7.0), atol=1e-3)
    assert torch.allclose(torso[1], torch.full_like(torso[1], 3.0), atol=1e-3)


def test_a_raised_forearm_moves_its_pixels_and_leaves_the_torso():
    source = standing_pose()
    target = source.copy()
    target[BODY["LWrist"], :2] = (96, 40)  # left forearm swung out and up from the elbow (80, 50)
    flow, _ = flow_of(target, source)
    # a target pixel on the new forearm samples the old forearm
    x, y = 88, 45
    qx, qy = x + float(flow[0, 0, y, x]), y + float(flow[0, 1, y, x])
    assert abs(qx - 81) < 2.5 and abs(qy - 58) < 2.5
    # the torso does not move
    assert float(flow[0, :, 40:60, 58:70].abs().max()) < 1e-3


def test_scale_is_clamped_when_a_limb_is_foreshortened():
    source = standing_pose()
    target = source.copy()
    target[BODY["RWrist"], :2] = (48.0, 51.0)  # forearm pointing at the camera: 1 px long
    flow, _ = flow_of(target, source)
    # two target pixels 1 px apart on the foreshortened forearm sample source pixels at most
    # MAX_SCALE apart (the source forearm is 16 px long: unclamped, they would be 16 px apart)
    y = 52
    q = [np.array([x + float(flow[0, 0, y, x]), y + float(flow[0, 1, y, x])]) for x in (47, 48)]
    assert np.linalg.norm(q[1] - q[0]) <= MAX_SCALE + 1e-3


def test_unseen_joints_drop_their_parts_and_nothing_seen_gives_zero_flow():
    source = standing_pose()
    target = source.copy()
    target[:, :2] += 5.0
    hidden = target.copy()
    hidden[:, 2] = 0.0
    flow, support = flow_of(hidden, source)
    assert float(flow.abs().max()) == 0.0
    assert float(support.max()) == 0.0
    target[BODY["LWrist"], 2] = 0.0  # the left forearm is dropped; the rest still moves
    flow, _ = flow_of(target, source)
    assert torch.allclose(flow[0, 0, 50, 64], torch.tensor(-5.0), atol=1e-3)


def test_flow_times_support_is_still_far_from_the_body():
    source = standing_pose()
    target = source.copy()
    target[:, :2] += 6.0
    flow, support = flow_of(target, source)
    stilled = flow * support
    assert float(stilled[0, :, 2, 2].abs().max()) == 0.0  # far corner: still
    assert torch.allclose(stilled[0, 0, 56, 70], torch.tensor(-6.0), atol=1e-2)  # on the torso: moved


def test_keypoint_warp_moves_a_painted_arm_and_keeps_the_background():
    source_pose = standing_pose()
    target_pose = source_pose.copy()
    target_pose[:, :2] += (10.0, 0.0)
    image = torch.zeros(1, 3, SIZE, SIZE)
    image[:, 1] = 0.5  # green background
    person = torch.zeros(1, 1, SIZE, SIZE)
    person[..., 30:66, 52:77] = 1.0  # torso block
    image = image * (1 - person) + person * torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    background = torch.zeros_like(image)
    background[:, 1] = 0.5
    out = keypoint_warp(image, person, background, torch.from_numpy(source_pose)[None],
                        torch.from_numpy(target_pose)[None])
    assert torch.allclose(out[0, :, 48, 70], torch.tensor([1.0, 0.0, 0.0]), atol=1e-3)  # red moved in
    assert torch.allclose(out[0, :, 48, 55], torch.tensor([0.0, 0.5, 0.0]), atol=1e-3)  # left: background
    assert torch.allclose(out[0, :, 5, 5], torch.tensor([0.0, 0.5, 0.0]), atol=1e-6)


def test_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        keypoint_flow(torch.zeros(1, 25, 3), torch.zeros(1, 25, 3), SIZE, SIZE)
