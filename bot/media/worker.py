"""A media worker process (``python -m bot.media.worker MEMORY_MB``): decodes and converts
members' files one request at a time, for the pool in ``bot/media/pool.py``.

Its own process, so a file that crashes a decoder kills only the worker, one that runs too
long can be killed outright, and the memory it may take is capped by the kernel (the data
segment limited to what the imports took plus MEMORY_MB): past it an allocation fails and
the file is refused. It carries no secret: the pool starts it with a minimal environment.

Protocol: a JSON object per line each way. The worker says ``{"ready": pid}`` once; then
for each request ``{"op": …, "args": {…}, "seconds": …}`` one answer: ``{"ok": {…}}``,
``{"refused": <UserMessage>}``, or ``{"failed": "<exception type>"}`` for a bug. Anything a
library prints to stdout goes to stderr, never into the protocol.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from bot.errors import UserFacingError

Handler = Callable[[dict[str, Any], float], dict[str, Any]]


def _image(args: dict[str, Any], seconds: float) -> dict[str, Any]:
    from bot.media.image import prepare_image

    prepared = prepare_image(
        Path(args["source"]),
        Path(args["destination"]),
        max_pixels=int(args["max_pixels"]),
        max_side=int(args["max_side"]),
        time_limit=seconds,
    )
    return {
        "path": str(prepared.path),
        "width": prepared.width,
        "height": prepared.height,
        "source_format": prepared.source_format,
    }


def _audio(args: dict[str, Any], seconds: float) -> dict[str, Any]:
    from bot.media.audio import prepare_audio

    prepared = prepare_audio(
        Path(args["source"]),
        Path(args["destination"]),
        max_seconds=float(args["max_seconds"]),
        trim=bool(args["trim"]),
        time_limit=seconds,
    )
    return {
        "path": str(prepared.path),
        "seconds": prepared.seconds,
        "source_seconds": prepared.source_seconds,
        "trimmed": prepared.trimmed,
    }


def _video(args: dict[str, Any], seconds: float) -> dict[str, Any]:
    from bot.media.video import fit_video

    try:
        fitted = fit_video(
            Path(args["source"]),
            Path(args["destination"]),
            int(args["max_bytes"]),
            time_limit=seconds,
        )
    except OSError as error:  # the disk filled up while writing the copy
        return {"fitted": False, "storage": error.strerror or type(error).__name__}
    return {"fitted": fitted}


def _mp4(args: dict[str, Any], seconds: float) -> dict[str, Any]:
    from bot.media.playable import NotAVideoError, check_mp4_video

    try:
        facts = check_mp4_video(Path(args["path"]))
    except NotAVideoError as error:
        return {"video": False, "reason": error.reason}
    return {"video": True, "width": facts.width, "height": facts.height, "seconds": facts.seconds}


HANDLERS: dict[str, Handler] = {"image": _image, "audio": _audio, "video": _video, "mp4": _mp4}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request; never raises."""
    try:
        handler = HANDLERS[request["op"]]
        return {"ok": handler(request["args"], float(request["seconds"]))}
    except UserFacingError as refusal:
        return {"refused": refusal.message.model_dump(mode="json")}
    except Exception as error:  # a bug of ours: the pool logs it; the worker carries on
        return {"failed": type(error).__name__}


def _data_segment_kib() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _limit_resources(memory_mb: int) -> None:
    """No core files; the data segment capped at what the imports took plus ``memory_mb``."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    used = _data_segment_kib()
    if used is not None and memory_mb > 0:
        cap = (used + memory_mb * 1024) * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    os.nice(5)  # media work yields the processor to the bot's own event loop


def _warm_up() -> None:
    """Import every decoder now: the memory cap is set from what they take."""
    from bot.media import audio, image, video  # noqa: F401

    image._register_heif()


def serve(requests: TextIO, answers: TextIO, memory_mb: int) -> None:
    warnings.simplefilter("ignore")  # nothing reaches the bot's log from here
    try:
        _warm_up()
        _limit_resources(memory_mb)
    except Exception as error:
        answers.write(json.dumps({"failed": f"start: {type(error).__name__}"}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": os.getpid()}) + "\n")
    answers.flush()
    for line in requests:
        try:
            request = json.loads(line)
        except ValueError:
            reply: dict[str, Any] = {"failed": "request"}
        else:
            reply = answer(request)
        answers.write(json.dumps(reply) + "\n")
        answers.flush()


def main() -> None:
    # The protocol gets its own copy of stdout; stdout itself becomes stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    serve(sys.stdin, answers, memory_mb)


if __name__ == "__main__":
    main()
