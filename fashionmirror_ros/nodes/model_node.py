"""Shared by cmn_node and hsg_node: checkpoint, device and threads, source and garment inputs.

Source h^s and garment C arrive on latched topics and can change at run time; parameters
source_image_path / garment_image_path give files to start from. Both are letterboxed onto the
model's square input.
"""
from __future__ import annotations

import torch
from sensor_msgs.msg import Image

from fashionmirror_ros import topics
from fashionmirror_ros.models.checkpoint import CheckpointError, load_checkpoint
from fashionmirror_ros.models.layers import fold_batch_norms
from fashionmirror_ros.nodes.common import (LATCHED_QOS, MirrorNode, StartupError, file_header,
                                            read_rgb_file)
from fashionmirror_ros.pipeline.assets import resolve_checkpoint
from fashionmirror_ros.pipeline.framing import Letterbox
from fashionmirror_ros.pipeline.sessions import InferenceOptions, select_device, warm_up

SOURCE_TOPIC = topics.SOURCE_IMAGE
GARMENT_TOPIC = topics.GARMENT_IMAGE


class ModelNode(MirrorNode):
    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        checkpoint = self.param("checkpoint", "", "checkpoint directory (model.safetensors + "
                                "config.json); empty = the shipped checkpoint of `preset`")
        preset = self.param("preset", "realtime", "model size preset the checkpoint must have",
                            choices=("realtime", "paper"))
        device = self.param("device", "auto", "auto (cuda when available, else cpu), cpu, cuda, cuda:N")
        threads = self.param("num_threads", 1, "torch intra-op threads of this process",
                             int_range=(1, 64))
        bf16 = self.param("bf16_autocast", False, "run the networks under bfloat16 autocast")
        channels_last = self.param("channels_last", True, "channels-last memory format (measured "
                                   "faster for CMN, slower for SFE+HSG on CPU: see config)")
        self.source_path = self.param("source_image_path", "", "image file of the source human h^s")
        self.garment_path = self.param("garment_image_path", "", "image file of the garment C")

        self.num_threads = threads
        torch.set_num_threads(threads)
        try:
            self.options = InferenceOptions(device=select_device(device), bf16_autocast=bf16,
                                            channels_last=channels_last)
            path = resolve_checkpoint(checkpoint, preset)
            self.model, self.config, _ = load_checkpoint(path, device=self.options.device,
                                                         expected_preset=preset)
        except (CheckpointError, FileNotFoundError, ValueError) as error:
            raise StartupError(f"cannot load the model: {error}") from error
        self.model.eval()
        fold_batch_norms(self.model)  # a node only serves frames: 34 fewer passes per hsg step
        if self.options.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.image_size = self.config.image_size
        self.prepare_to_serve()
        warm_up(self.model, self.options, self.image_size)
        self.get_logger().info(f"loaded {path} (preset {self.config.name}) on {self.options.device}, "
                               f"{threads} thread(s), networks warmed up")

    def prepare_to_serve(self) -> None:
        """A node's own preparation of the loaded model (weights final), before the warm-up runs
        every network once: hsg_node traces the step's two halves here."""

    def worker_started(self) -> None:
        """torch's intra-op thread count is per thread (OpenMP): a worker takes the process-wide
        value at its first operation, which another node of the same process may have set
        (`fashionmirror run --single-process`). The first call initialises this thread's count,
        the second sets this node's."""
        torch.get_num_threads()
        torch.set_num_threads(self.num_threads)

    def listen_for_inputs(self, on_source, on_garment) -> None:
        """Subscribe to the source and garment topics, then apply the image-file parameters.

        on_source(rgb, header) / on_garment(rgb, header) get model-sized RGB arrays; an image
        read from a file has a header stamped with the file's modification time (file_header), so
        hsg_node pairs a file source with pose_node's pose of the same file. A failure in them (e.g. non-finite network output) is
        reported as an ERROR naming the topic; the node keeps its previous inputs' state.
        """
        for topic, handler, path in ((SOURCE_TOPIC, on_source, self.source_path),
                                     (GARMENT_TOPIC, on_garment, self.garment_path)):
            self.listen_for_image(topic, handler, path)

    def listen_for_image(self, topic: str, handler, path: str = "") -> None:
        """One latched image input: its topic, and the image file ``path`` to start from."""
        self.subscribe(Image, topic, self._image_handler(topic, handler), LATCHED_QOS)
        if path:
            self.guarded(topic, handler)(self.fit(read_rgb_file(path)), file_header(path))

    def _image_handler(self, topic: str, handler):
        def on_message(msg: Image) -> None:
            rgb = self.decode_color(msg, topic)
            if rgb is not None:
                handler(self.fit(rgb), msg.header)
        return on_message

    def status_values(self) -> dict[str, str]:
        """Which source and garment the node works on (CRC-32, as in TryOnMasks), for operators."""
        session = getattr(self, "session", None)
        if session is None:
            return {}
        return {"source_crc": f"{session.source_crc:08x}", "garment_crc": f"{session.garment_crc:08x}"}

    def fit(self, rgb):
        height, width = rgb.shape[:2]
        return Letterbox.fit(width, height, self.image_size).image(rgb)
