"""The generator's outputs, bit for bit, against SHA-256 hashes recorded in
test/data/synthetic_golden.json.

The fixture was written from the generator as it was before it was split into a package
(issue 14), so a refactoring that changes any pixel, mask, keypoint or garment image fails
here. The cases cover every garment type, texture, neckline, hair style, lower garment and
background kind (seeds found by a scan when the fixture was written), the three splits, a
try-on clip, dataset frames with another clip's garment, flat garments and a frame drawn
without arms.

Rewrite the fixture only when the generator is meant to draw something else:

    python test/test_synthetic_golden.py --write

Float maths in numpy and OpenCV may round differently on another CPU or library version, so
the comparison runs only where the fixture's platform matches and says why it skips elsewhere.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from fashionmirror_ros.data import synthetic

FIXTURE = Path(__file__).with_name("data") / "synthetic_golden.json"
CLIP_ARRAYS = ("frames", "keypoints", "cloth_masks", "person_masks", "garment", "garment_mask")
CLIP_FIELDS = ("garment_type", "fps", "seed", "split")
FRAME_ARRAYS = ("image", "cloth_mask", "person_mask", "keypoints", "part_ids")
COVERAGE_SCAN_SEEDS = 400


# ---- what is hashed ---------------------------------------------------------------------------
def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def clip_digests(clip) -> dict:
    digests = {name: array_digest(getattr(clip, name)) for name in CLIP_ARRAYS}
    digests.update({name: repr(getattr(clip, name)) for name in CLIP_FIELDS})
    return digests


def render_generate_clip(seed, num_frames, image_size):
    return clip_digests(synthetic.generate_clip(seed, num_frames, image_size))


def render_generate_frames(seed, frame_indices, image_size):
    return clip_digests(synthetic.generate_frames(seed, frame_indices, image_size))


def render_tryon_clip(person_seed, garment_seed, num_frames, image_size):
    return clip_digests(synthetic.tryon_clip(person_seed, garment_seed, num_frames, image_size))


def render_dataset_frames(split, num_clips, num_frames, image_size, index, frame_indices, garment_index):
    dataset = synthetic.SyntheticFashionVideo(split, num_clips, num_frames, image_size)
    return clip_digests(dataset.get_frames(index, frame_indices, garment_index=garment_index))


def render_flat_garment(garment_seed, image_size):
    image, mask = synthetic.render_flat_garment(synthetic.sample_garment(garment_seed), image_size)
    return {"image": array_digest(image), "mask": array_digest(mask)}


def render_frame(seed, duration, image_size, time, draw_arms):
    recipe = synthetic.sample_recipe(seed, duration)
    renderer = synthetic.FrameRenderer(recipe, image_size)
    frame = renderer.render(synthetic.pose_at(recipe.motion, time), draw_arms=draw_arms)
    return {name: array_digest(getattr(frame, name)) for name in FRAME_ARRAYS}


RENDERERS = {
    "generate_clip": render_generate_clip,
    "generate_frames": render_generate_frames,
    "tryon_clip": render_tryon_clip,
    "dataset_frames": render_dataset_frames,
    "flat_garment": render_flat_garment,
    "frame": render_frame,
}


# ---- the cases (chosen when the fixture is written) -----------------------------------------------
def recipe_features(seed: int) -> set:
    recipe = synthetic.sample_recipe(seed, duration=1.0)
    garment, person = recipe.garment, recipe.person
    return {("garment", garment.garment_type), ("texture", garment.texture_kind),
            ("neckline", garment.neckline), ("graphic", garment.graphic is not None),
            ("hair", person.hair_style), ("lower", person.lower_kind),
            ("background", recipe.background.kind)}


def covering_seeds(split: str) -> list[int]:
    """Seeds of `split` that together show every recipe feature (greedy, in seed order)."""
    seen, chosen = set(), []
    for index in range(COVERAGE_SCAN_SEEDS):
        seed = synthetic.split_seed(split, index)
        features = recipe_features(seed)
        if not features <= seen:
            seen |= features
            chosen.append(seed)
    return chosen


def first_seed_with_garment(garment_type: str) -> int:
    return next(seed for seed in range(COVERAGE_SCAN_SEEDS)
                if synthetic.sample_garment(seed).garment_type == garment_type)


def choose_cases() -> list[dict]:
    seed = synthetic.split_seed
    cases = [{"name": f"covering_seed_{value}", "call": "generate_frames",
              "arguments": {"seed": value, "frame_indices": [0, 23, 47, 88], "image_size": 96}}
             for value in covering_seeds("train")]
    cases += [
        {"name": "val_clip_128", "call": "generate_clip",
         "arguments": {"seed": seed("val", 5), "num_frames": 6, "image_size": 128}},
        {"name": "test_clip_256", "call": "generate_clip",
         "arguments": {"seed": seed("test", 0), "num_frames": 3, "image_size": 256}},
        {"name": "custom_seed_clip", "call": "generate_clip",
         "arguments": {"seed": 3_500_000_000, "num_frames": 2, "image_size": 64}},
        {"name": "tryon", "call": "tryon_clip",
         "arguments": {"person_seed": seed("test", 1), "garment_seed": seed("train", 7),
                       "num_frames": 5, "image_size": 112}},
        {"name": "dataset_frames_other_garment", "call": "dataset_frames",
         "arguments": {"split": "train", "num_clips": 6, "num_frames": 40, "image_size": 96,
                       "index": 2, "frame_indices": [31, 4, 17], "garment_index": 4}},
        {"name": "frame_without_arms", "call": "frame",
         "arguments": {"seed": seed("train", 3), "duration": 2.0, "image_size": 128, "time": 1.3,
                       "draw_arms": False}},
        {"name": "frame_with_arms", "call": "frame",
         "arguments": {"seed": seed("train", 3), "duration": 2.0, "image_size": 128, "time": 1.3,
                       "draw_arms": True}},
    ]
    cases += [{"name": f"flat_{garment_type}", "call": "flat_garment",
               "arguments": {"garment_seed": first_seed_with_garment(garment_type), "image_size": 160}}
              for garment_type in synthetic.GARMENT_TYPES]
    return cases


def platform() -> dict:
    """What the float maths depends on besides the code: library versions and SIMD features."""
    import cv2
    from numpy.core._multiarray_umath import __cpu_features__

    return {"numpy": np.__version__, "opencv": cv2.__version__,
            "cpu_features": sorted(name for name, enabled in __cpu_features__.items() if enabled)}


def public_names() -> list[str]:
    """The names `from fashionmirror_ros.data.synthetic import X` may ask for. (The fixture's
    list was read from the single-file generator's top-level definitions; the package lists
    the same names in its __all__.)"""
    return sorted(synthetic.__all__)


def write_fixture() -> None:
    cases = choose_cases()
    for case in cases:
        case["digests"] = RENDERERS[case["call"]](**case["arguments"])
    FIXTURE.parent.mkdir(exist_ok=True)
    document = {"platform": platform(), "public_names": public_names(), "cases": cases}
    FIXTURE.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {FIXTURE}")


# ---- the tests ----------------------------------------------------------------------------------
def fixture() -> dict:
    return json.loads(FIXTURE.read_text())


def test_fixture_covers_every_garment_type_and_recipe_feature():
    cases = fixture()["cases"]
    covering = [case["arguments"]["seed"] for case in cases if case["name"].startswith("covering_seed_")]
    features = set().union(*(recipe_features(seed) for seed in covering))
    assert {value for kind, value in features if kind == "garment"} == set(synthetic.GARMENT_TYPES)
    assert {value for kind, value in features if kind == "texture"} == set(synthetic.TEXTURE_KINDS)
    assert {value for kind, value in features if kind == "graphic"} == {True, False}
    flat = {synthetic.sample_garment(case["arguments"]["garment_seed"]).garment_type
            for case in cases if case["call"] == "flat_garment"}
    assert flat == set(synthetic.GARMENT_TYPES)


def test_outputs_are_identical_to_the_recorded_ones():
    recorded = fixture()
    changed = {}
    for case in recorded["cases"]:
        digests = RENDERERS[case["call"]](**case["arguments"])
        differing = sorted(name for name in case["digests"] if digests.get(name) != case["digests"][name])
        if differing:
            changed[case["name"]] = differing
    # Another CPU or library build may round differently: a difference there is no proof of a
    # changed generator, but equal digests are proof of an unchanged one, on any machine.
    if changed and recorded["platform"] != platform():
        pytest.skip(f"outputs differ and the fixture was written on {recorded['platform']}, this is "
                    f"{platform()}: float rounding may differ; rewrite it here from a known-good "
                    "commit to compare")
    assert not changed, f"outputs changed (case: arrays): {changed}"


def test_every_public_name_is_still_importable():
    missing = [name for name in fixture()["public_names"] if not hasattr(synthetic, name)]
    assert not missing, f"no longer exported by {synthetic.__name__}: {missing}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {FIXTURE}")
    if parser.parse_args().write:
        write_fixture()
    else:
        parser.print_help()
