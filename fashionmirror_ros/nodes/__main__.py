"""python -m fashionmirror_ros.nodes NODE [--ros-args ...]: run one node of the package.

The interrupt guard goes in before the node's module is imported: importing torch or MediaPipe
takes seconds, and a Ctrl-C then must end the process quietly too (exit 0, no traceback).
"""
import sys

from fashionmirror_ros.nodes.interrupts import install_interrupt_guard

NODE_MODULES = {
    "pose_node": "fashionmirror_ros.nodes.pose_node",
    "cmn_node": "fashionmirror_ros.nodes.cmn_node",
    "hsg_node": "fashionmirror_ros.nodes.hsg_node",
    "mirror_view": "fashionmirror_ros.nodes.mirror_view",
    "garment_catalog": "fashionmirror_ros.nodes.garment_catalog",
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in NODE_MODULES:
        print(f"usage: python -m fashionmirror_ros.nodes {{{','.join(NODE_MODULES)}}} [--ros-args ...]",
              file=sys.stderr)
        return 2
    install_interrupt_guard()
    try:
        import importlib

        module = importlib.import_module(NODE_MODULES[argv[1]])
        return int(module.main([argv[0], *argv[2:]]) or 0)
    except KeyboardInterrupt:
        return 0  # Ctrl-C during start-up


if __name__ == "__main__":
    sys.exit(main(sys.argv))
