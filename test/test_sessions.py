"""The streaming sessions the nodes run compute what the batch model computes."""
import numpy as np
import pytest
import torch

from fashionmirror_ros.models.config import tiny_config
from fashionmirror_ros.models.mirror import FashionMirror, SessionInputs
from fashionmirror_ros.models.placement import garment_mask_from_image
from fashionmirror_ros.pipeline.person_layer import fill_background
from fashionmirror_ros.pipeline.sessions import (GenerationSession, InferenceOptions, Masks,
                                                 MaskSession, NonFiniteOutput, NotReady, image_tensor,
                                                 to_uint8_image)
from fashionmirror_ros.pose.layout import BODY
from fashionmirror_ros.pose.skeleton import render_skeleton

SIZE = 64
STEPS = 4


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return FashionMirror(tiny_config(SIZE)).eval()


@pytest.fixture
def options():
    return InferenceOptions(device=torch.device("cpu"), channels_last=False)


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (STEPS + 1, SIZE, SIZE, 3), dtype=np.uint8)
    garment = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    masks = (rng.random((STEPS + 1, SIZE, SIZE)) > 0.5).astype(np.uint8) * 255
    keypoints = np.zeros((STEPS + 1, 137, 3), np.float32)
    keypoints[:, :25, :2] = rng.uniform(8, SIZE - 8, (STEPS + 1, 25, 2))
    keypoints[:, :25, 2] = 1.0
    return frames, garment, masks, keypoints


def batch_inputs(model, options, frames, garment, removed, keypoints, person):
    as_image = lambda rgb: image_tensor(rgb, options)  # noqa: E731
    background = image_tensor(fill_background(frames[0], person), options)
    return SessionInputs(as_image(frames[0]), removed, as_image(garment),
                         torch.from_numpy(keypoints[0])[None], skeletons_of(keypoints, options)[:, 0],
                         torch.from_numpy(person).float()[None, None], background,
                         garment_mask_from_image(as_image(garment)))


def skeletons_of(keypoints, options):
    return torch.stack([image_tensor(render_skeleton(k, SIZE, SIZE), options)[0] for k in keypoints])[None]


def streaming_session(options, clip, prior: bool) -> tuple[GenerationSession, np.ndarray]:
    """hsg_node's session on a tiny model with the clip's source (and its person mask, returned
    too), garment and source pose; no masks yet."""
    torch.manual_seed(0)
    model = FashionMirror(tiny_config(SIZE, prior=prior)).eval()
    frames, garment, _, keypoints = clip
    person = np.zeros((SIZE, SIZE), np.uint8)
    person[8:56, 16:48] = 1
    session = GenerationSession(model, options, SIZE)
    session.set_source(frames[0], person)
    session.set_garment(garment)
    session.set_source_pose(keypoints[0])
    return session, person


def prior_session(options, clip) -> GenerationSession:
    """``streaming_session`` of the prior model with M_r = masks[0] and M_c = masks[1]."""
    session, _ = streaming_session(options, clip, prior=True)
    masks = clip[2]
    assert session.offer_masks(Masks(masks[0], masks[1], True, session.source_crc, session.garment_crc))
    return session


@pytest.mark.parametrize("prior", [False, True], ids=["literal", "prior"])
def test_generation_session_matches_generate_sequence(options, clip, prior):
    session, person = streaming_session(options, clip, prior)
    model = session.model
    frames, garment, masks, keypoints = clip
    streamed = []
    for t in range(1, STEPS + 1):
        assert session.offer_masks(Masks(masks[0], masks[t], True, session.source_crc, session.garment_crc))
        streamed.append(session.step(keypoints[t]))

    mask_tensors = torch.from_numpy(masks).float().div(255)[:, None]
    inputs = batch_inputs(model, options, frames, garment, mask_tensors[0:1], keypoints, person)
    with torch.inference_mode():
        outputs = model.generate_sequence(inputs, torch.from_numpy(keypoints)[None],
                                          skeletons_of(keypoints, options), mask_tensors[None])
    for generated, output in zip(streamed, outputs):
        expected = to_uint8_image(output.image)
        assert np.abs(generated.astype(int) - expected.astype(int)).max() <= 1


def test_motion_prepared_ahead_gives_the_frames_computed_in_line(options, clip):
    """hsg_node's two threads: frame t+1's motion is prepared while frame t is still waiting to
    be generated; the frames are those of the one-thread step, bit for bit."""
    keypoints = clip[3]
    in_line = prior_session(options, clip)
    expected = [in_line.step(keypoints[t]) for t in range(1, STEPS + 1)]

    ahead = prior_session(options, clip)
    first = ahead.prepare(keypoints[1])
    assert first.motion is None  # no session encoding before the first frame
    frames = [ahead.step(first)]
    waiting = ahead.prepare(keypoints[2])
    for t in range(3, STEPS + 1):
        following = ahead.prepare(keypoints[t])  # prepared before frame t-1 is generated
        frames.append(ahead.step(waiting))
        waiting = following
    frames.append(ahead.step(waiting))
    assert ahead.motions_prepared == STEPS - 1 and ahead.motions_redone == 0
    for got, want in zip(frames, expected):
        assert np.array_equal(got, want)


