"""The stateful steps of a try-on stream: CMN masks (cmn_node) and SFE + HSG frames (hsg_node).

Paper eq. 7: h_g^{t+1} = G_h(h^s, C, p^t -> p^{t+1}, CMN(h^{t-2..t}, C)), recurrent with h^0 = h^s.
Our reading for a live stream:
- Masks. On a new (h^s, C) the CMN runs in single-frame mode on the source: M_r (fixed for the
  session) and M_c. Each generated frame fed back from /tryon/image is another CMN input: the
  first two in single-frame mode, then multi-frame mode on the last three generated frames,
  predicting M_c^{t+1}. In the pipelined graph the generator uses the newest M_c it has, which
  may be one frame older than the paper's (the feedback lag, measured by the replay report).
- Frames. p^0 is the source image's pose (pose_node estimates it). If it is not known yet, the
  first camera pose stands in for it (h^0 = h^s is then assumed to be in that pose). When the
  person leaves the view the recurrence is reset, so a returning person starts again from h^s;
  cmn_node then restarts the mask history and publishes the source masks again, so the first
  frame after a return is generated exactly as the first frame of the stream was.
- Masks carry CRC-32 identifiers of the source and garment they were computed for; the
  generator ignores masks for another source or garment (no old-garment mask after a swap).
All images here are model-sized RGB uint8 (S, S, 3); masks uint8 (S, S) with 255 = 1.0.
"""
from __future__ import annotations

from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from fashionmirror_ros.pipeline.images import image_crc
from fashionmirror_ros.pose.skeleton import render_skeleton

SINGLE_FRAME_STEPS = 2  # the paper's first two frames use single-frame CMN
MULTI_FRAME_HISTORY = 3  # h^{t-2}, h^{t-1}, h^t


class NonFiniteOutput(RuntimeError):
    """A network produced NaN or inf (e.g. a corrupt checkpoint); nothing is published."""


def select_device(name: str) -> torch.device:
    """'auto' = cuda when available, else cpu; 'cpu'; 'cuda' / 'cuda:N' (error if absent)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{name}' requested but CUDA is not available (use 'auto' or 'cpu')")
    return device


@dataclass(frozen=True)
class InferenceOptions:
    device: torch.device
    bf16_autocast: bool = False
    channels_last: bool = True

    def autocast(self):
        if not self.bf16_autocast:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)


def image_tensor(rgb: np.ndarray, options: InferenceOptions) -> torch.Tensor:
    """(S, S, 3) uint8 -> (1, 3, S, S) float in [0, 1] on the device."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).to(options.device)
    tensor = tensor.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    return tensor.contiguous(memory_format=torch.channels_last) if options.channels_last else tensor


def mask_tensor(mask: np.ndarray, options: InferenceOptions) -> torch.Tensor:
    """(S, S) uint8 with 255 = 1 -> (1, 1, S, S) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(mask)).to(options.device)[None, None].float().div_(255.0)


def checked(tensor: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.isfinite(tensor).all():
        raise NonFiniteOutput(f"{what} contains NaN or inf; check the checkpoint")
    return tensor


def to_uint8_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, S, S) in [0, 1] -> (S, S, 3) uint8."""
    return (tensor[0].float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).contiguous().cpu().numpy())


def to_uint8_mask(tensor: torch.Tensor) -> np.ndarray:
    """(1, 1, S, S) in [0, 1] -> (S, S) uint8."""
    return tensor[0, 0].float().clamp(0, 1).mul(255).round().byte().cpu().numpy()


@torch.inference_mode()
def warm_up(model, options: InferenceOptions, image_size: int) -> None:
    """Run every network once on blank inputs: the first call of a PyTorch CPU kernel is
    several times slower (about 0.8 s here), and it must not land on the first camera frames."""
    image = image_tensor(np.zeros((image_size, image_size, 3), np.uint8), options)
    mask = torch.zeros(1, 1, image_size, image_size, device=options.device)
    with options.autocast():
        model.masks_single(image, image)
        model.cloth_mask_multi(image, image, image, image)
        model.generate(image, mask, image, mask, image, image, image)


@dataclass
class Masks:
    removed: np.ndarray  # M_r (S, S) uint8
    cloth: np.ndarray  # M_c^{t+1} (S, S) uint8
    multi_frame: bool
    source_crc: int
    garment_crc: int


