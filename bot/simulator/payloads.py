"""The API's request bodies (face-detect, video-synthesis) and the models they name."""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StrictStr

log = logging.getLogger(__name__)

DETECT_MODEL = "emo-detect-v1"
SYNTH_MODEL = "emo-v1"
KNOWN_MODELS = frozenset({DETECT_MODEL, SYNTH_MODEL})

BoxList = Annotated[list[StrictInt], Field(min_length=4, max_length=4)]


class _DetectInput(BaseModel):
    image_url: StrictStr


class _DetectParameters(BaseModel):
    ratio: StrictStr = "1:1"


class DetectRequest(BaseModel):
    """Body of face-detect."""

    model: StrictStr
    input: _DetectInput
    parameters: _DetectParameters = Field(default_factory=_DetectParameters)


class _SynthesisInput(BaseModel):
    image_url: StrictStr
    audio_url: StrictStr
    face_bbox: BoxList
    ext_bbox: BoxList


class _SynthesisParameters(BaseModel):
    style_level: StrictStr = "normal"


class SynthesisRequest(BaseModel):
    """Body of video-synthesis."""

    model: StrictStr
    input: _SynthesisInput
    parameters: _SynthesisParameters = Field(default_factory=_SynthesisParameters)