def test_a_motion_prepared_before_a_restart_is_computed_again(options, clip):
    """The person left between preparing a frame and generating it: the recurrence restarts at
    h^s, so the motion prepared from the previous frame's pose is stale and redone from p^0."""
    keypoints = clip[3]
    session = prior_session(options, clip)
    session.step(keypoints[1])
    stale = session.prepare(keypoints[2])
    session.reset()
    frame = session.step(stale)
    assert session.motions_redone == 1

    fresh = prior_session(options, clip)
    fresh.step(keypoints[1])
    fresh.reset()
    assert np.array_equal(frame, fresh.step(keypoints[2]))
    with pytest.raises(ValueError, match="another pose"):
        with torch.inference_mode():
            session.model.render(session.encoding, session.state, stale.motion, session.cloth_mask)


@pytest.mark.parametrize("prior", [False, True], ids=["literal", "prior"])
def test_sessions_on_cmn_masks_match_generate_sequence(options, clip, prior):
    """cmn_node's and hsg_node's sessions, frame by frame without the pipeline's lag, give what
    the batch model gives with CMN predicting every mask (the schedule has one home)."""
    torch.manual_seed(0)
    model = FashionMirror(tiny_config(SIZE, prior=prior)).eval()
    frames, garment, _, keypoints = clip
    person = np.zeros((SIZE, SIZE), np.uint8)
    person[8:56, 16:48] = 1
    masks_session, session = MaskSession(model, options), GenerationSession(model, options, SIZE)
    masks_session.set_source(frames[0])
    masks_session.set_garment(garment)
    session.set_source(frames[0], person)
    session.set_garment(garment)
    session.set_source_pose(keypoints[0])
    masks = masks_session.source_masks()
    streamed, multi = [], []
    for t in range(1, STEPS + 1):
        session.offer_masks(masks)
        multi.append(masks.multi_frame)
        streamed.append(session.step(keypoints[t]))
        masks = masks_session.on_generated(streamed[-1])
    removed = torch.from_numpy(masks.removed).float().div(255)[None, None]
    inputs = batch_inputs(model, options, frames, garment, removed, keypoints, person)
    with torch.inference_mode():
        outputs = model.generate_sequence(inputs, torch.from_numpy(keypoints)[None],
                                          skeletons_of(keypoints, options))
    assert multi == [False, False, True, True]  # M_c^1, M_c^2 single-frame, M_c^3 on h^0..h^2
    for generated, output in zip(streamed, outputs):
        expected = to_uint8_image(output.image)
        assert np.abs(generated.astype(int) - expected.astype(int)).mean() < 1.0


def test_mask_session_matches_cmn_single_then_multi(model, options, clip):
    frames, garment, _, _ = clip
    session = MaskSession(model, options)
    session.set_source(frames[0])
    session.set_garment(garment)
    source = session.source_masks()
    results = [session.on_generated(frame) for frame in frames[1:]]
    as_tensor = lambda rgb: image_tensor(rgb, options)  # noqa: E731
    with torch.inference_mode():
        removed, cloth = model.masks_single(as_tensor(frames[0]), as_tensor(garment))
        expected = [model.masks_single(as_tensor(frames[1]), as_tensor(garment))[1],
                    model.cloth_mask_multi(*map(as_tensor, frames[0:3]), as_tensor(garment)),
                    model.cloth_mask_multi(*map(as_tensor, frames[1:4]), as_tensor(garment)),
                    model.cloth_mask_multi(*map(as_tensor, frames[2:5]), as_tensor(garment))]
    to_mask = lambda t: t[0, 0].mul(255).round().byte().numpy()  # noqa: E731
    assert np.abs(source.removed.astype(int) - to_mask(removed).astype(int)).max() <= 1
    assert np.abs(source.cloth.astype(int) - to_mask(cloth).astype(int)).max() <= 1
    assert [r.multi_frame for r in results] == [False, True, True, True]
    for result, mask in zip(results, expected):
        assert np.abs(result.cloth.astype(int) - to_mask(mask).astype(int)).max() <= 1


def test_masks_every_second_frame_feeds_cmn_the_frames_it_takes(model, options, clip):
    """masks_every 2: CMN takes fed-back frames 1, 3, 5... (restarting with the source masks) and
    predicts from those alone, as if they were consecutive frames."""
    frames, garment, _, _ = clip
    every_frame, every_second = MaskSession(model, options), MaskSession(model, options, masks_every=2)
    for session in (every_frame, every_second):
        session.set_source(frames[0])
        session.set_garment(garment)
        session.source_masks()
    taken = [every_second.takes_next_frame() for _ in range(6)]
    assert taken == [True, False, True, False, True, False]
    assert (every_second.frames_taken, every_second.frames_skipped) == (3, 3)
    for frame in (frames[1], frames[3]):  # what every_second took, fed to every_frame in turn
        assert every_frame.on_generated(frame).cloth.tobytes() == every_second.on_generated(frame).cloth.tobytes()
    every_second.restart()
    every_second.source_masks()
    assert every_second.takes_next_frame() and not every_second.takes_next_frame()
    with pytest.raises(ValueError, match="masks_every"):
        MaskSession(model, options, masks_every=0)


