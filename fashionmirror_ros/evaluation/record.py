"""`fashionmirror record OUTPUT`: a rosbag2 of a generated clip, as a camera would have recorded it.

    fashionmirror record out/bags/test000 --split test --index 0 --frames 90
    fashionmirror record out/bags/tryon --index 0 --garment-index 3 --storage sqlite3

The camera stream is clip ``--index`` of ``--split`` (seed ``split_seed(split, index)``); the
source image h^s is its frame ``--source-index``.
- Reconstruction (the paper's protocol, section 4.3; the default, or ``--garment-index`` equal
  to ``--index``): the garment is the one the person wears, the ground truth is the clip itself.
- Try-on (another ``--garment-index`` K): the garment image is clip K's garment, and the ground
  truth is the same person in the same motion wearing that garment (``tryon_clip``), with its
  clothing masks.
The topics are listed in ``fashionmirror_ros.evaluation.bags``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="bag directory to create (must not exist)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--index", type=int, default=0, help="clip index in the split (default 0)")
    parser.add_argument("--frames", type=int, default=90, help="number of frames (default 90)")
    parser.add_argument("--garment-index", type=int, default=None,
                        help="garment of this clip of the split (default: the clip's own = reconstruction)")
    parser.add_argument("--source-index", type=int, default=0, help="frame used as the source image h^s")
    parser.add_argument("--size", type=int, default=256, help="frame side in pixels (default 256)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate (default 30)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--no-compression", action="store_true",
                        help="store uncompressed (default: zstd MCAP chunks / zstd per message)")
    parser.add_argument("--no-ground-truth", action="store_true", help="leave out /ground_truth/*")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _error(message: str) -> int:
    print(f"fashionmirror record: error: {message}", file=sys.stderr, flush=True)
    return 2


def record(output, split: str = "test", index: int = 0, frames: int = 90, garment_index: int | None = None,
           source_index: int = 0, size: int = 256, fps: float = 30.0, storage: str = "mcap",
           compress: bool = True, ground_truth: bool = True, quiet: bool = True, start_ns: int | None = None):
    """Generate the clip(s) and write the bag; returns bags.WrittenBag."""
    from tqdm import tqdm

    from fashionmirror_ros.data.synthetic import generate_clip, split_seed, tryon_clip
    from fashionmirror_ros.evaluation.bags import write_clip_bag

    person_seed = split_seed(split, index)
    tryon = garment_index is not None and garment_index != index
    with tqdm(total=frames * (2 if tryon else 1), desc="generating", unit="frame", disable=quiet,
              leave=False) as bar:
        clip = generate_clip(person_seed, frames, size, fps)
        bar.update(frames)
        target = None
        if tryon:
            target = tryon_clip(person_seed, split_seed(split, garment_index), frames, size, fps)
            bar.update(frames)
    custom = {"split": split, "index": index, "seed": person_seed, "size": size,
              "garment_index": garment_index if tryon else index,
              "protocol": "tryon" if tryon else "reconstruction",
              "garment_type": target.garment_type if tryon else clip.garment_type,
              "generator": "fashionmirror_ros.data.synthetic"}
    with tqdm(total=frames, desc="writing", unit="frame", disable=quiet, leave=False) as bar:
        def progress(count: int) -> None:
            bar.update(count - bar.n)

        return write_clip_bag(
            output, clip, storage, source_index,
            garment=target.garment if tryon else None,
            ground_truth=ground_truth,
            ground_truth_frames=target.frames if tryon else None,
            ground_truth_cloth_masks=target.cloth_masks if tryon else None,
            start_ns=start_ns, fps=fps, compress=compress, custom=custom, progress=progress)


def run(args: argparse.Namespace) -> int:
    if args.frames < 1:
        return _error("--frames must be at least 1")
    if not 0 <= args.source_index < args.frames:
        return _error(f"--source-index must be in 0..{args.frames - 1}")
    if args.index < 0 or (args.garment_index is not None and args.garment_index < 0):
        return _error("clip indices must be non-negative")
    if Path(args.output).exists():
        return _error(f"'{args.output}' exists already (rosbag2 writers only create new bags)")
    try:
        written = record(args.output, args.split, args.index, args.frames, args.garment_index,
                         args.source_index, args.size, args.fps, args.storage,
                         not args.no_compression, not args.no_ground_truth, args.quiet)
    except ValueError as error:
        return _error(str(error))
    protocol = ("try-on with the garment of clip " + str(args.garment_index)
                if args.garment_index is not None and args.garment_index != args.index else "reconstruction")
    print(f"fashionmirror record: {written.path} ({written.storage}, {written.frames} frames, "
          f"{written.size_bytes / 1e6:.2f} MB, {protocol})")
    for topic, count in sorted(written.message_counts.items()):
        print(f"  {topic}  x{count}")
    return 0
