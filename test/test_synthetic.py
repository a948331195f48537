"""The procedural FashionVideo-like generator: determinism, splits, ground-truth consistency,
occlusion, turning, try-on."""
import math

import numpy as np
import pytest

from fashionmirror_ros.data.synthetic import (
    GARMENT_TYPES,
    PART_TORSO,
    SPLIT_SEED_RANGES,
    FrameRenderer,
    SyntheticFashionVideo,
    generate_clip,
    generate_frames,
    pose_at,
    render_flat_garment,
    sample_garment,
    sample_motion,
    sample_recipe,
    split_of_seed,
    split_seed,
    tryon_clip,
)
from fashionmirror_ros.pose.layout import BODY, FACE_START, NUM_BODY, NUM_FACE, NUM_KEYPOINTS

SIZE = 96


@pytest.fixture(scope="module")
def clips():
    return [generate_clip(seed, num_frames=16, image_size=SIZE) for seed in range(6)]


def test_same_seed_gives_identical_clip_and_different_seeds_differ():
    first = generate_clip(5, num_frames=8, image_size=SIZE)
    second = generate_clip(5, num_frames=8, image_size=SIZE)
    other = generate_clip(6, num_frames=8, image_size=SIZE)
    for name in ("frames", "keypoints", "cloth_masks", "person_masks", "garment", "garment_mask"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert not np.array_equal(first.frames, other.frames)
    assert not np.array_equal(first.garment, other.garment)


def test_first_frames_do_not_depend_on_clip_length():
    short = generate_clip(11, num_frames=6, image_size=SIZE)
    long = generate_clip(11, num_frames=14, image_size=SIZE)
    assert np.array_equal(short.frames, long.frames[:6])
    assert np.array_equal(short.keypoints, long.keypoints[:6])
    picked = generate_frames(11, [13, 2], image_size=SIZE)
    assert np.array_equal(picked.frames[0], long.frames[13])
    assert np.array_equal(picked.cloth_masks[1], long.cloth_masks[2])


def test_train_and_test_seeds_are_disjoint():
    train = {split_seed("train", i) for i in range(2000)}
    test = {split_seed("test", i) for i in range(2000)}
    assert not train & test
    ranges = sorted(SPLIT_SEED_RANGES.values())
    for (_, stop), (start, _) in zip(ranges, ranges[1:]):
        assert stop <= start
    assert split_of_seed(split_seed("test", 7)) == "test"
    assert split_of_seed(split_seed("train", 7)) == "train"
    with pytest.raises(ValueError):
        split_seed("holdout", 0)
    with pytest.raises(ValueError):
        split_seed("train", -1)


def test_dataset_generates_its_split_on_the_fly():
    dataset = SyntheticFashionVideo("test", num_clips=3, num_frames=5, image_size=64)
    assert len(dataset) == 3
    clip = dataset[1]
    assert clip.split == "test" and clip.seed == split_seed("test", 1)
    assert np.array_equal(clip.frames, generate_clip(split_seed("test", 1), 5, 64).frames)
    assert np.array_equal(dataset[-1].frames, dataset[2].frames)
    picked = dataset.get_frames(1, [4, 0])
    assert np.array_equal(picked.frames, clip.frames[[4, 0]])
    with pytest.raises(IndexError):
        dataset[3]


def test_types_ranges_and_binary_non_empty_masks(clips):
    for clip in clips:
        frames = len(clip)
        assert clip.frames.shape == (frames, SIZE, SIZE, 3) and clip.frames.dtype == np.uint8
        assert clip.keypoints.shape == (frames, NUM_KEYPOINTS, 3) and clip.keypoints.dtype == np.float32
        assert clip.garment.shape == (SIZE, SIZE, 3) and clip.garment.dtype == np.uint8
        assert clip.garment_type in GARMENT_TYPES
        assert clip.fps == 30.0
        for masks in (clip.cloth_masks, clip.person_masks, clip.garment_mask[None]):
            assert masks.dtype == np.uint8
            assert set(np.unique(masks)) <= {0, 1}
            assert masks.reshape(len(masks), -1).any(axis=1).all()
        confidences = clip.keypoints[..., 2]
        assert ((confidences >= 0) & (confidences <= 1)).all()
        # C: garment on white.
        background = clip.garment[clip.garment_mask == 0]
        assert background.mean() > 250


def test_cloth_mask_is_inside_the_person_mask(clips):
    for clip in clips:
        assert not (clip.cloth_masks & (1 - clip.person_masks)).any()
        # The garment is a substantial part of the person.
        ratio = clip.cloth_masks.sum() / clip.person_masks.sum()
        assert 0.1 < ratio < 0.8


def test_visible_keypoints_lie_on_the_person(clips):
    on_person = total = 0
    for clip in clips:
        for keypoints, mask in zip(clip.keypoints, clip.person_masks):
            visible = keypoints[:, 2] >= 1.0
            columns = np.clip(np.round(keypoints[visible, 0]).astype(int), 0, SIZE - 1)
            rows = np.clip(np.round(keypoints[visible, 1]).astype(int), 0, SIZE - 1)
            dilated = mask.copy()
            dilated[1:] |= mask[:-1]
            dilated[:-1] |= mask[1:]
            dilated[:, 1:] |= mask[:, :-1]
            dilated[:, :-1] |= mask[:, 1:]
            on_person += int(dilated[rows, columns].sum())
            total += int(visible.sum())
    assert total > 0
    assert on_person / total > 0.95


def test_body_joints_are_always_present_and_face_points_follow_the_view(clips):
    for clip in clips:
        body = clip.keypoints[:, :NUM_BODY]
        for joint in ("Neck", "MidHip", "RShoulder", "LShoulder", "RHip", "LHip", "RAnkle", "LAnkle"):
            assert (body[:, BODY[joint], 2] > 0).all(), joint


def _find_keyframe(pose_name, seeds=range(300), facing_camera=True):
    """(seed, keyframe) of the first 2-second clip that holds ``pose_name`` facing the camera."""
    for seed in seeds:
        motion = sample_motion(seed, duration=2.0)
        for keyframe in motion.keyframes:
            if keyframe.arm_pose != pose_name or not 0 <= keyframe.time < 2.0:
                continue
            if not facing_camera or math.cos(pose_at(motion, keyframe.time).yaw) > 0.8:
                return seed, keyframe
    raise AssertionError(f"no {pose_name} keyframe in the first seeds")


def test_arms_crossing_in_front_occlude_the_garment():
    seed, keyframe = _find_keyframe("arms_crossed")
    recipe = sample_recipe(seed, duration=keyframe.time + 0.1)
    renderer = FrameRenderer(recipe, 128)
    pose = pose_at(recipe.motion, keyframe.time)
    with_arms = renderer.render(pose)
    without_arms = renderer.render(pose, draw_arms=False)
    # The garment on the torso: its silhouette without arms, and what stays visible with them.
    silhouette = without_arms.cloth_mask & (without_arms.part_ids == PART_TORSO)
    visible = with_arms.cloth_mask & (with_arms.part_ids == PART_TORSO)
    assert not (visible & (1 - silhouette)).any()
    # Facing the camera, the crossed forearms hide a good part of the front.
    assert visible.sum() < 0.85 * silhouette.sum()
    # The wrists are in front of the torso, between the shoulders.
    keypoints = with_arms.keypoints
    shoulders = sorted((keypoints[BODY["RShoulder"], 0], keypoints[BODY["LShoulder"], 0]))
    for wrist in ("RWrist", "LWrist"):
        assert shoulders[0] - 4 <= keypoints[BODY[wrist], 0] <= shoulders[1] + 4


def test_back_view_hides_the_face():
    for seed in range(300):
        motion = sample_motion(seed, duration=2.0)
        times = [t / 30.0 for t in range(60)]
        backs = [t for t in times if math.cos(pose_at(motion, t).head_yaw) < -0.8]
        if backs:
            break
    else:
        raise AssertionError("no back view in the first seeds")
    recipe = sample_recipe(seed, duration=2.0)
    frame = FrameRenderer(recipe, 128).render_time(backs[0])
    face = frame.keypoints[FACE_START:FACE_START + NUM_FACE]
    assert (face[:, 2] == 0).all()
    assert frame.keypoints[BODY["Nose"], 2] == 0
    assert frame.keypoints[BODY["Neck"], 2] > 0
    front = FrameRenderer(recipe, 128)
    frontal = [t for t in times if math.cos(pose_at(motion, t).head_yaw) > 0.9]
    if frontal:
        face = front.render_time(frontal[0]).keypoints[FACE_START:FACE_START + NUM_FACE]
        assert face[:, 2].mean() > 0.8


def test_clips_turn_and_show_several_views():
    yaws = []
    for seed in range(40):
        motion = sample_motion(seed, duration=2.0)
        yaws.extend(math.cos(pose_at(motion, t / 30.0).yaw) for t in range(0, 60, 5))
    yaws = np.array(yaws)
    assert (yaws > 0.9).any() and (np.abs(yaws) < 0.3).any() and (yaws < -0.9).any()


def test_all_garment_types_and_textures_occur():
    garments = [sample_garment(seed) for seed in range(80)]
    assert {g.garment_type for g in garments} == set(GARMENT_TYPES)
    assert {g.texture_kind for g in garments} == {"solid", "stripes", "checks", "dots", "prints"}


def test_flat_garment_matches_the_worn_fabric(clips):
    for clip in clips:
        worn = clip.frames[clip.cloth_masks.astype(bool)].astype(float).mean(axis=0)
        flat = clip.garment[clip.garment_mask.astype(bool)].astype(float).mean(axis=0)
        # Shading darkens the worn garment; the colour direction stays.
        cosine = worn @ flat / (np.linalg.norm(worn) * np.linalg.norm(flat) + 1e-9)
        assert cosine > 0.97


def test_flat_garment_types_differ_in_shape():
    sleeveless = next(g for g in (sample_garment(s) for s in range(50)) if g.garment_type == "sleeveless")
    long_sleeve = next(g for g in (sample_garment(s) for s in range(50)) if g.garment_type == "long_sleeve")
    _, sleeveless_mask = render_flat_garment(sleeveless, 128)
    _, long_mask = render_flat_garment(long_sleeve, 128)
    # Long sleeves make the garment wider than a sleeveless top at the hem line's height.
    assert long_mask.any(axis=0).sum() > sleeveless_mask.any(axis=0).sum()


def test_tryon_keeps_person_and_motion_and_changes_the_garment():
    person = generate_clip(3, num_frames=6, image_size=SIZE)
    garment_seed = next(s for s in range(10, 60) if sample_garment(s).garment_type != person.garment_type)
    dressed = tryon_clip(3, garment_seed, num_frames=6, image_size=SIZE)
    donor = generate_clip(garment_seed, num_frames=1, image_size=SIZE)
    assert dressed.seed == 3 and dressed.garment_type == donor.garment_type
    assert np.array_equal(dressed.garment, donor.garment)
    assert np.array_equal(dressed.garment_mask, donor.garment_mask)
    body_rows = [BODY[n] for n in ("Neck", "RShoulder", "LElbow", "MidHip", "RKnee", "LAnkle")]
    assert np.allclose(dressed.keypoints[:, body_rows, :2], person.keypoints[:, body_rows, :2])
    assert not np.array_equal(dressed.cloth_masks, person.cloth_masks)
    assert not (dressed.cloth_masks & (1 - dressed.person_masks)).any()
