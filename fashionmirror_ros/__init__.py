"""fashionmirror_ros: live virtual try-on (FashionMirror, ICCV 2021) as a ROS 2 node graph.

The source tree and the colcon-installed package (which adds the generated ``msg`` module) are
merged into one package, so ``fashionmirror_ros.msg`` imports even when the source folder comes
first on ``sys.path``.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
