"""hsg_node: skeleton flow extraction (SFE, eq. 4) and human sequence generation (HSG, eq. 8).

Subscribes  pose/keypoints (newest wins), cmn/masks, tryon/source_image,
            tryon/garment_image, tryon/source_keypoints, tryon/source_person_mask,
            tryon/background_image (latched; optional: the camera's empty view)
Publishes   tryon/image (rgb8, model-sized, header = the camera frame's header; qos_overrides),
            fashionmirror/latency, /diagnostics
Recurrent: keeps h^t and p^t; starts from h^0 = h^s and p^0 = the source pose. With no person
in view it publishes nothing and restarts from h^s when the person comes back. The skeleton
p^t is rendered here from the keypoints (1.6 kB per frame on the wire instead of a 196 kB image),
with the same renderer pose_node uses for /pose/skeleton; keypoints with NaN/inf or for a
zero-sized image are rejected before anything is drawn. The keypoint prior (realtime preset)
needs the person mask of h^s that pose_node latches; a source in which pose_node found nobody is
refused (nothing published, the reason on /diagnostics) until another source comes.
Behind the person, h^s's background is inpainted, or taken from a clean plate (the static
camera's view with nobody in it: tryon/background_image or background_image_path) when one
matches h^s outside the person; a plate of another scene is refused with the reason.
Two threads (parameter prepare_motion_ahead): one takes the newest keypoints and computes what the
poses alone decide (SFE's flows, the keypoint geometry: ``GenerationSession.prepare``), the other
generates; the first takes a new frame only once the second has taken the one it prepared, so
at most one frame waits between them and it is never older than the newest camera frame was
when the first thread became free.
"""
from __future__ import annotations

import sys
import threading

from fashionmirror_ros import topics
from fashionmirror_ros.msg import PoseKeypoints, TryOnMasks
from fashionmirror_ros.messages import decode_mask, rgb_image_msg, stamp_ns
from fashionmirror_ros.models.traced import trace_motion, trace_render
from fashionmirror_ros.nodes.common import LATCHED_QOS, OUTPUT_QOS, spin_node
from fashionmirror_ros.nodes.model_node import ModelNode
from fashionmirror_ros.pipeline.framing import Letterbox
from fashionmirror_ros.pipeline.images import ImageRejected
from fashionmirror_ros.pipeline.keypoints import KeypointsRejected, checked_keypoints
from fashionmirror_ros.pipeline.latest import LatestSlot
from fashionmirror_ros.pipeline.sessions import GenerationSession, Masks, NotReady
from sensor_msgs.msg import Image

KEYPOINTS_TOPIC = topics.POSE_KEYPOINTS
SOURCE_KEYPOINTS_TOPIC = topics.SOURCE_KEYPOINTS
SOURCE_PERSON_TOPIC = topics.SOURCE_PERSON_MASK
BACKGROUND_TOPIC = topics.BACKGROUND_IMAGE
MASKS_TOPIC = topics.CMN_MASKS


