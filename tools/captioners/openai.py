"""Captioner over any OpenAI-compatible chat-completions endpoint (``vllm serve``, hosted APIs).

Through the official ``openai`` client (``tools/openai_client.py``): base URL and key from the
config, else ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``; its timeouts and retries. Frames travel
as base64 ``image_url`` data URIs (JPEG by default: ~10x smaller than PNG for video frames,
which matters at 8-16 frames per node), so no file server is needed.

Servers fail transiently (429 rate limits, 5xx while a model loads, dropped connections): the
client retries those with exponential backoff, honouring ``Retry-After``. Other 4xx are our
fault or the config's, so they fail at once with the server's message and the config key to
fix. ``describe_batch`` runs up to ``captioner.batch_size`` requests concurrently, which is how
``vllm serve`` batches across nodes.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from videonav.memory.tree import Provenance
from videonav.tools.captioners.base import Caption, CaptionContext, CaptionRequest, register_captioner
from videonav.tools.captioners.common import data_uri, subsample
from videonav.tools.captioners.prompts import PROMPTS_VERSION, render
from videonav.tools.config import CaptionerConfig
from videonav.tools.embed import BackendUnavailable
from videonav.tools.openai_client import RETRY_STATUS, RequestFailed, chat_completion, make_client, resolve


class VLMRequestError(RuntimeError):
    """The endpoint refused a request (or kept failing); ``status``: last HTTP status, 0 = no response."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _hint(status: int, message: str, images: int = 0) -> str:
    """The config key or server flag to change. ``images``: how many this request carried.

    A real ``vllm serve`` refuses an over-limit request with "At most 16 image(s) may be
    provided in one prompt": the hint names the count sent, so the flag value is the right one.
    """
    if status in (401, 403):
        return "check captioner.api_key (and that this key may use captioner.model)"
    if status == 404:
        return ("check captioner.base_url (it should end in /v1; we POST to <base_url>/chat/completions) "
                "and captioner.model (the served model's name)")
    low = message.lower()
    if "at most" in low and "image" in low:
        return (f"this request carried {images} images: start the server with a limit of at least that "
                f"(vllm serve --limit-mm-per-prompt '{{\"image\": {max(images, 1)}}}') or send fewer "
                "(tree.frames_per_parent, tree.frames_per_leaf)")
    if "image" in low or "multimodal" in low:
        return ("the server rejected the images: use a vision model, or raise its image limit "
                "(vllm serve --limit-mm-per-prompt '{\"image\": 16}')")
    return "fix the request or the captioner config"


@register_captioner("openai")
class OpenAICaptioner:
    """``describe`` via ``POST {captioner.base_url}/chat/completions`` with the frames as data URIs."""

    name = "openai"

    def __init__(self, cfg: CaptionerConfig, *, timeout: float = 120.0, max_retries: int = 4,
                 image_format: str = "jpeg", max_images: int = 32) -> None:
        base_url, api_key = resolve(cfg.base_url, cfg.api_key)
        if not base_url:
            raise BackendUnavailable("captioner.backend='openai' needs captioner.base_url (or OPENAI_BASE_URL), "
                                     "e.g. http://127.0.0.1:8000/v1 for `vllm serve MODEL`")
        if not cfg.model:
            raise BackendUnavailable("captioner.backend='openai' needs captioner.model: the served model's "
                                     "name (GET <base_url>/models lists them)")
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BackendUnavailable(f"captioner.base_url={base_url!r} is not an http(s) URL")
        self.cfg = cfg
        self.model_id = cfg.model
        self.prompt_version = f"{cfg.prompt_version}+{PROMPTS_VERSION}"
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.timeout, self.max_retries = timeout, max_retries
        self.image_format, self.max_images = image_format, max_images
        self._token_param = "max_tokens"  # switched once if the server wants max_completion_tokens
        self.client = make_client(base_url.rstrip("/"), api_key, timeout, max_retries)

    def describe(self, frames: Sequence[np.ndarray], timestamps: Sequence[float], prompt: str,
                 context: CaptionContext | None = None) -> Caption:
        req = CaptionRequest(frames=tuple(frames), timestamps=tuple(float(t) for t in timestamps),
                             prompt=prompt, context=context)
        return self._one(req)

    def describe_batch(self, requests: Sequence[CaptionRequest]) -> list[Caption]:
        """Concurrent requests (``captioner.batch_size`` in flight), results in input order."""
        if len(requests) <= 1:
            return [self._one(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.cfg.batch_size, len(requests))) as pool:
            return list(pool.map(self._one, requests))

    def payload(self, req: CaptionRequest) -> dict[str, Any]:
        """The JSON body for one node (public so tests and users can inspect what is sent)."""
        if len(req.frames) != len(req.timestamps):
            raise ValueError(f"{len(req.frames)} frames but {len(req.timestamps)} timestamps")
        frames, stamps = subsample(req.frames, req.timestamps, self.max_images)
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": data_uri(f, self.image_format)}} for f in frames]
        parts.append({"type": "text", "text": render(req.prompt, req.context, stamps)})
        body: dict[str, Any] = {"model": self.model_id, "messages": [{"role": "user", "content": parts}],
                                "temperature": self.cfg.temperature}
        body[self._token_param] = self.cfg.max_new_tokens
        return body

    def _one(self, req: CaptionRequest) -> Caption:
        t0 = time.perf_counter()
        reply = self._post(req)
        choice = (reply.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content")
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise VLMRequestError(f"{self.url} returned no message content (finish_reason="
                                  f"{choice.get('finish_reason')!r}): {json.dumps(reply)[:300]}")
        usage = reply.get("usage") or {}
        stats = {k: usage[k] for k in ("prompt_tokens", "completion_tokens") if isinstance(usage.get(k), int)}
        stats["finish_reason"] = choice.get("finish_reason")
        return Caption(text=content.strip(), seconds=time.perf_counter() - t0,
                       frames=min(len(req.frames), self.max_images), stats=stats,
                       provenance=Provenance(backend=self.name, model=self.model_id,
                                             prompt_version=self.prompt_version))

    def _post(self, req: CaptionRequest) -> dict[str, Any]:
        try:
            try:
                return chat_completion(self.client, self.url, self.payload(req), self.max_retries)
            except RequestFailed as e:
                if e.status == 400 and "max_completion_tokens" in e.message and self._token_param == "max_tokens":
                    self._token_param = "max_completion_tokens"  # newer OpenAI models want this name
                    return chat_completion(self.client, self.url, self.payload(req), self.max_retries)
                raise
        except RequestFailed as e:
            if e.status in RETRY_STATUS or e.status == 0:
                last = e.message if e.status == 0 else f"HTTP {e.status}: {e.message}"
                raise VLMRequestError(f"{self.url} failed {e.attempts} times, last: {last} -- is the server up at "
                                      "captioner.base_url, and does it have capacity?", e.status) from None
            sent = min(len(req.frames), self.max_images)
            raise VLMRequestError(f"{self.url} answered HTTP {e.status}: {e.message} -- "
                                  f"{_hint(e.status, e.message, sent)}", e.status) from None
