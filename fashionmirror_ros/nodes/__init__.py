"""ROS 2 nodes: thin shells over fashionmirror_ros.pipeline, .pose and .models."""