def test_a_clean_plate_is_used_behind_the_person_when_it_matches_the_source(options, clip):
    session, person = streaming_session(options, clip, prior=True)
    frames = clip[0]
    assert session.background_kind == "inpainted"
    plate = frames[0].copy()
    plate[person.astype(bool)] = (10, 200, 30)  # the scene as it is behind the person
    session.set_background_plate(plate)
    assert session.background_kind == "plate"
    background = to_uint8_image(session.background)
    assert (background[person.astype(bool)] == (10, 200, 30)).all()
    session.set_background_plate(frames[1])  # another scene (random pixels): refused
    assert session.background_kind.startswith("plate refused")
    assert not (to_uint8_image(session.background)[person.astype(bool)] == (10, 200, 30)).all()
    session.set_background_plate(None)
    assert session.background_kind == "inpainted"
    telea = to_uint8_image(session.background)
    session.background_fill = "fsr"  # hsg_node's background_fill parameter
    session.set_source_person(person)
    fsr = to_uint8_image(session.background)
    inside = person.astype(bool)
    assert not np.array_equal(fsr[inside], telea[inside])


def test_masks_for_another_garment_are_refused_and_missing_inputs_named(model, options, clip):
    frames, garment, masks, keypoints = clip
    session = GenerationSession(model, options, SIZE)
    with pytest.raises(NotReady, match="no source image"):
        session.step(keypoints[1])
    session.set_source(frames[0])
    session.set_garment(garment)
    stale = Masks(masks[0], masks[1], False, session.source_crc, session.garment_crc ^ 1)
    assert not session.offer_masks(stale)
    with pytest.raises(NotReady, match="no CMN masks"):
        session.step(keypoints[1])


def test_non_finite_weights_raise_instead_of_publishing(options, clip):
    frames, garment, masks, keypoints = clip
    broken = FashionMirror(tiny_config(SIZE)).eval()
    with torch.no_grad():
        for parameter in broken.hsg.parameters():
            parameter.fill_(float("nan"))
    session = GenerationSession(broken, options, SIZE)
    session.set_source(frames[0])
    session.set_garment(garment)
    session.offer_masks(Masks(masks[0], masks[1], False, session.source_crc, session.garment_crc))
    with pytest.raises(NonFiniteOutput, match="NaN"):
        session.step(keypoints[1])


def test_masks_that_arrive_before_the_source_and_garment_are_used_once_they_come(model, options, clip):
    """A restarted hsg_node gets the latched masks, source and garment in any order."""
    from fashionmirror_ros.pipeline.images import image_crc

    frames, garment, masks, keypoints = clip
    session = GenerationSession(model, options, SIZE)
    early = Masks(masks[0], masks[1], False, image_crc(frames[0]), image_crc(garment))
    assert not session.offer_masks(early)
    session.set_garment(garment)
    session.set_source(frames[0])
    assert session.missing() is None
    assert session.step(keypoints[1]).shape == (SIZE, SIZE, 3)
    session.set_garment(frames[2])  # another garment: the early masks are not for it
    assert "no CMN masks" in session.missing()


def test_replace_worn_garment_removes_what_c_covers_on_the_source(options, clip):
    """The kiosk default of hsg_node: M_r is CMN's united with C's placed footprint on the
    person of h^s (here CMN's M_r is empty: the model keeps its own judgement otherwise)."""
    torch.manual_seed(0)
    model = FashionMirror(tiny_config(SIZE, prior=True)).eval()
    frames, _, _, _ = clip
    garment = np.full((SIZE, SIZE, 3), 255, np.uint8)
    garment[8:56, 16:48] = (200, 30, 30)
    pose = np.zeros((137, 3), np.float32)
    for name, (x, y) in {"Neck": (32, 16), "RShoulder": (24, 18), "LShoulder": (40, 18),
                         "MidHip": (32, 40), "RHip": (27, 40), "LHip": (37, 40)}.items():
        pose[BODY[name]] = (x, y, 1.0)
    person = np.zeros((SIZE, SIZE), np.uint8)
    person[10:60, 18:46] = 1
    empty = np.zeros((SIZE, SIZE), np.uint8)
    removed = {}
    for replace in (False, True):
        session = GenerationSession(model, options, SIZE, replace_worn_garment=replace)
        session.set_source(frames[0], person)
        session.set_garment(garment)
        session.set_source_pose(pose)
        session.offer_masks(Masks(empty, empty, False, session.source_crc, session.garment_crc))
        session.step(pose)
        removed[replace] = session.encoding.inputs.removed_mask[0, 0].numpy()
    assert removed[False].max() == 0.0
    assert removed[True][30, 32] > 0.9  # the chest, under the placed garment
    assert removed[True][5, 5] == 0.0 and removed[True][62, 32] == 0.0  # off the person
