"""The run-time pipeline the ROS nodes are thin shells over, testable without ROS.

images    validation and decoding of raw image buffers (what a sensor_msgs/Image carries)
keypoints validation of the 137 keypoints of a PoseKeypoints message (NaN, inf, zero image size)
framing   letterboxing camera frames and keypoints onto the model's square input
stats     rolling latency / rate statistics for NodeLatency and /diagnostics
latest    a one-slot, newest-wins hand-off between a subscription and a worker thread
sessions  the stateful CMN and SFE+HSG steps of a try-on stream
person_layer  the source background with the person removed and filled (numpy + OpenCV only)
"""
