"""The stateful steps of a try-on stream: CMN masks (cmn_node) and SFE + HSG frames (hsg_node).

Paper eq. 7: h_g^{t+1} = G_h(h^s, C, p^t -> p^{t+1}, CMN(h^{t-2..t}, C)), recurrent with h^0 = h^s.
Our reading for a live stream:
- Masks. On a new (h^s, C) the CMN runs in single-frame mode on the source: M_r (fixed for the
  session) and M_c^1. Each generated frame h^t fed back from /tryon/image gives M_c^{t+1} by the
  model's schedule (``cmn_frames_for``: single-frame on h^1 for M_c^2, multi-frame on
  h^{t-2}, h^{t-1}, h^t after, with h^0 = h^s), the same schedule training and
  ``generate_sequence`` use. In the pipelined graph the generator uses the newest M_c it has, which
  may be one frame older than the paper's (the feedback lag, measured by the replay report).
- Frames. p^0 is the source image's pose (pose_node estimates it). If it is not known yet, the
  first camera pose stands in for it (h^0 = h^s is then assumed to be in that pose). When the
  person leaves the view the recurrence is reset, so a returning person starts again from h^s;
  cmn_node then restarts the mask history and publishes the source masks again, so the first
  frame after a return is generated exactly as the first frame of the stream was.
- The person in h^s. The keypoint prior (realtime preset) needs h^s's person mask (from
  pose_node's segmentation of the source, or the data set's) and fills the background behind
  the person once per source; h^s's pose p^0 is then essential, not only helpful.
- Masks carry CRC-32 identifiers of the source and garment they were computed for; the
  generator ignores masks for another source or garment (no old-garment mask after a swap).
All images here are model-sized RGB uint8 (S, S, 3); masks uint8 (S, S) with 255 = 1.0.
"""
from __future__ import annotations

from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from fashionmirror_ros.models.mirror import Motion, SessionInputs, cmn_frames_for
from fashionmirror_ros.models.placement import garment_mask_from_image
from fashionmirror_ros.pipeline.images import image_crc
from fashionmirror_ros.pipeline.person_layer import PLATE_MAX_MISMATCH, fill_background, plate_mismatch
from fashionmirror_ros.pose.skeleton import render_skeleton

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
    inputs = SessionInputs.blank(image_size, options.device, torch.channels_last if options.channels_last
                                 else torch.contiguous_format)
    image, mask, keypoints = inputs.source, inputs.removed_mask, inputs.source_keypoints
    with options.autocast():
        model.masks_single(image, image)
        model.cloth_mask_multi(image, image, image, image)
        model.step(model.encode_session(inputs), model.first_state(inputs), keypoints, image, mask)


@dataclass
class Masks:
    removed: np.ndarray  # M_r (S, S) uint8
    cloth: np.ndarray  # M_c^{t+1} (S, S) uint8
    multi_frame: bool
    source_crc: int
    garment_crc: int


