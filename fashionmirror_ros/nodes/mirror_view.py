"""mirror_view: the kiosk screen. The try-on full screen, the camera in an inset, fps and latency;
keys switch garments from a catalogue folder.

Subscribes  tryon/image (reliable, depth 1), camera/image_raw (as pose_node: reliable, shallow);
            both take qos_overrides parameters
Publishes   tryon/garment_image (latched) when a key switches the garment (garment_catalog.py);
            tryon/source_image and tryon/background_image (latched), the camera frame on screen,
            when s / b is pressed (the kiosk's own photo of the person, and its empty view)
Keys        n / p next / previous garment, s this camera frame is h^s (the person to dress),
            b this camera frame is the clean plate (nobody in view), f fullscreen on/off,
            q or Esc quit
Parameters  garment_catalog (folder; its first garment is published at start), fullscreen (true),
            window_width / window_height (when not fullscreen), inset_fraction (0.25)

Drawing is compose_mirror_frame(), a pure function (tested without a window); the window is
OpenCV's highgui (the Qt build inside opencv-contrib-python, which mediapipe brings).
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque

import cv2
import numpy as np

from fashionmirror_ros import topics

WINDOW = "fashionmirror"
INSET_MARGIN = 16
BACKGROUND = (0, 0, 0)
TEXT = (255, 255, 255)
FPS_WINDOW_S = 2.0
KEY_WAIT_MS = 15


def fit_rect(source_width: int, source_height: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h): the largest rectangle of the source's aspect ratio centred in width x height."""
    scale = min(width / source_width, height / source_height)
    fitted_width, fitted_height = max(1, round(source_width * scale)), max(1, round(source_height * scale))
    return (width - fitted_width) // 2, (height - fitted_height) // 2, fitted_width, fitted_height


