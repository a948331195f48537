"""pose_node: camera frames -> PoseKeypoints (137-point OpenPose layout) and skeleton images p^t.

Subscribes  camera/image_raw (reliable, keep-last 20; qos_overrides), tryon/source_image (latched),
            fashionmirror/latency (the generator's answers: max_frames_in_flight paces the pose
            estimates to what hsg_node can generate, pipeline/pacing.py)
Publishes   pose/keypoints (PoseKeypoints), pose/skeleton (rgb8, model-sized p^t, rendered only
            while someone subscribes), tryon/source_keypoints (latched: the pose of h^s, for p^0,
            from the topic or from source_image_path), tryon/source_person_mask (latched, mono8:
            where the person is in h^s, MediaPipe Pose segmentation, for the keypoint prior),
            fashionmirror/latency, /diagnostics
MediaPipe runs on every estimate_every-th frame processed; the keypoints of the frames between
follow optical flow (pose/tracking.py: about 1 ms against 19-21 for BlazePose, re-estimated
whenever the flow loses the person). With estimator:=recorded the keypoints come from a recorded topic (ground truth of generated
clips in a bag) matched to each camera frame by stamp, instead of from MediaPipe; the source image
is still segmented. A source image with no person in it is refused: an ERROR on /diagnostics, an
empty person mask latched (hsg_node then publishes nothing and says why).
"""
from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np
from sensor_msgs.msg import Image

from fashionmirror_ros import topics
from fashionmirror_ros.msg import NodeLatency, PoseKeypoints
from fashionmirror_ros.messages import (keypoints_array, keypoints_msg, mono_image_msg, rgb_image_msg,
                                        stamp_ns)
from fashionmirror_ros.nodes.common import (CAMERA_QOS, LATCHED_QOS, OUTPUT_QOS, MirrorNode,
                                            StartupError, file_header, read_rgb_file, spin_node)
from fashionmirror_ros.pipeline.framing import Letterbox
from fashionmirror_ros.pipeline.keypoints import KeypointsRejected, checked_keypoints
from fashionmirror_ros.pipeline.pacing import GeneratorPacer
from fashionmirror_ros.pose.estimators import make_estimator
from fashionmirror_ros.pose.native_logs import silence_native_logs
from fashionmirror_ros.pose.segmentation import PersonSegmenter
from fashionmirror_ros.pose.skeleton import render_skeleton
from fashionmirror_ros.pose.tracking import TrackedEstimator

RECORDED_BUFFER = 256  # recorded keypoints waiting for their camera frame (bounded)
CAMERA_TOPIC = topics.CAMERA_IMAGE
SOURCE_TOPIC = topics.SOURCE_IMAGE
CAMERA_QOS_ADVICE = ("A best-effort camera needs qos_overrides./<namespace>/camera/image_raw."
                     "subscription.reliability:=best_effort on pose_node (frames over ~500 kB then "
                     "rarely arrive over Fast DDS); better, publish the camera reliable.")


