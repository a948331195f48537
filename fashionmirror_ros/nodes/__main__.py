"""python -m fashionmirror_ros.nodes NODE [--ros-args ...]: run one node of the package.

The interrupt guard goes in before the node's module is imported: importing torch or MediaPipe
takes seconds, and a Ctrl-C then must end the process quietly too (exit 0, no traceback).
"""
import os
import sys

from fashionmirror_ros.nodes.interrupts import install_interrupt_guard

NODE_MODULES = {
    "pose_node": "fashionmirror_ros.nodes.pose_node",
    "cmn_node": "fashionmirror_ros.nodes.cmn_node",
    "hsg_node": "fashionmirror_ros.nodes.hsg_node",
    "mirror_view": "fashionmirror_ros.nodes.mirror_view",
    "garment_catalog": "fashionmirror_ros.nodes.garment_catalog",
}


# Nodes that can share a process (`python -m fashionmirror_ros.nodes graph pose_node,cmn_node,hsg_node`):
# module and class of each.
NODE_CLASSES = {
    "pose_node": ("fashionmirror_ros.nodes.pose_node", "PoseNode"),
    "cmn_node": ("fashionmirror_ros.nodes.cmn_node", "CmnNode"),
    "hsg_node": ("fashionmirror_ros.nodes.hsg_node", "HsgNode"),
}
USAGE = (f"usage: python -m fashionmirror_ros.nodes {{{','.join(NODE_MODULES)}}} [--ros-args ...]\n"
         f"       python -m fashionmirror_ros.nodes graph NODE[,NODE...] [--executor single|multi] "
         f"[--ros-args ...]  (nodes of {sorted(NODE_CLASSES)} in one process, one executor)")


def main(argv: list[str]) -> int:
    group = len(argv) >= 3 and argv[1] == "graph"
    names = argv[2].split(",") if group else []
    if group and (not names or any(name not in NODE_CLASSES for name in names)
                  or len(set(names)) != len(names)):
        print(USAGE, file=sys.stderr)
        return 2
    if not group and (len(argv) < 2 or argv[1] not in NODE_MODULES):
        print(USAGE, file=sys.stderr)
        return 2
    install_interrupt_guard()
    try:
        import importlib

        if group:
            from fashionmirror_ros.nodes.common import EXECUTORS, spin_nodes

            rest = argv[3:]
            executor = "single"
            if rest[:1] == ["--executor"]:
                if len(rest) < 2 or rest[1] not in EXECUTORS:
                    print(USAGE, file=sys.stderr)
                    return 2
                executor, rest = rest[1], rest[2:]
            factories = {name: getattr(importlib.import_module(NODE_CLASSES[name][0]), NODE_CLASSES[name][1])
                         for name in names}
            return spin_nodes(factories, [argv[0], *rest], executor)
        module = importlib.import_module(NODE_MODULES[argv[1]])
        return int(module.main([argv[0], *argv[2:]]) or 0)
    except KeyboardInterrupt:
        # Ctrl-C during start-up: no node exists yet, nothing to clean up. Leave at once: a
        # module interrupted half-way through its import (torch) can make the interpreter's
        # finalisation end the process by SIGINT (exit -2, measured in 2 to 5 of 25 starts).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