class MaskSession:
    """cmn_node's state for one (h^s, C) pair.

    Streaming keeps the CMN embeddings: C is encoded once per garment and each frame h^t once
    (h^0 = h^s included), so a multi-frame step costs one encoder pass instead of four (same math
    as CoAttentionMaskNetwork.forward_multi).
    ``masks_every`` (ours, not the paper's): CMN sees only every Nth generated frame, counted
    from the source masks (``takes_next_frame``); the frames it sees are its h^{t-2}, h^{t-1},
    h^t, and the masks hold between. 1 is the paper's schedule.
    """

    def __init__(self, model, options: InferenceOptions, masks_every: int = 1):
        if masks_every < 1:
            raise ValueError(f"masks_every must be >= 1, got {masks_every}")
        self.cmn = model.cmn
        self.options = options
        self.masks_every = masks_every
        self.frames_offered = 0  # generated frames offered since the source masks
        self.frames_taken = self.frames_skipped = 0  # all offered frames, for diagnostics
        self.source: torch.Tensor | None = None
        self.garment_embedding: torch.Tensor | None = None
        self.source_crc = self.garment_crc = 0
        self.removed_mask: np.ndarray | None = None
        # embeddings of the newest frames h^k by k (h^0 = h^s): what the schedule can ask for
        self.history: deque[tuple[int, torch.Tensor]] = deque(maxlen=MULTI_FRAME_HISTORY)
        self.frames_seen = 0  # the newest frame is h^{frames_seen - 1}

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
        self.frames_seen = 0
        self.frames_offered = 0
        self.removed_mask = None

    @torch.inference_mode()
    def source_masks(self) -> Masks:
        """Single-frame CMN on (h^0 = h^s, C): M_r for the session and M_c^1."""
        self.history.clear()
        with self.options.autocast():
            embedding = self.cmn.encode(self.source)
        self.history.append((0, embedding))
        self.frames_seen = 1
        self.frames_offered = 0
        removed, cloth = self._predict(1)
        self.removed_mask = to_uint8_mask(checked(removed, "M_r"))
        return Masks(self.removed_mask, to_uint8_mask(checked(cloth, "M_c")), False,
                     self.source_crc, self.garment_crc)

    def takes_next_frame(self) -> bool:
        """Count a generated frame offered for feedback; True when it is one CMN sees (the
        first after the source masks, then every masks_every-th): pass it to ``on_generated``."""
        self.frames_offered += 1
        taken = (self.frames_offered - 1) % self.masks_every == 0
        self.frames_taken += taken
        self.frames_skipped += not taken
        return taken

    @torch.inference_mode()
    def on_generated(self, rgb: np.ndarray) -> Masks:
        """The next generated frame h^t came back: predict M_c^{t+1}."""
        if self.removed_mask is None:
            self.source_masks()
        with self.options.autocast():
            self.history.append((self.frames_seen, self.cmn.encode(image_tensor(rgb, self.options))))
        self.frames_seen += 1
        frame = self.frames_seen  # M_c^{t+1} with t = frames_seen - 1
        _, cloth = self._predict(frame)
        return Masks(self.removed_mask, to_uint8_mask(checked(cloth, "M_c^{t+1}")),
                     len(cmn_frames_for(frame)) > 1, self.source_crc, self.garment_crc)

    def _predict(self, frame: int) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(M_r or None, M_c^{frame}) from the embeddings the schedule asks for."""
        embeddings = dict(self.history)
        wanted = [embeddings[k] for k in cmn_frames_for(frame)]
        size = tuple(self.source.shape[-2:])
        with self.options.autocast():
            if len(wanted) == 1:
                return self.cmn.masks_from_embeddings(wanted[0], self.garment_embedding, size)
            return None, self.cmn.next_cloth_mask_from_embeddings(*wanted, self.garment_embedding, size)


class PreparedFrame(NamedTuple):
    """A camera frame's pose, ready for ``GenerationSession.step``."""

    keypoints: np.ndarray  # model-frame keypoints (137, 3)
    keypoints_tensor: torch.Tensor  # (1, 137, 3) on the device
    skeleton: torch.Tensor  # p^{t+1} (1, 3, S, S)
    motion: Motion | None = None  # computed ahead (``GenerationSession.prepare``)
    encoding: object | None = None  # the SessionEncoding the motion was computed with


class NotReady(RuntimeError):
    """The generator lacks an input; str(error) names it."""


