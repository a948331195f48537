"""Training samples: 6 frames with 0-2 skipped frames between neighbours, tensors in range,
deterministic per (seed, epoch, index), batched by a normal DataLoader."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from fashionmirror_ros.data.clips import ClipSampleDataset, sample_frame_indices
from fashionmirror_ros.data.synthetic import SyntheticFashionVideo, generate_clip

SIZE = 64


@pytest.fixture(scope="module")
def clips():
    return [generate_clip(seed, num_frames=20, image_size=SIZE) for seed in (1, 2, 3)]


def test_sample_has_six_frames_with_gaps_of_one_to_three(clips):
    dataset = ClipSampleDataset(clips, seed=4, samples_per_clip=8)
    assert len(dataset) == 24
    gaps_seen = set()
    for index in range(len(dataset)):
        clip_index, frames, _, _ = dataset.sample_plan(index)
        assert clip_index == index // 8
        assert len(frames) == 6 and frames[0] >= 0 and frames[-1] < 20
        gaps = np.diff(frames)
        assert set(gaps.tolist()) <= {1, 2, 3}
        gaps_seen |= set(gaps.tolist())
    assert gaps_seen == {1, 2, 3}


def test_item_shapes_types_and_ranges(clips):
    item = ClipSampleDataset(clips, seed=0)[1]
    assert item["frames"].shape == (6, 3, SIZE, SIZE) and item["frames"].dtype == torch.float32
    assert item["skeletons"].shape == (6, 3, SIZE, SIZE)
    assert item["cloth_masks"].shape == (6, 1, SIZE, SIZE)
    assert item["person_masks"].shape == (6, 1, SIZE, SIZE)
    assert item["keypoints"].shape == (6, 137, 3)
    assert item["garment"].shape == (3, SIZE, SIZE)
    assert item["garment_mask"].shape == (1, SIZE, SIZE)
    assert item["frame_indices"].shape == (6,) and item["frame_indices"].dtype == torch.long
    for key in ("frames", "skeletons", "garment"):
        assert 0.0 <= item[key].min() and item[key].max() <= 1.0
    for key in ("cloth_masks", "person_masks", "garment_mask"):
        assert set(torch.unique(item[key]).tolist()) == {0.0, 1.0}
    assert item["skeletons"].flatten(1).amax(dim=1).min() > 0  # every frame has a skeleton
    # The tensors are the clip's own frames and masks.
    clip = clips[1]
    frames = item["frame_indices"].numpy()
    expected = torch.from_numpy(clip.frames[frames[0]]).permute(2, 0, 1).float() / 255
    assert torch.equal(item["frames"][0], expected)
    assert torch.equal(item["cloth_masks"][0, 0], torch.from_numpy(clip.cloth_masks[frames[0]]).float())


def test_deterministic_per_seed_and_epoch(clips):
    first = ClipSampleDataset(clips, seed=7, samples_per_clip=4)
    second = ClipSampleDataset(clips, seed=7, samples_per_clip=4)
    plans = [first.sample_plan(i)[1].tolist() for i in range(len(first))]
    assert plans == [second.sample_plan(i)[1].tolist() for i in range(len(second))]
    assert torch.equal(first[3]["frames"], second[3]["frames"])
    other_seed = ClipSampleDataset(clips, seed=8, samples_per_clip=4)
    assert plans != [other_seed.sample_plan(i)[1].tolist() for i in range(len(other_seed))]
    first.set_epoch(1)
    assert plans != [first.sample_plan(i)[1].tolist() for i in range(len(first))]
    first.set_epoch(0)
    assert plans == [first.sample_plan(i)[1].tolist() for i in range(len(first))]


def test_generated_sequence_renders_only_the_sampled_frames(clips):
    lazy = SyntheticFashionVideo("train", num_clips=2, num_frames=20, image_size=SIZE)
    full = [lazy[0], lazy[1]]
    from_lazy = ClipSampleDataset(lazy, seed=3)[1]
    from_full = ClipSampleDataset(full, seed=3)[1]
    for key in from_lazy:
        assert torch.equal(from_lazy[key], from_full[key]), key


def test_dataloader_batches_of_four(clips):
    dataset = ClipSampleDataset(clips, seed=0, samples_per_clip=2)
    batch = next(iter(DataLoader(dataset, batch_size=4, shuffle=True)))
    assert batch["frames"].shape == (4, 6, 3, SIZE, SIZE)
    assert batch["skeletons"].shape == (4, 6, 3, SIZE, SIZE)
    assert batch["cloth_masks"].shape == (4, 6, 1, SIZE, SIZE)
    assert batch["garment"].shape == (4, 3, SIZE, SIZE)
    assert batch["frame_indices"].shape == (4, 6)


def test_works_with_distributed_sampler(clips):
    dataset = ClipSampleDataset(clips, samples_per_clip=2)
    shards = [list(DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=False))
              for rank in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(len(dataset)))


def test_short_clips_shrink_the_skips_and_too_short_ones_fail():
    rng = np.random.default_rng(0)
    frames = sample_frame_indices(rng, clip_length=7, frames_per_sample=6, max_skip=2)
    assert frames[-1] <= 6 and (np.diff(frames) >= 1).all()
    with pytest.raises(ValueError):
        sample_frame_indices(rng, clip_length=5)


def test_source_move_moves_frame_zero_person_masks_and_pose_together(clips):
    plain = ClipSampleDataset(clips, seed=5, samples_per_clip=4)
    moved = ClipSampleDataset(clips, seed=5, samples_per_clip=4, source_move_share=1.0)
    index = 2
    before, after = plain[index], moved[index]
    assert plain.sample_plan(index)[1].tolist() == moved.sample_plan(index)[1].tolist()
    for key in ("frames", "person_masks", "cloth_masks", "keypoints", "skeletons"):
        assert torch.equal(before[key][1:], after[key][1:]), key  # later frames untouched
    assert not torch.equal(before["source_person_mask"], after["source_person_mask"])
    # h^s and the frame-0 truth are the same picture in a reconstruction sample, moved alike
    assert torch.equal(after["source"], after["frames"][0])
    assert torch.equal(after["source_person_mask"], after["person_masks"][0])
    # the keypoints follow the person: the torso's mean moves with the mask's centroid
    def centroid(mask):
        ys, xs = torch.nonzero(mask[0] > 0, as_tuple=True)
        return torch.stack([xs.float().mean(), ys.float().mean()])
    shift_mask = centroid(after["source_person_mask"]) - centroid(before["source_person_mask"])
    body = before["keypoints"][0, :, 2] > 0.5
    shift_points = (after["keypoints"][0, body, :2] - before["keypoints"][0, body, :2]).mean(0)
    assert shift_mask.abs().max() > 1.0
    assert torch.allclose(shift_points, shift_mask, atol=1.5)
    # the moved person lies inside the image and has the same size within the scale range
    ratio = after["source_person_mask"].sum() / before["source_person_mask"].sum()
    assert 0.9 ** 2 * 0.85 <= ratio <= 1.1 ** 2 * 1.15


def test_source_move_share_is_validated_and_off_by_default(clips):
    with pytest.raises(ValueError, match="source_move_share"):
        ClipSampleDataset(clips, source_move_share=1.5)
    dataset = ClipSampleDataset(clips, seed=5)
    assert all(dataset.source_move(i, np.ones((4, 4), np.uint8)) is None for i in range(len(dataset)))
