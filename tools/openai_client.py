"""The official ``openai`` client, set up the same way for the planner and the captioner.

Why one helper: both talk to OpenAI-compatible servers (``vllm serve``, llama.cpp, hosted APIs)
and need the same things: the base URL and key from the config, else ``OPENAI_BASE_URL`` /
``OPENAI_API_KEY``; the client's own retries (429, 5xx, dropped connections, honouring
``Retry-After``) and timeouts; no environment proxy for a server on this machine; and the raw
JSON answer, because vLLM adds fields (``prompt_logprobs``) and some servers send content parts
that the typed response objects do not model. Each client turns :class:`RequestFailed` into
its own error naming the config key to change.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
NO_KEY = "EMPTY"  # what vLLM's docs pass when the server was started without --api-key
RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))  # the openai client retries these


class RequestFailed(Exception):
    """The request failed for good (after the client's retries). ``status`` 0: no HTTP answer at all."""

    def __init__(self, url: str, status: int, message: str, attempts: int) -> None:
        super().__init__(f"{url}: {f'HTTP {status}' if status else 'no answer'}: {message}")
        self.url, self.status, self.message, self.attempts = url, status, message, attempts


def resolve(base_url: str | None, api_key: str | None) -> tuple[str | None, str]:
    """The config's values, else ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``; no key at all: ``EMPTY``.

    >>> resolve("http://h:1/v1", "sk-1")
    ('http://h:1/v1', 'sk-1')
    """
    return (base_url or os.environ.get("OPENAI_BASE_URL") or None,
            api_key or os.environ.get("OPENAI_API_KEY") or NO_KEY)


def make_client(base_url: str, api_key: str, timeout: float, max_retries: int) -> Any:
    """An ``openai.OpenAI`` client; raises ImportError (with the pip line) when the package is absent."""
    try:
        import openai
    except ImportError as e:  # pragma: no cover - openai is a dependency
        raise ImportError("the openai package is needed for the OpenAI-compatible backends: pip install openai") from e
    host = urllib.parse.urlparse(base_url).hostname
    http_client = openai.DefaultHttpxClient(trust_env=False) if host in LOOPBACK else None
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
                         http_client=http_client)


def server_message(body: str) -> str:
    """The human part of an error body (OpenAI-style ``{"error": {"message": ...}}`` or raw text).

    >>> server_message('{"error": {"message": "model not found"}}')
    'model not found'
    >>> server_message("<html>bad gateway</html>")
    '<html>bad gateway</html>'
    """
    try:
        err = json.loads(body)
        if isinstance(err, dict):
            inner = err.get("error", err)
            if isinstance(inner, dict):
                return str(inner.get("message") or inner)
            return str(inner)
    except ValueError:
        pass
    return body[:500]


def chat_completion(client: Any, url: str, body: dict[str, Any], max_retries: int) -> dict[str, Any]:
    """POST ``body`` to ``chat/completions`` through ``client``; the answer as a plain dict.

    Fields the OpenAI API does not define (vLLM's ``add_generation_prompt``, ``prompt_logprobs``,
    ...) travel in ``extra_body``. Raises :class:`RequestFailed`.
    """
    import openai

    known = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "tools", "tool_choice",
             "top_p", "stop", "seed"}
    kwargs = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known}
    try:
        raw = client.chat.completions.with_raw_response.create(**kwargs, extra_body=extra or None)
        text = raw.text
    except openai.APIStatusError as e:
        status = int(e.status_code)
        try:
            message = server_message(e.response.text)
        except Exception:  # noqa: BLE001 - a body we cannot read still has a status
            message = str(e)
        raise RequestFailed(url, status, message, max_retries + 1 if status in RETRY_STATUS else 1) from None
    except openai.APIConnectionError as e:  # includes timeouts; retried by the client already
        cause = e.__cause__ or e
        raise RequestFailed(url, 0, f"{type(e).__name__}: {cause}", max_retries + 1) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise RequestFailed(url, 200, f"the answer is not JSON: {text[:200]!r}", 1) from None
    if not isinstance(data, dict):
        raise RequestFailed(url, 200, f"the answer is not a JSON object: {text[:200]!r}", 1)
    return data
