"""The garment catalogue: garment photos published, cut out, on the latched tryon/garment_image.

A latched (transient local) sample is served to late joiners (a respawned cmn_node or hsg_node)
only while its publisher lives, so the catalogue node holds the garment it published. Several
holders can take turns (this node, `fashionmirror garment`, the mirror display's n/p keys): each
listens on the topic, and a holder that sees a newer garment from someone else stops serving its
own, so a late joiner gets the garment on screen and never an old one.

    ros2 run fashionmirror_ros garment_catalog --ros-args -p catalog:=/path/shirts -p index:=0
    fashionmirror garment /path/shirts --next         (see garment_command.py)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from fashionmirror_ros import messages, topics
from fashionmirror_ros.pipeline.garments import DEFAULT_SIZE, GarmentCutout, catalog_files, load_garment


class GarmentCatalog:
    """Catalogue files in order, their cut-outs (made once each) and which one a garment image is."""

    def __init__(self, path: str | Path, size: int = DEFAULT_SIZE):
        path = Path(path).expanduser()
        self.files = catalog_files(path) if path.is_dir() else [path]
        self.size = size
        self._cutouts: dict[int, GarmentCutout] = {}

    def __len__(self) -> int:
        return len(self.files)

    def cutout(self, index: int) -> GarmentCutout:
        index %= len(self.files)
        if index not in self._cutouts:
            self._cutouts[index] = load_garment(self.files[index], self.size)
        return self._cutouts[index]

    def index_of(self, rgb: np.ndarray) -> int | None:
        """Which entry `rgb` (a published garment image) is, or None (not from this catalogue)."""
        for index in range(len(self.files)):
            try:
                cutout = self.cutout(index)
            except ValueError:
                continue  # an entry with no garment in it cannot be the one on the topic
            if cutout.rgb.shape == rgb.shape and np.array_equal(cutout.rgb, rgb):
                return index
        return None


class GarmentHolder:
    """Publishes garments latched on tryon/garment_image from `node`, and steps down when
    someone else publishes a newer one. current_rgb is the garment last seen on the topic."""

    def __init__(self, node, on_change=None):
        from sensor_msgs.msg import Image

        from fashionmirror_ros.nodes.common import LATCHED_QOS

        self.node = node
        self.on_change = on_change
        self._image_type = Image
        self._qos = LATCHED_QOS
        self.publisher = None
        self.published_stamp_ns: int | None = None
        self.current_rgb: np.ndarray | None = None
        self.superseded = False
        node.create_subscription(Image, topics.GARMENT_IMAGE, self._on_garment, LATCHED_QOS)

    def _on_garment(self, msg) -> None:
        from fashionmirror_ros.pipeline.images import ImageRejected, RawImage, decode_color

        stamp_ns = messages.stamp_ns(msg.header.stamp)
        try:
            self.current_rgb = decode_color(RawImage.from_msg(msg))
        except ImageRejected:
            self.current_rgb = None
        if self.published_stamp_ns is not None and stamp_ns > self.published_stamp_ns:
            self.step_down()
        if self.on_change is not None:
            self.on_change(self.current_rgb)

    def publish(self, rgb: np.ndarray) -> None:
        from std_msgs.msg import Header

        if self.publisher is None:
            self.publisher = self.node.create_publisher(self._image_type, topics.GARMENT_IMAGE, self._qos)
        now = self.node.get_clock().now()
        self.published_stamp_ns = now.nanoseconds
        self.superseded = False
        self.publisher.publish(messages.rgb_image_msg(rgb, Header(stamp=now.to_msg(), frame_id="garment")))

    def step_down(self) -> None:
        """Stop serving our garment: a newer one from another holder is on the topic."""
        if self.publisher is not None:
            self.node.get_logger().info("a newer garment is on the topic: no longer holding ours")
            self.node.destroy_publisher(self.publisher)
            self.publisher = None
        self.published_stamp_ns = None
        self.superseded = True

    def wait_for_current(self, timeout_s: float, spin) -> np.ndarray | None:
        """The garment already latched on the topic (someone holds one), waiting up to timeout_s."""
        deadline = time.monotonic() + timeout_s
        while self.current_rgb is None and time.monotonic() < deadline:
            spin(0.05)
        return self.current_rgb


def step_index(catalog: GarmentCatalog, current: np.ndarray | None, step: int) -> int:
    """The entry `step` places after the garment on the topic (from the start if it is not one of
    this catalogue's: the first for --next, the last for --previous)."""
    index = catalog.index_of(current) if current is not None else None
    if index is None:
        return 0 if step >= 0 else len(catalog) - 1
    return (index + step) % len(catalog)


def main(args=None) -> int:
    """The garment_catalog node: parameters catalog (folder or file), index, size."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from fashionmirror_ros.nodes.interrupts import ignore_interrupts, install_interrupt_guard

    install_interrupt_guard()
    rclpy.init(args=args)
    node = rclpy.create_node("garment_catalog")
    try:
        folder = node.declare_parameter("catalog", "").value
        index = node.declare_parameter("index", 0).value
        size = node.declare_parameter("size", DEFAULT_SIZE).value
        if not folder:
            print("[fatal] garment_catalog: parameter 'catalog' (a folder or an image file) is empty",
                  file=sys.stderr, flush=True)
            return 1
        catalog = GarmentCatalog(folder, size)
        cutout = catalog.cutout(index)
        holder = GarmentHolder(node)
        holder.publish(cutout.rgb)
        node.get_logger().info(f"holding garment {index % len(catalog)} of {len(catalog)}: "
                               f"{catalog.files[index % len(catalog)].name} ({cutout.method}, "
                               f"{cutout.coverage:.0%} of the photo)")
        # Stays up after stepping down: under ros2 launch an exit would respawn it, and the
        # respawned node would put the first garment back over the one chosen since.
        rclpy.spin(node)
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except (ValueError, OSError) as error:
        print(f"[fatal] garment_catalog: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        ignore_interrupts()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
