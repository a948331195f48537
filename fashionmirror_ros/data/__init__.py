"""Training and evaluation data: generated FashionVideo-like clips, the FashionVideo loader,
and the sampler that cuts training samples from clips.

Everything returns the same ``Clip`` record (frames, keypoints, clothing and person masks, the
flat garment image C). ``ClipSampleDataset`` needs torch, so it is imported on first use: the
generator and the loader stay importable (and fast to import) without it.
"""
from fashionmirror_ros.data.fashionvideo import FashionVideoDataset, load_fashionvideo_clip
from fashionmirror_ros.data.synthetic import (
    GARMENT_TYPES,
    Clip,
    SyntheticConfig,
    SyntheticFashionVideo,
    generate_clip,
    generate_frames,
    split_seed,
    tryon_clip,
)

__all__ = [
    "GARMENT_TYPES",
    "Clip",
    "ClipSampleDataset",
    "FashionVideoDataset",
    "SyntheticConfig",
    "SyntheticFashionVideo",
    "generate_clip",
    "generate_frames",
    "load_fashionvideo_clip",
    "split_seed",
    "tryon_clip",
]


def __getattr__(name):
    if name == "ClipSampleDataset":
        from fashionmirror_ros.data.clips import ClipSampleDataset

        return ClipSampleDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
