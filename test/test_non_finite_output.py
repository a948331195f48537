"""A checkpoint whose finite weights make the networks overflow: cmn_node and hsg_node report the
non-finite output as an error, publish nothing from it and stay up. Its own small graph, in a
DDS domain of its own (beside any other graph test)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from conftest import requires_ros
from fashionmirror_ros import topics
from graph_harness import running_graph, short_fault_hold_params, stamp_ns

pytestmark = requires_ros

KEYPOINTS = topics.absolute(topics.POSE_KEYPOINTS)
MASKS = topics.absolute(topics.CMN_MASKS)
SOURCE_PERSON = topics.absolute(topics.SOURCE_PERSON_MASK)
FPS = 15.0
FAULT_HOLD_S = 2.0


def overflowing_checkpoint(directory: Path) -> Path:
    """Finite weights (load_checkpoint accepts them) 1e10 times too large: activations overflow."""
    import torch

    from fashionmirror_ros.models.checkpoint import load_checkpoint, save_checkpoint
    from fashionmirror_ros.models.config import get_preset
    from fashionmirror_ros.models.mirror import FashionMirror

    torch.manual_seed(0)
    config = get_preset("realtime")
    model = FashionMirror(config)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.mul_(1e10)
    save_checkpoint(directory, model, config)
    loaded, _, _ = load_checkpoint(directory, expected_preset="realtime")
    assert all(torch.isfinite(p).all() for p in loaded.parameters())
    return directory


def test_non_finite_network_output_is_an_error_and_nothing_is_published(tmp_path, stream_clip):
    """cmn_node and hsg_node on an overflowing checkpoint, fed correct masks by the test: each
    reports ERROR (NonFiniteOutput) on /diagnostics, publishes nothing and stays up."""
    from diagnostic_msgs.msg import DiagnosticStatus
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fashionmirror_ros.msg import PoseKeypoints, TryOnMasks
    from fashionmirror_ros.messages import header as stamped_header, keypoints_msg, mono_image_msg
    from fashionmirror_ros.nodes.common import LATCHED_QOS, OUTPUT_QOS
    from fashionmirror_ros.nodes.supervisor import NodeSpec
    from fashionmirror_ros.pipeline.images import image_crc

    clip = stream_clip
    checkpoint = overflowing_checkpoint(tmp_path / "overflow")
    specs = [NodeSpec(name, {"checkpoint": str(checkpoint)}) for name in ("cmn_node", "hsg_node")]
    domain = int(os.environ["ROS_DOMAIN_ID"]) % 100 + 101  # apart from test_robustness's graph
    with running_graph(tmp_path, specs, params_file=short_fault_hold_params(tmp_path, FAULT_HOLD_S), respawn=False,
                       driver_name="overflow_driver", domain_id=domain) as (driver, supervisor):
        source_stamp = driver.stamp(0, FPS, base_s=500)
        driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], source_stamp)
        masks_pub = driver.node.create_publisher(TryOnMasks, MASKS, LATCHED_QOS)
        keypoints_pub = driver.node.create_publisher(PoseKeypoints, KEYPOINTS, OUTPUT_QOS)
        header = Header(stamp=source_stamp, frame_id="camera")
        # What pose_node (not running here) latches for the source: the person in it.
        person_pub = driver.node.create_publisher(Image, SOURCE_PERSON, LATCHED_QOS)
        person_pub.publish(mono_image_msg((clip.person_masks[0] * 255).astype(np.uint8), header))
        mask = (clip.cloth_masks[0] * 255).astype(np.uint8)
        masks_pub.publish(TryOnMasks(header=header, removed_mask=mono_image_msg(mask, header),
                                     cloth_mask=mono_image_msg(mask, header), multi_frame=False,
                                     source_crc=image_crc(clip.frames[0]), garment_crc=image_crc(clip.garment)))
        driver.wait_for(lambda: keypoints_pub.get_subscription_count() >= 2, 10)
        for index in range(1, 6):
            keypoints_pub.publish(keypoints_msg(clip.keypoints[index], stamped_header(time.time_ns(), "camera"),
                                                256, 256, True, "test"))
            time.sleep(0.2)

        def error(node, *words):
            return [s for s in driver.status_history(node) if s.level == DiagnosticStatus.ERROR
                    and all(word in s.message for word in words)]

        assert driver.wait_for(lambda: error("cmn_node", "NonFiniteOutput", "contains NaN or inf"), 20), \
            driver.statuses().get("cmn_node")
        assert driver.wait_for(lambda: error("hsg_node", f"handling {KEYPOINTS} failed: NonFiniteOutput",
                                             "h_g^{t+1} contains NaN or inf"), 20), driver.statuses().get("hsg_node")
        assert not driver.wait_for(lambda: driver.snapshot("arrivals"), 0.5), \
            "a try-on frame from a non-finite output"
        assert all(r.stamp_ns == stamp_ns(source_stamp) and not r.multi_frame
                   for r in driver.snapshot("masks")), "cmn_node published masks from a non-finite output"
        assert not supervisor.dead(), f"a node died: {supervisor.dead()}"
        print(f"\ncmn_node: {error('cmn_node', 'NonFiniteOutput')[0].message}")
        print(f"hsg_node: {error('hsg_node', 'NonFiniteOutput')[0].message}")