class MaskSession:
    """cmn_node's state for one (h^s, C) pair.

    Streaming keeps the CMN embeddings: C is encoded once per garment and each generated frame
    once, so a multi-frame step costs one encoder pass instead of four (same math as
    CoAttentionMaskNetwork.forward_multi).
    """

    def __init__(self, model, options: InferenceOptions):
        self.cmn = model.cmn
        self.options = options
        self.source: torch.Tensor | None = None
        self.garment_embedding: torch.Tensor | None = None
        self.source_crc = self.garment_crc = 0
        self.removed_mask: np.ndarray | None = None
        self.history: deque[torch.Tensor] = deque(maxlen=MULTI_FRAME_HISTORY)  # embeddings of h^t
        self.steps = 0

    @property
    def ready(self) -> bool:
        return self.source is not None and self.garment_embedding is not None

    def missing(self) -> str | None:
        if self.source is None:
            return "no source image yet (topic or source_image_path)"
        if self.garment_embedding is None:
            return "no garment image yet (topic or garment_image_path)"
        return None

    def set_source(self, rgb: np.ndarray) -> None:
        self.source, self.source_crc = image_tensor(rgb, self.options), image_crc(rgb)
        self.restart()

    @torch.inference_mode()
    def set_garment(self, rgb: np.ndarray) -> None:
        with self.options.autocast():
            self.garment_embedding = self.cmn.encode(image_tensor(rgb, self.options))
        self.garment_crc = image_crc(rgb)
        self.restart()

    def restart(self) -> None:
        """Start the mask history again from the source (new inputs, or the person left)."""
        self.history.clear()
        self.steps = 0
        self.removed_mask = None

    @torch.inference_mode()
    def source_masks(self) -> Masks:
        """Single-frame CMN on (h^s, C): M_r for the session and the first M_c."""
        size = tuple(self.source.shape[-2:])
        with self.options.autocast():
            removed, cloth = self.cmn.masks_from_embeddings(self.cmn.encode(self.source),
                                                            self.garment_embedding, size)
        self.removed_mask = to_uint8_mask(checked(removed, "M_r"))
        return Masks(self.removed_mask, to_uint8_mask(checked(cloth, "M_c")), False,
                     self.source_crc, self.garment_crc)

    @torch.inference_mode()
    def on_generated(self, rgb: np.ndarray) -> Masks:
        """A generated frame h^t came back: predict M_c^{t+1}."""
        if self.removed_mask is None:
            self.source_masks()
        frame = image_tensor(rgb, self.options)
        size = tuple(frame.shape[-2:])
        with self.options.autocast():
            self.history.append(self.cmn.encode(frame))
            self.steps += 1
            multi = self.steps > SINGLE_FRAME_STEPS and len(self.history) == MULTI_FRAME_HISTORY
            if multi:
                cloth = self.cmn.next_cloth_mask_from_embeddings(*self.history, self.garment_embedding, size)
            else:
                cloth = self.cmn.masks_from_embeddings(self.history[-1], self.garment_embedding, size)[1]
        return Masks(self.removed_mask, to_uint8_mask(checked(cloth, "M_c^{t+1}")), multi,
                     self.source_crc, self.garment_crc)


class NotReady(RuntimeError):
    """The generator lacks an input; str(error) names it."""


