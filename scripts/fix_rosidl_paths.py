"""Point the ROS 2 wheels' CMake exports at this interpreter's Python and NumPy headers.

The PyPI wheels of the ROS 2 message packages hard-code the wheel builder's include paths
(/opt/python/cp311-cp311/...) in their ``*__rosidl_generator_pyExport.cmake`` files, which makes
``rosidl_generate_interfaces`` fail in any other environment. Rewriting those two paths inside
the venv fixes the build without root. Idempotent.
"""
import glob
import os
import sys
import sysconfig

import numpy

BUILDER_PYTHON_INCLUDE = "/opt/python/cp311-cp311/include/python3.11"
BUILDER_NUMPY_INCLUDE = "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"


def main() -> int:
    prefix = sys.prefix
    replacements = {
        BUILDER_NUMPY_INCLUDE: numpy.get_include(),
        BUILDER_PYTHON_INCLUDE: sysconfig.get_paths()["include"],
    }
    changed = 0
    for path in glob.glob(os.path.join(prefix, "share", "*", "cmake", "*.cmake")):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if "/opt/python/cp311-cp311" not in text:
            continue
        for old, new in replacements.items():
            text = text.replace(old, new)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        changed += 1
    print(f"fix_rosidl_paths: rewrote {changed} CMake export file(s) under {prefix}/share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
