"""models/traced.py: the step's two halves as TorchScript (trace_motion, trace_render), in float32
and under bf16 autocast."""
from __future__ import annotations

import contextlib

import pytest
import torch

from fashionmirror_ros.models.config import tiny_config
from fashionmirror_ros.models.mirror import FashionMirror
from fashionmirror_ros.models.traced import trace_motion, trace_render
from fashionmirror_ros.pose.layout import BODY
from test_models import SIZE, _with_trained_statistics, images, session, standing_pose

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def painting_model() -> FashionMirror:
    """A tiny model with the composition whose decoder paints (its logits are zero at the start,
    which would leave the decoder out of the images compared)."""
    torch.manual_seed(0)
    model = _with_trained_statistics(FashionMirror(tiny_config(SIZE, prior=True))).eval()
    with torch.no_grad():
        model.hsg.to_rgb.weight.normal_(0.0, 0.2)
    return model


def poses() -> list[torch.Tensor]:
    pose = standing_pose()
    moved, no_arm = pose.clone(), pose.clone()
    moved[0, :, :2] += torch.tensor([3.0, 1.0])
    no_arm[0, [BODY["RElbow"], BODY["RWrist"]], 2] = 0.0
    return [moved, no_arm, pose]


def precision(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def frames(model, bf16: bool) -> list[torch.Tensor]:
    """Three recurrent steps of one session, under the given precision."""
    person = torch.zeros(1, 1, SIZE, SIZE)
    person[..., 8:56, 20:44] = 1.0
    inputs = session(images(1, seed=1), torch.zeros(1, 1, SIZE, SIZE), images(1, seed=2), images(1, seed=3),
                     standing_pose(), person, images(1, seed=4) * 0.5, (images(1, 1, seed=5) > 0.3).float())
    outputs = []
    with torch.no_grad(), precision(bf16):
        encoding = model.encode_session(inputs)
        state = model.first_state(inputs)
        for index, pose in enumerate(poses()):
            output, state = model.step(encoding, state, pose, images(1, seed=10 + index), images(1, 1, seed=20 + index))
            outputs += [output.image.float(), output.composition.float()]
    return outputs


def test_traced_render_gives_the_eager_frames():
    """Frame after frame (h_g^{t+1} fed back as h^t), the traced float32 render draws what the
    eager one does, to 1e-5."""
    model = painting_model()
    trace_motion(model)
    eager = frames(model, bf16=False)
    trace_render(model, bf16=False)
    traced = frames(model, bf16=False)
    for want, got in zip(eager, traced):
        assert (want - got).abs().max() <= 1e-5, (want - got).abs().max()
    assert any(not torch.equal(a, b) for a, b in zip(traced[0::2], traced[2::2]))  # the frames move


def test_traced_bf16_step_is_as_close_to_float32_as_the_eager_bf16_one():
    """Under bf16 the traces round differently from eager autocast (their weights cast once and
    frozen), so they are held to float32 as eager bf16 is: the frames' mean error no larger."""
    model = painting_model()
    exact, eager = frames(model, bf16=False), frames(model, bf16=True)
    trace_motion(model, bf16=True)
    trace_render(model, bf16=True)
    traced = frames(model, bf16=True)
    assert model.traced_motion.fits(images(1)) is False  # float32 calls: eager
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.traced_motion.fits(images(1))
    for reference, want, got in zip(exact, eager, traced):
        eager_error, traced_error = (want - reference).abs().mean(), (got - reference).abs().mean()
        assert 0 < traced_error <= 1.25 * eager_error, (traced_error, eager_error)


def test_traced_render_serves_only_its_precision_and_shape():
    model = painting_model()
    rendered = trace_render(model, bf16=False)
    frame = images(1)
    assert rendered.fits(frame)
    assert not rendered.fits(images(2))  # a batch of two
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not rendered.fits(frame)  # the trace holds float32 weights and casts
    bf16 = trace_render(model, bf16=True)
    assert not bf16.fits(frame)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert bf16.fits(frame)


def test_a_batch_the_trace_was_not_made_for_renders_eagerly():
    model = painting_model()
    pair = session(images(2, seed=1), torch.zeros(2, 1, SIZE, SIZE), images(2, seed=2), images(2, seed=3),
                   torch.cat([standing_pose()] * 2))
    with torch.no_grad():
        encoding = model.encode_session(pair)
        state = model.first_state(pair)
        arguments = (torch.cat(poses()[:2]), images(2, seed=4), images(2, 1, seed=5))
        eager = model.step(encoding, state, *arguments)[0].image
        trace_render(model, bf16=False)
        traced = model.step(encoding, state, *arguments)[0].image
    assert torch.equal(eager, traced)


def test_trace_render_needs_the_composition_and_eval_mode():
    with pytest.raises(ValueError, match="composition"):
        trace_render(FashionMirror(tiny_config(SIZE, prior=False)).eval(), bf16=False)
    with pytest.raises(ValueError, match="eval"):
        trace_render(FashionMirror(tiny_config(SIZE, prior=True)).train(), bf16=False)
