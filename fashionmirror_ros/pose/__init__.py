"""Pose estimation PE(.) (paper eq. 3): keypoints in the OpenPose 137-point layout and skeleton images p^t."""
