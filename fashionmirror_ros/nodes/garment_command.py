"""`fashionmirror garment FILE|DIR [--next|--previous|--index N]`: publish a garment, cut out.

The photo is cut out (pipeline/garments.py) and published on the latched tryon/garment_image
(in --namespace). The command then holds it for late joiners until Ctrl-C, or until another
holder publishes a newer garment (e.g. the next `fashionmirror garment DIR --next`); --once waits
until the subscribers present have it, then exits. A photo with no garment in it is refused
with the reason, exit 2, and nothing is published.
"""
from __future__ import annotations

import argparse
import sys
import time

ACK_TIMEOUT_S = 10.0
DISCOVERY_SETTLE_S = 1.5  # no new subscriber for this long: discovery of the ones running is done
CURRENT_WAIT_S = 2.0  # how long --next/--previous listen for the garment already on the topic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a garment photo, or a catalogue folder of them")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--index", type=int, default=None, help="catalogue entry N (0 = first, sorted by name)")
    choice.add_argument("--next", action="store_true", help="the entry after the garment on the topic")
    choice.add_argument("--previous", action="store_true", help="the entry before the garment on the topic")
    parser.add_argument("--namespace", default="", help="the mirror's namespace (e.g. kiosk1)")
    parser.add_argument("--size", type=int, default=512, help="side of the published square image")
    parser.add_argument("--once", action="store_true",
                        help="exit once the current subscribers have the garment (late joiners then miss it)")


def run(args: argparse.Namespace) -> int:
    from fashionmirror_ros.nodes.garment_catalog import GarmentCatalog, step_index

    catalog = GarmentCatalog(args.path, args.size)
    if args.index is not None and not args.next and not args.previous:
        catalog.cutout(args.index)  # refuse a photo without a garment before touching ROS

    import rclpy

    from fashionmirror_ros.nodes.garment_catalog import GarmentHolder
    from fashionmirror_ros.nodes.graph_params import normalize_namespace
    from fashionmirror_ros.nodes.interrupts import ignore_interrupts, install_interrupt_guard

    install_interrupt_guard()
    rclpy.init()
    node = rclpy.create_node("garment_command", namespace=normalize_namespace(args.namespace) or None,
                             start_parameter_services=False)
    holder = GarmentHolder(node)
    try:
        if args.next or args.previous:
            current = holder.wait_for_current(CURRENT_WAIT_S, lambda t: rclpy.spin_once(node, timeout_sec=t))
            index = step_index(catalog, current, -1 if args.previous else 1)
        else:
            index = (args.index or 0) % len(catalog)
        cutout = catalog.cutout(index)
        holder.publish(cutout.rgb)
        print(f"fashionmirror garment: published {index} of {len(catalog)}: {catalog.files[index]} "
              f"({cutout.method}, garment {cutout.coverage:.0%} of the photo) on "
              f"{node.resolve_topic_name(holder.publisher.topic_name)}", flush=True)
        if args.once:
            _wait_for_subscribers(node, holder)
            return 0
        while not holder.superseded:
            rclpy.spin_once(node, timeout_sec=0.2)
        print("fashionmirror garment: a newer garment was published: done", flush=True)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        ignore_interrupts()
        node.destroy_node()
        rclpy.try_shutdown()


def _wait_for_subscribers(node, holder) -> None:
    """Reliable delivery to the subscribers matched now (cmn_node, hsg_node), within a time-out."""
    import rclpy
    from rclpy.duration import Duration

    # Discovery brings the subscribers one by one (our own, the previous holder's, the nodes'):
    # the first match is not all of them, so wait until no new one appeared for a settle period.
    deadline = time.monotonic() + ACK_TIMEOUT_S
    count, changed = holder.publisher.get_subscription_count(), time.monotonic()
    while time.monotonic() < deadline and (count <= 1 or time.monotonic() - changed < DISCOVERY_SETTLE_S):
        rclpy.spin_once(node, timeout_sec=0.1)
        now_count = holder.publisher.get_subscription_count()
        if now_count != count:
            count, changed = now_count, time.monotonic()
    if not holder.publisher.wait_for_all_acked(Duration(seconds=max(0.1, deadline - time.monotonic()))):
        print("fashionmirror garment: not every subscriber acknowledged the garment in time",
              file=sys.stderr, flush=True)