class HsgNode(ModelNode):
    def __init__(self, **kwargs):
        super().__init__("hsg_node", **kwargs)
        replace_worn = self.param(
            "replace_worn_garment", True, "the garment on tryon/garment_image is never the one the "
            "person wears (a catalogue): remove what it covers on h^s whatever CMN judges (CMN, "
            "trained on generated people, misjudges real photos); false lets CMN decide")
        fill = self.param(
            "background_fill", "telea", "how h^s's background behind the person is filled without a "
            "clean plate: telea (smooth, 3 ms) or fsr (continues texture, 0.5 s per source; the "
            "evaluation found pose following worse with it: pipeline/person_layer.py)",
            choices=("telea", "fsr"))
        self.session = GenerationSession(self.model, self.options, self.image_size,
                                         replace_worn_garment=replace_worn, background_fill=fill)
        self.lock = threading.Lock()
        self.source_stamp: int | None = None
        self.source_pose: tuple[int, object] | None = None  # (stamp ns, model-frame keypoints)
        self.source_person: tuple[int, object] | None = None  # (stamp ns, model-frame mask)
        self.person_in_view = True
        pipelined = self.param(
            "prepare_motion_ahead", True, "compute the next frame's SFE flows and keypoint "
            "geometry on a second thread while the current frame is generated (the step's two "
            "halves overlap; same frames as in line: docs/bench/bench.md has the gain)")
        self.tryon_pub = self.create_publisher(Image, topics.TRYON_IMAGE, OUTPUT_QOS,
                                              **self.overridable_qos(topics.TRYON_IMAGE))
        if pipelined:
            # keypoints -> prepare (this thread) -> one prepared frame -> generate (a second thread)
            self.prepared = LatestSlot()
            self.subscribe_newest(PoseKeypoints, KEYPOINTS_TOPIC, self.prepare, OUTPUT_QOS, watched=True,
                                  turn=self.prepared.wait_until_empty)
            self.start_worker("hsg_node-generate", self.prepared, self.guarded(KEYPOINTS_TOPIC, self.generate))
        else:
            self.subscribe_newest(PoseKeypoints, KEYPOINTS_TOPIC, self.process, OUTPUT_QOS, watched=True)
        self.subscribe(TryOnMasks, MASKS_TOPIC, self.on_masks, LATCHED_QOS)
        self.subscribe(PoseKeypoints, SOURCE_KEYPOINTS_TOPIC, self.on_source_pose, LATCHED_QOS)
        self.subscribe(Image, SOURCE_PERSON_TOPIC, self.on_source_person, LATCHED_QOS)
        self.listen_for_inputs(self.on_source, self.on_garment)
        self.listen_for_image(BACKGROUND_TOPIC, self.on_background, self.param(
            "background_image_path", "", "image file of the camera's view with nobody in it (a "
            "clean plate, same camera and framing as h^s): shown behind the person instead of "
            "the inpainted background; empty = tryon/background_image or none"))
        self.update_waiting()

    def prepare_to_serve(self) -> None:
        if self.param("trace_motion", True, "run the motion half of the step (the prior's flows, "
                      "SFE, h^s's part of eq. 8) as TorchScript: the GIL is released while it runs, "
                      "which the two threads of prepare_motion_ahead need (models/traced.py)"):
            trace_motion(self.model, self.options.bf16_autocast)
        traced_render = self.param(
            "trace_render", True, "run the render half of the step (HSG on h^t and the composition) "
            "as TorchScript: no GIL held, the bf16 weights cast once; float32 images equal the eager "
            "ones, bf16 ones differ by rounding (models/traced.py)")
        if traced_render and self.model.hsg.composes:  # the literal model renders eagerly
            trace_render(self.model, self.options.bf16_autocast)

    def update_waiting(self) -> None:
        self.waiting(self.session.missing() or (None if self.person_in_view else "no person in view"))

    def model_keypoints(self, msg: PoseKeypoints, topic: str):
        """The message's keypoints letterboxed into the model frame, or None after a reject."""
        try:
            keypoints = checked_keypoints(msg.x, msg.y, msg.confidence, msg.image_width, msg.image_height)
        except KeypointsRejected as error:
            self.reject(topic, str(error))
            return None
        return Letterbox.fit(msg.image_width, msg.image_height, self.image_size).keypoints(keypoints)

    def on_source(self, rgb, header) -> None:
        with self.lock:
            self.session.set_source(rgb)
            self.source_stamp = stamp_ns(header.stamp) if header is not None else None
            self.apply_source_pose()
            self.apply_source_person()
            self.update_waiting()
            self.report_background()

    def on_background(self, rgb, header) -> None:
        with self.lock:
            self.session.set_background_plate(rgb)
            self.report_background()

    def report_background(self) -> None:
        """A refused plate is a rejected input (diagnostics WARN with the reason)."""
        kind = self.session.background_kind
        if kind.startswith("plate refused"):
            self.reject(BACKGROUND_TOPIC, kind)

    def on_garment(self, rgb, header) -> None:
        with self.lock:
            self.session.set_garment(rgb)
            self.update_waiting()
        self.get_logger().info(f"new garment {self.session.garment_crc:08x}: frames resume when "
                               "cmn_node's masks for it arrive")

    def on_source_pose(self, msg: PoseKeypoints) -> None:
        keypoints = self.model_keypoints(msg, SOURCE_KEYPOINTS_TOPIC) if msg.person_found else None
        with self.lock:
            self.source_pose = None if keypoints is None else (stamp_ns(msg.header.stamp), keypoints)
            self.apply_source_pose()

    def on_source_person(self, msg: Image) -> None:
        try:
            mask = decode_mask(msg)
        except ImageRejected as error:
            self.reject(SOURCE_PERSON_TOPIC, str(error))
            return
        height, width = mask.shape
        with self.lock:
            self.source_person = (stamp_ns(msg.header.stamp),
                                  Letterbox.fit(width, height, self.image_size).mask(mask))
            self.apply_source_person()
            self.update_waiting()
            self.report_background()

    def apply_source_person(self) -> None:
        """The person mask of h^s, if pose_node segmented this very source image."""
        if self.source_person is not None and self.source_person[0] == self.source_stamp:
            self.session.set_source_person(self.source_person[1])

    def apply_source_pose(self) -> None:
        """p^0: the pose of h^s, if pose_node found one in this very source image."""
        if self.source_pose is not None and self.source_pose[0] == self.source_stamp:
            self.session.set_source_pose(self.source_pose[1])

    def on_masks(self, msg: TryOnMasks) -> None:
        try:
            removed = decode_mask(msg.removed_mask)
            cloth = decode_mask(msg.cloth_mask)
        except ImageRejected as error:
            self.reject(MASKS_TOPIC, str(error))
            return
        size = (self.image_size, self.image_size)
        if removed.shape != size or cloth.shape != size:
            self.reject(MASKS_TOPIC, f"masks {removed.shape}/{cloth.shape} do not match model size {size}")
            return
        with self.lock:
            self.session.offer_masks(Masks(removed, cloth, msg.multi_frame, msg.source_crc, msg.garment_crc))
            self.update_waiting()

    def process(self, msg: PoseKeypoints, receive_ns: int) -> None:
        """One thread: a frame's motion and its generation in line."""
        keypoints = self.model_keypoints(msg, KEYPOINTS_TOPIC) if msg.person_found else None
        if msg.person_found and keypoints is None:
            return
        self.generate(msg, receive_ns, keypoints)

    def prepare(self, msg: PoseKeypoints, receive_ns: int) -> None:
        """The first of two threads: the frame's pose inputs and its motion, computed while the
        frame before is still being generated, handed to ``generate``."""
        if not msg.person_found:
            self.prepared.put((msg, receive_ns, None))
            return
        keypoints = self.model_keypoints(msg, KEYPOINTS_TOPIC)
        if keypoints is not None:
            self.prepared.put((msg, receive_ns, self.session.prepare(keypoints)))

    def generate(self, msg: PoseKeypoints, receive_ns: int, keypoints) -> None:
        """h_g^{t+1} for the frame (keypoints or a prepared frame; None: nobody in view)."""
        if keypoints is None:
            with self.lock:
                self.session.reset()
                self.person_in_view = False
                self.update_waiting()
            return
        try:
            with self.lock:
                self.person_in_view = True
                frame = self.session.step(keypoints)
        except NotReady:
            self.update_waiting()
            return
        self.update_waiting()
        self.tryon_pub.publish(rgb_image_msg(frame, msg.header))
        self.record_latency(msg.header, receive_ns, self.now_ns())

    def status_values(self) -> dict[str, str]:
        session = self.session
        return {**super().status_values(), "background": session.background_kind,
                "motions_prepared_ahead": str(session.motions_prepared),
                "motions_redone": str(session.motions_redone)}


def main(args=None) -> int:
    return spin_node("hsg_node", HsgNode, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