class GenerationSession:
    """hsg_node's recurrent state: the model's FrameState (h^t, p^t) for the current
    (h^s, C, M_r, M_c), with the session encodings kept between frames."""

    def __init__(self, model, options: InferenceOptions, image_size: int,
                 replace_worn_garment: bool = False, background_fill: str = "telea"):
        self.model = model
        self.background_fill = background_fill  # person_layer.fill_background's method, without a plate
        self.options = options
        self.size = image_size
        # a kiosk's catalogue garment is never the one worn (FashionMirror.removed_for_generation)
        self.replace_worn_garment = replace_worn_garment
        self.source: torch.Tensor | None = None
        self.source_rgb: np.ndarray | None = None
        self.person_mask: torch.Tensor | None = None
        self._person: np.ndarray | None = None  # the same mask as (S, S) uint8 {0, 1}
        self.background: torch.Tensor | None = None
        self.plate: np.ndarray | None = None  # the static camera's empty view, if one was given
        self.background_kind = "inpainted"  # or "plate", or why a plate was refused
        self.source_refused = False  # the person mask of h^s came back empty
        self.garment: torch.Tensor | None = None
        self.garment_mask: torch.Tensor | None = None
        self.removed_bytes: bytes | None = None
        self.source_crc = self.garment_crc = 0
        self.source_keypoints: np.ndarray | None = None
        self.removed_mask: torch.Tensor | None = None
        self.cloth_mask: torch.Tensor | None = None
        self.encoding = None  # SessionEncoding, once per (h^s, person, C, M_r, p^0)
        self.state = None  # FrameState of the newest frame, None before the first
        # the pose (keypoints, skeleton tensors) of the newest frame whose motion was computed:
        # where the next frame's motion starts (``prepare``)
        self.motion_start: tuple[torch.Tensor, torch.Tensor] | None = None
        self.newest_offer: Masks | None = None
        self.frames_generated = 0
        self.motions_prepared = 0  # computed ahead by ``prepare``
        self.motions_redone = 0  # of those, found stale by ``step`` and computed again

    def skeleton(self, keypoints: np.ndarray) -> torch.Tensor:
        """p^t (1, 3, S, S) from model-frame keypoints (137, 3)."""
        return image_tensor(render_skeleton(keypoints, self.size, self.size), self.options)

    def keypoints_tensor(self, keypoints: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(keypoints, np.float32)).to(self.options.device)[None]

    def set_source(self, rgb: np.ndarray, person_mask: np.ndarray | None = None) -> None:
        """A new h^s; its person mask (S, S) uint8, nonzero = person, may come with it or later
        (``set_source_person``)."""
        self.source, self.source_crc = image_tensor(rgb, self.options), image_crc(rgb)
        self.source_rgb = np.ascontiguousarray(rgb)
        self.source_keypoints = None
        self.person_mask = self._person = self.background = None
        self.source_refused = False
        if person_mask is not None:
            self.set_source_person(person_mask)
        self._drop_masks()

    def set_source_person(self, person_mask: np.ndarray) -> None:
        """The person mask of the current h^s: fills the background behind the person once. An
        empty mask refuses the source (there is nobody to dress)."""
        person = (np.asarray(person_mask) > 0).astype(np.uint8)
        self.source_refused = not person.any()
        if self.source_refused:
            self.person_mask = self._person = self.background = None
            self.encoding = None
            self.reset()
            return
        self.person_mask = mask_tensor(person * 255, self.options)
        self._person = person
        self._make_background()

    def set_background_plate(self, plate: np.ndarray | None) -> None:
        """The scene without the person (S, S, 3) uint8, from the camera h^s was taken with: h^s's
        background behind the person comes from it instead of inpainting, if it matches h^s
        outside the person (``person_layer.plate_mismatch``; ``background_kind`` says which)."""
        self.plate = None if plate is None else np.ascontiguousarray(plate)
        if self._person is not None:
            self._make_background()

    def _make_background(self) -> None:
        plate = self.plate
        if plate is not None:
            mismatch = plate_mismatch(self.source_rgb, self._person, plate)
            if mismatch > PLATE_MAX_MISMATCH:
                self.background_kind = (f"plate refused: it differs from h^s outside the person by "
                                        f"{mismatch:.1f} grey levels (> {PLATE_MAX_MISMATCH:g}): "
                                        "another scene or camera; inpainted instead")
                plate = None
            else:
                self.background_kind = "plate"
        else:
            self.background_kind = "inpainted"
        self.background = image_tensor(fill_background(self.source_rgb, self._person, plate=plate,
                                                       method=self.background_fill), self.options)
        self.encoding = None
        self.reset()

    def set_source_pose(self, keypoints: np.ndarray | None) -> None:
        self.source_keypoints = None if keypoints is None else np.asarray(keypoints, np.float32)
        self.encoding = None
        self.reset()

    @torch.inference_mode()
    def set_garment(self, rgb: np.ndarray) -> None:
        self.garment = image_tensor(rgb, self.options)
        self.garment_mask = garment_mask_from_image(self.garment.float())
        self.garment_crc = image_crc(rgb)
        self._drop_masks()

    def _drop_masks(self) -> None:
        self.removed_mask = self.cloth_mask = None
        self.removed_bytes = None
        self.encoding = None
        self.reset()
        if self.newest_offer is not None:  # masks may arrive before the inputs they were made for
            self.offer_masks(self.newest_offer)

    def reset(self) -> None:
        """Restart the recurrence at h^0 = h^s (new inputs, or the person left the view)."""
        self.state = None
        self.motion_start = None

    def offer_masks(self, masks: Masks) -> bool:
        """Use `masks` if they were computed for this source and garment.

        The newest offer is kept (one, so memory is bounded) and offered again when the source
        or garment changes: a restarted hsg_node gets the latched source, garment and masks in
        any order, and cmn_node sends no new masks until it sees generated frames.
        """
        self.newest_offer = masks
        if self.source is None or self.garment is None:
            return False
        if (masks.source_crc, masks.garment_crc) != (self.source_crc, self.garment_crc):
            return False
        removed_bytes = masks.removed.tobytes()
        if removed_bytes != self.removed_bytes:  # M_r is fixed per session: encode h_m^s once
            self.removed_bytes = removed_bytes
            self.removed_mask = mask_tensor(masks.removed, self.options)
            self.encoding = None
        self.cloth_mask = mask_tensor(masks.cloth, self.options)
        return True

    def missing(self) -> str | None:
        if self.source is None:
            return "no source image yet (topic or source_image_path)"
        if self.source_refused:
            return ("the source image shows no person: refused (send a photo of a person on "
                    "tryon/source_image)")
        if self.garment is None:
            return "no garment image yet (topic or garment_image_path)"
        if self.model.uses_prior and self.person_mask is None:
            return "no person mask for the source image yet (pose_node segments it)"
        if self.cloth_mask is None:
            return "no CMN masks yet for this source and garment (is cmn_node running?)"
        return None

    def _session_inputs(self, first_keypoints: np.ndarray) -> SessionInputs:
        # without h^s's own pose, the first camera pose stands in for p^0 (h^s assumed in it)
        pose = self.source_keypoints if self.source_keypoints is not None else first_keypoints
        return SessionInputs(self.source, self.removed_mask, self.garment, self.keypoints_tensor(pose),
                             self.skeleton(pose), self.person_mask, self.background, self.garment_mask)

    @torch.inference_mode()
    def prepare(self, keypoints: np.ndarray) -> PreparedFrame:
        """Frame t+1's pose inputs and, when it can be known ahead, its motion (SFE and the
        keypoint geometry, ``FashionMirror.motion``), computed while frame t may still be
        generating: hsg_node runs this on a second thread. The motion starts from the pose of the
        frame prepared before (or p^0 after a restart). It may turn out stale (the session
        restarted, new inputs came): ``step`` checks and computes it again, so a race costs time,
        never a wrong frame. No motion before the session's first frame (no encoding yet)."""
        prepared = self.prepare_inputs(keypoints)
        encoding, start = self.encoding, self.motion_start  # read once: other threads may replace them
        if encoding is None:
            return prepared
        if start is None:  # a restart: the recurrence begins at p^0, as step's first_state does
            first = self.model.first_state(encoding.inputs)
            start = (first.keypoints, first.skeleton)
        with self.options.autocast():
            motion = self.model.motion(encoding, *start, prepared.keypoints_tensor, prepared.skeleton)
        self.motion_start = (prepared.keypoints_tensor, prepared.skeleton)
        self.motions_prepared += 1
        return prepared._replace(motion=motion, encoding=encoding)

    @torch.inference_mode()
    def step(self, keypoints: np.ndarray | PreparedFrame) -> np.ndarray:
        """One frame: the model's recurrent step (SFE eq. 4, HSG eq. 8) -> h_g^{t+1} as (S, S, 3)
        uint8. h^0 = h^s is masked with M_r, a generated h^t with its clothing mask M_c^t.
        ``keypoints``: model-frame keypoints (137, 3), or a frame ``prepare`` made of them."""
        reason = self.missing()
        if reason:
            raise NotReady(reason)
        prepared = keypoints if isinstance(keypoints, PreparedFrame) else self.prepare_inputs(keypoints)
        with self.options.autocast():
            if self.encoding is None:
                self.encoding = self.model.encode_session(self._session_inputs(prepared.keypoints),
                                                          self.replace_worn_garment)
            if self.state is None:
                self.state = self.model.first_state(self.encoding.inputs)
            motion = prepared.motion
            if motion is not None and not (prepared.encoding is self.encoding and motion.starts_from(self.state)):
                self.motions_redone += 1
                motion = None
            if motion is None:
                motion = self.model.motion(self.encoding, self.state.keypoints, self.state.skeleton,
                                           prepared.keypoints_tensor, prepared.skeleton)
                self.motion_start = (prepared.keypoints_tensor, prepared.skeleton)
            output, state = self.model.render(self.encoding, self.state, motion, self.cloth_mask)
        frame = checked(output.image, "h_g^{t+1}").float().clamp_(0, 1)
        self.state = state._replace(frame=frame)
        self.frames_generated += 1
        return to_uint8_image(frame)

    def prepare_inputs(self, keypoints: np.ndarray) -> PreparedFrame:
        """A frame's pose inputs without its motion (``step`` computes it in line)."""
        return PreparedFrame(keypoints, self.keypoints_tensor(keypoints), self.skeleton(keypoints))