def inset_rect(camera_width: int, camera_height: int, width: int, height: int,
               fraction: float = 0.25) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the camera inset: `fraction` of the screen width, bottom-right corner."""
    inset_width = max(1, round(width * fraction))
    inset_height = max(1, round(inset_width * camera_height / camera_width))
    return width - INSET_MARGIN - inset_width, height - INSET_MARGIN - inset_height, inset_width, inset_height


def compose_mirror_frame(tryon_rgb: np.ndarray | None, camera_rgb: np.ndarray | None, width: int,
                         height: int, fps: float | None = None, latency_ms: float | None = None,
                         label: str = "", inset_fraction: float = 0.25) -> np.ndarray:
    """The screen (height, width, 3) BGR: try-on fitted full screen on black, the camera inset at the
    bottom right with a white frame, fps / latency / garment label at the top left."""
    canvas = np.zeros((height, width, 3), np.uint8)
    if tryon_rgb is not None:
        x, y, w, h = fit_rect(tryon_rgb.shape[1], tryon_rgb.shape[0], width, height)
        canvas[y:y + h, x:x + w] = cv2.resize(tryon_rgb, (w, h), interpolation=cv2.INTER_LINEAR)[..., ::-1]
    else:
        cv2.putText(canvas, f"waiting for {topics.TRYON_IMAGE}", (24, height // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.8, TEXT, 2, cv2.LINE_AA)
    if camera_rgb is not None and inset_fraction > 0:
        x, y, w, h = inset_rect(camera_rgb.shape[1], camera_rgb.shape[0], width, height, inset_fraction)
        cv2.rectangle(canvas, (x - 2, y - 2), (x + w + 1, y + h + 1), TEXT, 2)
        canvas[y:y + h, x:x + w] = cv2.resize(camera_rgb, (w, h), interpolation=cv2.INTER_AREA)[..., ::-1]
    lines = [f"{fps:.1f} fps" if fps is not None else "-- fps",
             f"latency {latency_ms:.0f} ms" if latency_ms is not None else "latency --"]
    if label:
        lines.append(label)
    for row, text in enumerate(lines):
        origin = (16, 32 + 28 * row)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.7, BACKGROUND, 4, cv2.LINE_AA)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.7, TEXT, 1, cv2.LINE_AA)
    return canvas


class FrameRate:
    """Frames per second over the last FPS_WINDOW_S, and the newest latency."""

    def __init__(self):
        self.arrivals: deque[float] = deque()
        self.latency_ms: float | None = None

    def add(self, now_s: float, latency_ms: float) -> None:
        self.arrivals.append(now_s)
        self.latency_ms = latency_ms
        while self.arrivals and now_s - self.arrivals[0] > FPS_WINDOW_S:
            self.arrivals.popleft()

    def fps(self, now_s: float) -> float | None:
        recent = [t for t in self.arrivals if now_s - t <= FPS_WINDOW_S]
        if len(recent) < 2:
            return None
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


def make_view_node():
    """The ROS side of the view: a node holding the newest try-on and camera frames."""
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from fashionmirror_ros.messages import stamp_ns
    from fashionmirror_ros.nodes.common import CAMERA_QOS, LATCHED_QOS
    from fashionmirror_ros.nodes.garment_catalog import GarmentCatalog, GarmentHolder
    from fashionmirror_ros.pipeline.images import ImageRejected, RawImage, decode_color
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.qos_overriding_options import QoSOverridingOptions

    class MirrorViewNode(Node):
        def __init__(self):
            super().__init__("mirror_view")
            self.catalog_path = self.declare_parameter("garment_catalog", "").value
            self.fullscreen = self.declare_parameter("fullscreen", True).value
            self.window_size = (self.declare_parameter("window_width", 1280).value,
                                self.declare_parameter("window_height", 720).value)
            self.inset_fraction = self.declare_parameter("inset_fraction", 0.25).value
            self.lock = threading.Lock()
            self.tryon: np.ndarray | None = None
            self.camera: np.ndarray | None = None
            self.rate = FrameRate()
            self.label = ""
            newest = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
            options = QoSOverridingOptions.with_default_policies
            self.create_subscription(Image, topics.TRYON_IMAGE, self.on_tryon, newest,
                                     qos_overriding_options=options())
            self.create_subscription(Image, topics.CAMERA_IMAGE, self.on_camera, CAMERA_QOS,
                                     qos_overriding_options=options())
            self.catalog = GarmentCatalog(self.catalog_path) if self.catalog_path else None
            self.index = 0
            self.holder = GarmentHolder(self) if self.catalog is not None else None
            self._latched_qos = LATCHED_QOS
            self.capture_publishers = {}  # topic -> latched publisher, made on first use
            self._stamp_ns = stamp_ns
            self._decode = lambda msg: decode_color(RawImage.from_msg(msg))
            self._rejected = ImageRejected

        def on_tryon(self, msg) -> None:
            now = self.get_clock().now().nanoseconds
            try:
                rgb = self._decode(msg)
            except self._rejected as error:
                self.get_logger().warning(f"try-on frame not shown: {error}", throttle_duration_sec=2.0)
                return
            with self.lock:
                self.tryon = rgb
                self.rate.add(time.monotonic(), (now - self._stamp_ns(msg.header.stamp)) / 1e6)

        def on_camera(self, msg) -> None:
            try:
                rgb = self._decode(msg)
            except self._rejected:
                return
            with self.lock:
                self.camera = rgb

        def show_garment(self, step: int) -> None:
            """Publish catalogue entry index+step (step 0: the current one) and say which."""
            if self.catalog is None:
                self.get_logger().info("no garment_catalog: n/p do nothing")
                return
            # Relative to the garment on the topic (another holder may have switched it).
            current = self.holder.current_rgb
            found = self.catalog.index_of(current) if current is not None else None
            self.index = ((self.index if found is None else found) + step) % len(self.catalog)
            for _ in range(len(self.catalog)):  # skip entries with no garment in them
                try:
                    cutout = self.catalog.cutout(self.index)
                    break
                except ValueError as error:
                    self.get_logger().warning(f"skipping catalogue entry: {error}")
                    self.index = (self.index + (step or 1)) % len(self.catalog)
            else:
                return
            self.holder.publish(cutout.rgb)
            self.label = f"garment {self.index + 1}/{len(self.catalog)}: {self.catalog.files[self.index].stem}"
            self.get_logger().info(f"published {self.label}")

        def capture(self, topic: str, what: str) -> None:
            """Publish the camera frame on screen (latched) on ``topic``: h^s or the clean plate."""
            from std_msgs.msg import Header

            from fashionmirror_ros.messages import rgb_image_msg

            with self.lock:
                camera = self.camera
            if camera is None:
                self.get_logger().warning(f"no camera frame yet: nothing captured as {what}")
                return
            if topic not in self.capture_publishers:
                self.capture_publishers[topic] = self.create_publisher(Image, topic, self._latched_qos)
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id="camera")
            self.capture_publishers[topic].publish(rgb_image_msg(np.ascontiguousarray(camera), header))
            self.label = f"captured {what}"
            self.get_logger().info(f"published the camera frame as {what} on {topic}")

        def frame(self, width: int, height: int) -> np.ndarray:
            with self.lock:
                tryon, camera = self.tryon, self.camera
                fps, latency = self.rate.fps(time.monotonic()), self.rate.latency_ms
            return compose_mirror_frame(tryon, camera, width, height, fps, latency, self.label,
                                        self.inset_fraction)

    return MirrorViewNode()


def screen_size(fullscreen: bool, window_size: tuple[int, int]) -> tuple[int, int]:
    if fullscreen:
        try:
            x, y, width, height = cv2.getWindowImageRect(WINDOW)
            if width > 0 and height > 0:
                return width, height
        except cv2.error:
            pass  # a highgui backend without window geometry: draw at the configured size
    return window_size


def run_window(node, spin_thread: threading.Thread) -> int:
    """The display loop (main thread: highgui wants it): draw, read keys, until q / window closed."""
    cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    fullscreen = bool(node.fullscreen)

    def apply_fullscreen():
        cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN,
                              cv2.WINDOW_FULLSCREEN if fullscreen else cv2.WINDOW_NORMAL)
        if not fullscreen:
            cv2.resizeWindow(WINDOW, *node.window_size)
            cv2.moveWindow(WINDOW, 0, 0)

    apply_fullscreen()
    if node.catalog is not None:
        node.show_garment(0)
    while spin_thread.is_alive():
        width, height = screen_size(fullscreen, node.window_size)
        cv2.imshow(WINDOW, node.frame(width, height))
        key = cv2.waitKey(KEY_WAIT_MS) & 0xFF
        if key in (ord("q"), 27):
            break
        if key == ord("f"):
            fullscreen = not fullscreen
            apply_fullscreen()
        elif key == ord("n"):
            node.show_garment(+1)
        elif key == ord("p"):
            node.show_garment(-1)
        elif key == ord("s"):
            node.capture(topics.SOURCE_IMAGE, "the source h^s")
        elif key == ord("b"):
            node.capture(topics.BACKGROUND_IMAGE, "the clean plate")
        if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            break  # the window was closed
    cv2.destroyAllWindows()
    return 0


def main(args=None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from fashionmirror_ros.nodes.interrupts import ignore_interrupts, install_interrupt_guard

    install_interrupt_guard()
    rclpy.init(args=args)
    node = executor = spinner = None
    try:
        node = make_view_node()
        executor = SingleThreadedExecutor()
        executor.add_node(node)

        def spin():
            try:
                executor.spin()
            except ExternalShutdownException:
                pass  # the context was shut down from outside (Ctrl-C, launch): the window loop ends the view

        spinner = threading.Thread(target=spin, name="mirror-view-spin", daemon=True)
        spinner.start()
        return run_window(node, spinner)
    except KeyboardInterrupt:
        return 0
    except (ValueError, OSError) as error:  # a bad catalogue folder: one line
        print(f"[fatal] mirror_view: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        ignore_interrupts()
        # The spinning thread must be out of rclpy before the node and the context go, or the
        # process aborts ("terminate called without an active exception").
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
        if spinner is not None:
            spinner.join(5.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
