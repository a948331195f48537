"""cmn_node: the co-attention mask network (paper eq. 1) on the source, garment and fed-back frames.

Subscribes  tryon/source_image, tryon/garment_image (latched), tryon/image (generated frames
            fed back, newest wins), pose/keypoints (only whether a person is in view)
Publishes   cmn/masks (TryOnMasks, latched: M_r and M_c^{t+1}), fashionmirror/latency, /diagnostics
Single-frame mode on a new (h^s, C) and the first two fed-back frames, multi-frame mode after
(see fashionmirror_ros.pipeline.sessions). When the person leaves the view the generator restarts
from h^s, so the mask history restarts too: the source masks are published again and fed-back
frames of the departed person are ignored until someone is in view.
"""
from __future__ import annotations

import sys
import threading

from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fashionmirror_ros import topics
from fashionmirror_ros.msg import PoseKeypoints, TryOnMasks
from fashionmirror_ros.messages import mono_image_msg
from fashionmirror_ros.nodes.common import LATCHED_QOS, NEWEST_QOS, OUTPUT_QOS, spin_node
from fashionmirror_ros.nodes.model_node import ModelNode
from fashionmirror_ros.pipeline.sessions import Masks, MaskSession

FEEDBACK_TOPIC = topics.TRYON_IMAGE
KEYPOINTS_TOPIC = topics.POSE_KEYPOINTS


class CmnNode(ModelNode):
    def __init__(self, **kwargs):
        super().__init__("cmn_node", **kwargs)
        masks_every = self.param(
            "masks_every", 1, "predict M_c^{t+1} from every Nth fed-back frame only, the masks "
            "holding between (ours; 1 = the paper's every frame): 2 frees CPU for the generator "
            "(docs/bench/bench.md has the rate, docs/eval/report.md the quality)", int_range=(1, 30))
        self.session = MaskSession(self.model, self.options, masks_every)
        self.lock = threading.Lock()
        self.source_header = None
        self.person_in_view = True  # until pose_node says otherwise
        self.masks_pub = self.create_publisher(TryOnMasks, topics.CMN_MASKS, LATCHED_QOS)
        self.subscribe_newest(Image, FEEDBACK_TOPIC, self.on_feedback, NEWEST_QOS)
        self.subscribe(PoseKeypoints, KEYPOINTS_TOPIC, self.on_keypoints, OUTPUT_QOS)
        self.listen_for_inputs(self.on_source, self.on_garment)
        self.waiting(self.session.missing())

    def on_source(self, rgb, header) -> None:
        with self.lock:
            self.session.set_source(rgb)
            self.source_header = header
            self.publish_source_masks()
            self.get_logger().info(f"new source {self.session.source_crc:08x}")

    def on_garment(self, rgb, header) -> None:
        with self.lock:
            self.session.set_garment(rgb)
            self.publish_source_masks()
            self.get_logger().info(f"new garment {self.session.garment_crc:08x}")

    def on_keypoints(self, msg: PoseKeypoints) -> None:
        with self.lock:
            if bool(msg.person_found) == self.person_in_view:
                return
            self.person_in_view = bool(msg.person_found)
            if not self.person_in_view:
                self.session.restart()
                self.publish_source_masks()

    def publish_source_masks(self) -> None:
        self.waiting(self.session.missing())
        if not self.session.ready:
            return
        header = self.source_header or Header(stamp=self.get_clock().now().to_msg())
        self.publish(self.session.source_masks(), header)

    def publish(self, masks: Masks, header) -> None:
        msg = TryOnMasks(header=header, multi_frame=masks.multi_frame,
                         source_crc=masks.source_crc, garment_crc=masks.garment_crc)
        msg.removed_mask = mono_image_msg(masks.removed, header)
        msg.cloth_mask = mono_image_msg(masks.cloth, header)
        self.masks_pub.publish(msg)

    def on_feedback(self, msg: Image, receive_ns: int) -> None:
        if not self.due_for_masks():
            return
        rgb = self.decode_color(msg, FEEDBACK_TOPIC)
        if rgb is None:
            return
        with self.lock:
            if not self.session.ready or not self.person_in_view:
                return
            masks = self.session.on_generated(self.fit(rgb))
        self.publish(masks, msg.header)
        self.record_latency(msg.header, receive_ns, self.now_ns())

    def status_values(self) -> dict[str, str]:
        session = self.session
        return {**super().status_values(), "masks_every": str(session.masks_every),
                "fed_back_frames_taken": str(session.frames_taken),
                "fed_back_frames_skipped": str(session.frames_skipped)}

    def due_for_masks(self) -> bool:
        """Whether CMN takes this fed-back frame (masks_every), decided before it is decoded."""
        with self.lock:
            return self.session.ready and self.person_in_view and self.session.takes_next_frame()


def main(args=None) -> int:
    return spin_node("cmn_node", CmnNode, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
