"""The media cache: where each job's files live, the one place that says so.

``<media_dir>/job-<id>/`` holds a job's inputs (the downloads as received, and their
conversions, which a retry starts from) and its outputs (the result, and a copy re-encoded
to fit an upload limit). Preparation, delivery, retention and ``/emo forget`` all ask here.
Blocking file operations: call them in a thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["image", "audio"]

SOURCE_NAMES: dict[Kind, str] = {"image": "image.source", "audio": "audio.source"}
CONVERTED_NAMES: dict[Kind, str] = {"image": "image.jpg", "audio": "audio.mp3"}
RESULT_NAME = "result.mp4"
FITTED_NAME = "result-fitted.mp4"
# The crop shown on the card: made from the member's photo, so it is one of the job's inputs
# (deleted with them, by retention and by /emo forget: every name not in OUTPUT_NAMES is).
PREVIEW_NAME = "preview.jpg"
OUTPUT_NAMES = frozenset({RESULT_NAME, FITTED_NAME})
_FOLDER = re.compile(r"job-([0-9]{1,18})")
FILE_MODE = 0o600  # a member's files are the bot's alone (``python -m bot`` sets umask 077)
FOLDER_MODE = 0o700


@dataclass(frozen=True)
class Deleted:
    files: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class CachedFolder:
    """A job folder found on disk (for folders whose row is gone)."""

    job_id: int
    path: Path
    modified: float  # seconds since the epoch


class MediaCache:
    """The layout of the media folder, and the file operations on it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, job_id: int) -> Path:
        return self.root / f"job-{job_id}"

    def source(self, job_id: int, kind: Kind) -> Path:
        """A member's file as downloaded (our name: theirs never reaches the disk)."""
        return self.folder(job_id) / SOURCE_NAMES[kind]

    def converted(self, job_id: int, kind: Kind) -> Path:
        """The provider-ready conversion: what a retry starts from."""
        return self.folder(job_id) / CONVERTED_NAMES[kind]

    def result(self, job_id: int) -> Path:
        return self.folder(job_id) / RESULT_NAME

    def fitted(self, job_id: int) -> Path:
        """The result re-encoded to fit an upload limit."""
        return self.folder(job_id) / FITTED_NAME

    def preview(self, job_id: int) -> Path:
        """The crop EMO will animate, as shown on the card (an input: see PREVIEW_NAME)."""
        return self.folder(job_id) / PREVIEW_NAME

    def has_inputs(self, job_id: int) -> bool:
        """Whether the converted inputs of ``job_id`` are still kept."""
        return all(self.converted(job_id, kind).is_file() for kind in CONVERTED_NAMES)

    def reuse_inputs(self, original: int, job_id: int) -> bool:
        """Copy ``original``'s converted inputs as ``job_id``'s sources; False when gone."""
        if not self.has_inputs(original):
            return False
        self.folder(job_id).mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        for kind in CONVERTED_NAMES:
            copy = self.source(job_id, kind)
            shutil.copyfile(self.converted(original, kind), copy)
            copy.chmod(FILE_MODE)
        return True

    def delete(self, job_id: int, *, inputs: bool, outputs: bool) -> Deleted:
        """Delete a job's inputs and/or outputs (never following links); remove its folder
        once empty."""
        return _delete(self.folder(job_id), inputs=inputs, outputs=outputs)

    def delete_folder(self, folder: CachedFolder) -> Deleted:
        return _delete(folder.path, inputs=True, outputs=True)

    def folders(self) -> list[CachedFolder]:
        """Every job folder on disk (other entries, such as a media host's, are not ours)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            match = _FOLDER.fullmatch(entry.name)
            if match is None or not entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                found.append(CachedFolder(int(match[1]), Path(entry.path), entry.stat().st_mtime))
        return found


def _delete(folder: Path, *, inputs: bool, outputs: bool) -> Deleted:
    files = size = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return Deleted()
    for entry in entries:
        is_output = entry.name in OUTPUT_NAMES
        if (is_output and not outputs) or (not is_output and not inputs):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                files += 1
                continue
            length = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # deleted meanwhile (a concurrent sweep or /emo forget)
        files, size = files + 1, size + length
    with contextlib.suppress(OSError):  # not empty (an output kept longer) or already gone
        folder.rmdir()
    return Deleted(files=files, bytes=size)