class GenerationSession:
    """hsg_node's recurrent state: h^t and p^t for the current (h^s, C, M_r, M_c)."""

    def __init__(self, model, options: InferenceOptions, image_size: int):
        self.model = model
        self.options = options
        self.size = image_size
        self.source: torch.Tensor | None = None
        self.garment_features: dict | None = None  # (e_c)_i, once per garment
        self.source_features: dict | None = None  # (e_m^s)_i, once per (h^s, M_r)
        self.removed_bytes: bytes | None = None
        self.source_crc = self.garment_crc = 0
        self.source_skeleton: torch.Tensor | None = None
        self.removed_mask: torch.Tensor | None = None
        self.cloth_mask: torch.Tensor | None = None
        self.previous_frame: torch.Tensor | None = None
        self.previous_skeleton: torch.Tensor | None = None
        self.previous_cloth_mask: torch.Tensor | None = None  # M_c^t, masks h^t after step one
        self.newest_offer: Masks | None = None
        self.frames_generated = 0

    def skeleton(self, keypoints: np.ndarray) -> torch.Tensor:
        """p^t (1, 3, S, S) from model-frame keypoints (137, 3)."""
        return image_tensor(render_skeleton(keypoints, self.size, self.size), self.options)

    def set_source(self, rgb: np.ndarray) -> None:
        self.source, self.source_crc = image_tensor(rgb, self.options), image_crc(rgb)
        self.source_skeleton = None
        self._drop_masks()

    def set_source_pose(self, keypoints: np.ndarray | None) -> None:
        self.source_skeleton = None if keypoints is None else self.skeleton(keypoints)
        self.reset()

    @torch.inference_mode()
    def set_garment(self, rgb: np.ndarray) -> None:
        with self.options.autocast():
            self.garment_features = self.model.hsg.encode_garment(image_tensor(rgb, self.options))
        self.garment_crc = image_crc(rgb)
        self._drop_masks()

    def _drop_masks(self) -> None:
        self.removed_mask = self.cloth_mask = None
        self.source_features = self.removed_bytes = None
        self.reset()
        if self.newest_offer is not None:  # masks may arrive before the inputs they were made for
            self.offer_masks(self.newest_offer)

    def reset(self) -> None:
        """Restart the recurrence at h^0 = h^s (new inputs, or the person left the view)."""
        self.previous_frame = None
        self.previous_skeleton = None
        self.previous_cloth_mask = None

    def offer_masks(self, masks: Masks) -> bool:
        """Use `masks` if they were computed for this source and garment.

        The newest offer is kept (one, so memory is bounded) and offered again when the source
        or garment changes: a restarted hsg_node gets the latched source, garment and masks in
        any order, and cmn_node sends no new masks until it sees generated frames.
        """
        self.newest_offer = masks
        if self.source is None or self.garment_features is None:
            return False
        if (masks.source_crc, masks.garment_crc) != (self.source_crc, self.garment_crc):
            return False
        removed_bytes = masks.removed.tobytes()
        if removed_bytes != self.removed_bytes:  # M_r is fixed per session: encode h_m^s once
            self.removed_bytes = removed_bytes
            self.removed_mask = mask_tensor(masks.removed, self.options)
            self.source_features = None
        self.cloth_mask = mask_tensor(masks.cloth, self.options)
        return True

    def missing(self) -> str | None:
        if self.source is None:
            return "no source image yet (topic or source_image_path)"
        if self.garment_features is None:
            return "no garment image yet (topic or garment_image_path)"
        if self.cloth_mask is None:
            return "no CMN masks yet for this source and garment (is cmn_node running?)"
        return None

    @torch.inference_mode()
    def step(self, keypoints: np.ndarray) -> np.ndarray:
        """One frame: SFE(p^t, p^{t+1}) then HSG (eq. 8) -> h_g^{t+1} as (S, S, 3) uint8.

        Same math as FashionMirror.generate, with the encodings of h_m^s and C kept between
        frames: h^0 = h^s is masked with M_r, a generated h^t with its clothing mask M_c^t.
        """
        reason = self.missing()
        if reason:
            raise NotReady(reason)
        skeleton_next = self.skeleton(keypoints)
        if self.previous_frame is None:
            self.previous_frame = self.source
            self.previous_skeleton = (self.source_skeleton if self.source_skeleton is not None
                                      else skeleton_next)
        previous_removed = self.previous_cloth_mask if self.previous_cloth_mask is not None else self.removed_mask
        with self.options.autocast():
            if self.source_features is None:
                self.source_features = self.model.hsg.encode_source(self.source * (1.0 - self.removed_mask))
            flow_fields = self.model.sfe(self.previous_skeleton, skeleton_next)
            image = self.model.hsg.generate_from_encodings(
                self.source_features, self.previous_frame * (1.0 - previous_removed),
                self.garment_features, self.cloth_mask, flow_fields)
        frame = checked(image, "h_g^{t+1}").float().clamp_(0, 1)
        self.previous_frame, self.previous_skeleton = frame, skeleton_next
        self.previous_cloth_mask = self.cloth_mask
        self.frames_generated += 1
        return to_uint8_image(frame)
