"""The FashionVideo (UBC Fashion) loader on a tiny data set written by the test."""
import shutil

import cv2
import numpy as np
import pytest

from fashionmirror_ros.data.fashionvideo import (
    FashionVideoDataset,
    Letterbox,
    entry_stem,
    frontality_scores,
    load_fashionvideo_clip,
)
from fashionmirror_ros.pose.layout import BODY, NUM_KEYPOINTS

FRAMES, HEIGHT, WIDTH = 12, 48, 64
FRONTAL_FRAME = 7
BACKGROUND = (200, 200, 200)
PERSON = (60, 40, 30)
SHIRT_TOP, SHIRT_BOTTOM, SHIRT_LEFT, SHIRT_RIGHT = 12, 30, 20, 44


def shirt_colour(frame):
    """The shirt is blue, except in the frontal frame where it is red (to see where C comes from)."""
    return (200, 30, 30) if frame == FRONTAL_FRAME else (30, 30, 200)


def write_dataset(root, stem="look_01", with_keypoints=True):
    (root / "train").mkdir(parents=True)
    writer = cv2.VideoWriter(str(root / "train" / f"{stem}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                             30.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    mask_dir = root / "masks" / stem
    mask_dir.mkdir(parents=True)
    for frame in range(FRAMES):
        image = np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)
        image[6:44, 16:48] = PERSON
        image[SHIRT_TOP:SHIRT_BOTTOM, SHIRT_LEFT:SHIRT_RIGHT] = shirt_colour(frame)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[SHIRT_TOP:SHIRT_BOTTOM, SHIRT_LEFT:SHIRT_RIGHT] = 255
        cv2.imwrite(str(mask_dir / f"{frame:05d}.png"), mask)
    writer.release()
    (root / "fashion_train.txt").write_text(
        f"https://example.com/fashion/{stem}.mp4\n\n# a comment\n{stem}.mp4\n")
    if with_keypoints:
        keypoints = np.zeros((FRAMES, NUM_KEYPOINTS, 3), np.float32)
        for frame in range(FRAMES):
            half = 6 + (8 if frame == FRONTAL_FRAME else frame % 3)
            keypoints[frame, BODY["RShoulder"]] = (32 - half, 14, 0.9)
            keypoints[frame, BODY["LShoulder"]] = (32 + half, 14, 0.9)
            keypoints[frame, BODY["REye"]] = (30, 8, 0.8)
            keypoints[frame, BODY["LEye"]] = (34, 8, 0.8)
        (root / "keypoints").mkdir()
        np.save(root / "keypoints" / f"{stem}.npy", keypoints)
    return root


@pytest.fixture()
def dataset_root(tmp_path):
    return write_dataset(tmp_path / "fashion")


def test_list_entries_match_by_stem():
    assert entry_stem("https://host/a/b/91-3003CN5S.mp4") == "91-3003CN5S"
    assert entry_stem("  look.mp4 ") == "look"
    assert entry_stem("look") == "look"


def test_loads_frames_masks_and_keypoints(dataset_root):
    dataset = FashionVideoDataset(dataset_root, "train", image_size=64)
    assert len(dataset) == 1  # the URL and the file name are the same video
    clip = dataset[0]
    assert clip.frames.shape == (FRAMES, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.cloth_masks.shape == (FRAMES, 64, 64)
    assert clip.person_masks.shape == (FRAMES, 64, 64)
    assert set(np.unique(clip.cloth_masks)) == {0, 1}
    assert clip.fps == pytest.approx(30.0)
    assert clip.split == "train" and clip.garment_type == "unknown"
    # 64x48 letterboxed into 64x64: no scaling, 8 rows of padding on top.
    pad = 8
    expected = np.zeros((64, 64), np.uint8)
    expected[SHIRT_TOP + pad:SHIRT_BOTTOM + pad, SHIRT_LEFT:SHIRT_RIGHT] = 1
    assert np.array_equal(clip.cloth_masks[0], expected)
    shirt = clip.frames[0][expected.astype(bool)].astype(float).mean(axis=0)
    assert np.abs(shirt - shirt_colour(0)).max() < 25
    assert np.abs(clip.frames[0, 2, 32].astype(float) - BACKGROUND).max() < 25  # replicated border
    assert clip.keypoints.shape == (FRAMES, NUM_KEYPOINTS, 3)
    shoulder = clip.keypoints[0, BODY["RShoulder"]]
    assert shoulder[1] == pytest.approx(14 + pad) and shoulder[2] == pytest.approx(0.9)
    # The estimated person mask holds the person and the clothes, not the background.
    person = clip.person_masks[0]
    assert person[SHIRT_TOP + pad + 2, SHIRT_LEFT + 2] == 1 and person[10 + pad, 18] == 1
    assert person[pad + 1, 2] == 0
    assert not (clip.cloth_masks & (1 - clip.person_masks)).any()


def test_garment_comes_from_the_most_frontal_frame(dataset_root):
    clip = load_fashionvideo_clip(dataset_root, "train", "look_01", image_size=64)
    assert clip.garment.shape == (64, 64, 3) and clip.garment_mask.any()
    colour = clip.garment[clip.garment_mask.astype(bool)].astype(float).mean(axis=0)
    assert np.abs(colour - shirt_colour(FRONTAL_FRAME)).max() < 30
    assert clip.garment[clip.garment_mask == 0].min() == 255  # on white
    # The crop is scaled up to fill most of C.
    rows = np.flatnonzero(clip.garment_mask.any(axis=1))
    cols = np.flatnonzero(clip.garment_mask.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 50


def test_frontality_prefers_wide_shoulders_with_both_eyes(dataset_root):
    keypoints = np.load(dataset_root / "keypoints" / "look_01.npy")
    assert int(np.argmax(frontality_scores(keypoints))) == FRONTAL_FRAME
    keypoints[FRONTAL_FRAME, BODY["LEye"], 2] = 0.0
    assert int(np.argmax(frontality_scores(keypoints))) != FRONTAL_FRAME


def test_selected_frames_match_the_full_clip(dataset_root):
    dataset = FashionVideoDataset(dataset_root, "train", image_size=64)
    full = dataset[0]
    part = dataset.get_frames(0, [9, 3])
    assert np.array_equal(part.frames, full.frames[[9, 3]])
    assert np.array_equal(part.cloth_masks, full.cloth_masks[[9, 3]])
    assert np.array_equal(part.keypoints, full.keypoints[[9, 3]])
    assert np.array_equal(part.garment, full.garment)
    assert dataset.clip_length(0) == FRAMES
    limited = FashionVideoDataset(dataset_root, "train", image_size=64, max_frames=5)
    assert len(limited[0]) == 5 and limited.clip_length(0) == 5


def test_without_keypoints_uses_frame_zero_and_zero_keypoints(tmp_path):
    root = write_dataset(tmp_path / "fv", with_keypoints=False)
    clip = load_fashionvideo_clip(root, "train", "look_01", image_size=64)
    assert not clip.keypoints.any()
    colour = clip.garment[clip.garment_mask.astype(bool)].astype(float).mean(axis=0)
    assert np.abs(colour - shirt_colour(0)).max() < 30


def test_missing_mask_names_the_file(dataset_root):
    missing = dataset_root / "masks" / "look_01" / "00005.png"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match="00005.png"):
        load_fashionvideo_clip(dataset_root, "train", "look_01", image_size=64)
    # Frames that do not need the missing mask still load.
    clip = load_fashionvideo_clip(dataset_root, "train", "look_01", image_size=64, frame_indices=[1, 2])
    assert len(clip) == 2


def test_missing_list_and_video_are_clear_errors(dataset_root):
    with pytest.raises(FileNotFoundError, match="fashion_test.txt"):
        FashionVideoDataset(dataset_root, "test")
    (dataset_root / "fashion_train.txt").write_text("look_01.mp4\nlook_02.mp4\n")
    with pytest.raises(FileNotFoundError, match="look_02"):
        FashionVideoDataset(dataset_root, "train")
    shutil.rmtree(dataset_root / "train")
    with pytest.raises(FileNotFoundError, match="look_01"):
        load_fashionvideo_clip(dataset_root, "train", "look_01")


def test_malformed_keypoints_are_rejected(dataset_root):
    np.save(dataset_root / "keypoints" / "look_01.npy", np.zeros((FRAMES, 25, 3), np.float32))
    with pytest.raises(ValueError, match="look_01.npy"):
        load_fashionvideo_clip(dataset_root, "train", "look_01", image_size=64)


def test_letterbox_maps_points_like_pixels():
    box = Letterbox.fit(height=100, width=50, size=64)
    assert (box.pad_x, box.pad_y) == (16, 0)
    points = np.array([[[-0.5, -0.5, 1.0], [49.5, 99.5, 1.0]]], np.float32)
    mapped = box.keypoints(points)
    assert mapped[0, 0, :2] == pytest.approx((16 - 0.5, -0.5))
    assert mapped[0, 1, :2] == pytest.approx((16 + 32 - 0.5, 64 - 0.5))