class PoseNode(MirrorNode):
    def __init__(self, **kwargs):
        super().__init__("pose_node", **kwargs)
        self.estimator_name = self.param(
            "estimator", "mediapipe_pose", "pose source: mediapipe_pose (BlazePose body landmarks, the "
            "faster live default, as config/mirror.yaml sets it), mediapipe (Holistic: body, hands "
            "and face, 137 points) or recorded (keypoints replayed from a topic)",
            choices=("mediapipe", "mediapipe_pose", "recorded"))
        complexity = self.param("model_complexity", 1, "MediaPipe model complexity (the 0.10.21 "
                                "wheel ships the complexity-1 model only)", int_range=(0, 2))
        detection = self.param("min_detection_confidence", 0.5, "MediaPipe person detection threshold",
                               float_range=(0.0, 1.0))
        max_side = self.param("max_input_side", 320, "downscale camera frames to this longer side "
                              "before pose estimation (0 = never)", int_range=(0, 4096))
        estimate_every = self.param("estimate_every", 3, "run MediaPipe on every Nth camera frame it "
                                    "processes and move the keypoints along optical flow on the "
                                    "frames between (pose/tracking.py; 1 = MediaPipe on every frame)",
                                    int_range=(1, 10))
        self.image_size = self.param("image_size", 256, "side of the model-sized skeleton image p^t",
                                     int_range=(32, 1024))
        self.publish_skeleton = self.param("publish_skeleton", True, "publish pose/skeleton (rendered "
                                           "only while it has subscribers)")
        recorded_topic = self.param("recorded_keypoints_topic", topics.CAMERA_KEYPOINTS,
                                    "PoseKeypoints topic replayed when estimator is 'recorded'")
        source_path = self.param("source_image_path", "", "image file of the source human h^s: its "
                                 "pose p^0 is published on tryon/source_keypoints")
        self.generator_name = self.param("generator_node", "hsg_node", "name of the node whose "
                                         "per-frame latency messages say a frame was generated")
        self.pacer = GeneratorPacer(
            self.param("max_frames_in_flight", 2, "estimate a camera frame only while fewer than "
                       "this many of the frames sent to the generator are unanswered (the newest "
                       "frame is estimated when the generator has room; 0 = estimate every frame)",
                       int_range=(0, 100)),
            self.param("generator_patience_s", 0.5, "a generator silent this long is not waited "
                       "for (and a frame unanswered this long is forgotten)",
                       float_range=(0.01, 60.0)))
        self.skeletons_rendered = 0

        self.keypoints_pub = self.create_publisher(PoseKeypoints, topics.POSE_KEYPOINTS, OUTPUT_QOS)
        self.skeleton_pub = self.create_publisher(Image, topics.POSE_SKELETON, OUTPUT_QOS)
        self.source_pose_pub = self.create_publisher(PoseKeypoints, topics.SOURCE_KEYPOINTS, LATCHED_QOS)
        self.source_person_pub = self.create_publisher(Image, topics.SOURCE_PERSON_MASK, LATCHED_QOS)

        self.recorded: OrderedDict[int, np.ndarray] = OrderedDict()
        silence_native_logs()  # MediaPipe/TFLite/absl print ~20 lines of chatter at start-up
        self.estimator = self.source_estimator = None
        try:
            if self.estimator_name != "recorded":
                kwargs = dict(model_complexity=complexity, min_detection_confidence=detection,
                              max_input_side=max_side or None)
                self.estimator = TrackedEstimator(make_estimator(self.estimator_name, **kwargs),
                                                  estimate_every)
                self.source_estimator = make_estimator(self.estimator_name, static_image_mode=True,
                                                       **kwargs)
            self.segmenter = PersonSegmenter(static_image_mode=True)
        except Exception as error:  # noqa: BLE001 - report any MediaPipe start-up failure
            raise StartupError(f"MediaPipe could not start: {error}") from error
        if self.estimator is None:
            self.subscribe(PoseKeypoints, recorded_topic, self.on_recorded, 50)
        self.subscribe(Image, SOURCE_TOPIC, self.on_source, LATCHED_QOS)
        if source_path:
            self.estimate_source(read_rgb_file(source_path), file_header(source_path))

        self.subscribe(NodeLatency, topics.LATENCY, self.on_latency, OUTPUT_QOS)
        self.subscribe_newest(Image, CAMERA_TOPIC, self.process, CAMERA_QOS, watched=True,
                              turn=self.pacer.wait_for_turn,
                              **self.overridable_qos(CAMERA_TOPIC, CAMERA_QOS_ADVICE))
        self.get_logger().info(f"pose_node ready (estimator={self.estimator_name})")

    def on_recorded(self, msg: PoseKeypoints) -> None:
        """Recorded keypoints wait (bounded) for their camera frame; validated when it comes."""
        self.recorded[stamp_ns(msg.header.stamp)] = keypoints_array(msg)
        while len(self.recorded) > RECORDED_BUFFER:
            self.recorded.popitem(last=False)

    def on_latency(self, msg: NodeLatency) -> None:
        if msg.node_name == self.generator_name:
            self.pacer.answered(stamp_ns(msg.header.stamp))

    def on_source(self, msg: Image) -> None:
        rgb = self.decode_color(msg, SOURCE_TOPIC)
        if rgb is None:
            return
        self.estimate_source(rgb, msg.header)

    def estimate_source(self, rgb: np.ndarray, header) -> None:
        """The person in h^s, latched with the source's stamp (hsg_node pairs them with the source
        image it has by that stamp): its mask on tryon/source_person_mask and, unless the pose is
        replayed from a recording, its pose p^0 on tryon/source_keypoints."""
        rgb = np.ascontiguousarray(rgb)
        person = self.segmenter.person_mask(rgb)
        if not person.any():
            self.fail("no person found in the source image: refused (the try-on needs a photo of "
                      "a person on tryon/source_image)", SOURCE_TOPIC)
        self.source_person_pub.publish(mono_image_msg(person * 255, header))
        self.get_logger().info(f"new source: person mask latched ({int(person.sum())} pixels)")
        if self.source_estimator is None:
            return
        result = self.source_estimator.estimate(rgb)
        if person.any() and not result.person_found:
            self.reject(SOURCE_TOPIC, "no pose found in the source image; "
                        "p^0 will be the first camera pose")
        height, width = rgb.shape[:2]
        self.source_pose_pub.publish(keypoints_msg(result.keypoints, header, width, height,
                                                   result.person_found, self.estimator_name))

    def estimate(self, msg: Image, rgb: np.ndarray) -> tuple[np.ndarray, bool] | None:
        if self.estimator is not None:
            result = self.estimator.estimate(np.ascontiguousarray(rgb), stamp_ns(msg.header.stamp))
            return result.keypoints, result.person_found
        keypoints = self.recorded.pop(stamp_ns(msg.header.stamp), None)
        if keypoints is None:
            self.reject(CAMERA_TOPIC, "no recorded keypoints with this frame's stamp")
            return None
        return keypoints, bool((keypoints[:, 2] > 0).any())

    def process(self, msg: Image, receive_ns: int) -> None:
        rgb = self.decode_color(msg, CAMERA_TOPIC)
        if rgb is None:
            return
        estimate = self.estimate(msg, rgb)
        if estimate is None:
            return
        keypoints, found = estimate
        try:
            keypoints = checked_keypoints(*np.asarray(keypoints, np.float32).reshape(-1, 3).T,
                                          msg.width, msg.height)
        except KeypointsRejected as error:
            self.reject(CAMERA_TOPIC, f"pose estimate for this frame: {error}")
            return
        self.waiting(None if found else "no person in view")
        if found:  # the generator answers frames with a person in them only
            self.pacer.sent(stamp_ns(msg.header.stamp))
        self.keypoints_pub.publish(keypoints_msg(keypoints, msg.header, msg.width, msg.height, found,
                                                 self.estimator_name))
        # Rendering p^t costs about a millisecond a frame: done only while someone watches it.
        if self.publish_skeleton and found and self.skeleton_pub.get_subscription_count() > 0:
            self.skeletons_rendered += 1
            box = Letterbox.fit(msg.width, msg.height, self.image_size)
            skeleton = render_skeleton(box.keypoints(keypoints), self.image_size, self.image_size)
            self.skeleton_pub.publish(rgb_image_msg(skeleton, msg.header))
        self.record_latency(msg.header, receive_ns, self.now_ns())

    def status_values(self) -> dict[str, str]:
        tracking = {}
        if isinstance(self.estimator, TrackedEstimator):
            tracking = {"frames_estimated": str(self.estimator.frames_estimated),
                        "frames_tracked": str(self.estimator.frames_tracked),
                        "tracking_lost": str(self.estimator.tracking_lost)}
        return {**tracking, "skeletons_rendered": str(self.skeletons_rendered),
                "pacing": "on" if self.pacer.pacing else "off",
                "frames_held_for_generator": str(self.pacer.held_back)}

    def close(self) -> None:
        super().close()
        for estimator in (self.estimator, self.source_estimator, getattr(self, "segmenter", None)):
            if estimator is not None:
                estimator.close()


def main(args=None) -> int:
    return spin_node("pose_node", PoseNode, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
