"""JSON over HTTP with retries: the one POST loop both OpenAI-compatible clients use.

Why one helper: the planner (``agent/llm_openai.py``) and the captioner (``tools/vlm_openai.py``)
talk to the same kind of server and fail the same ways: 429 rate limits, 5xx while a model
loads, dropped connections. Those are retried with exponential backoff (with jitter, capped at
60 s, honouring ``Retry-After``); anything else is the caller's fault and fails at once. Each
client turns :class:`HTTPFailure` into its own error, with the config key to fix. Standard
library only, so the base install needs no HTTP client package.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_DELAY = 60.0


class HTTPFailure(Exception):
    """The POST failed for good. ``status`` is the HTTP status (0: no HTTP answer at all)."""

    def __init__(self, url: str, status: int, message: str, attempts: int) -> None:
        super().__init__(f"{url}: {f'HTTP {status}' if status else 'no answer'}: {message}")
        self.url, self.status, self.message, self.attempts = url, status, message, attempts


def server_message(body: bytes) -> str:
    """The human part of an error body (OpenAI-style ``{"error": {"message": ...}}`` or raw text).

    >>> server_message(b'{"error": {"message": "model not found"}}')
    'model not found'
    >>> server_message(b"<html>bad gateway</html>")
    '<html>bad gateway</html>'
    """
    try:
        err = json.loads(body.decode("utf-8", "replace"))
        if isinstance(err, dict):
            inner = err.get("error", err)
            if isinstance(inner, dict):
                return str(inner.get("message") or inner)
            return str(inner)
    except ValueError:
        pass
    return body.decode("utf-8", "replace")[:500]


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (HTTP dates are ignored: backoff is used instead).

    >>> retry_after("3"), retry_after(None), retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
    (3.0, None, None)
    """
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def opener_for(url: str) -> urllib.request.OpenerDirector:
    """Environment proxies are right for hosted APIs but wrong for a local ``vllm serve``."""
    import urllib.parse

    host = urllib.parse.urlparse(url).hostname
    return urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if host in LOOPBACK else []))


def post_json(url: str, payload: dict[str, Any], *, api_key: str | None = None, timeout: float = 120.0,
              max_retries: int = 4, backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep,
              opener: urllib.request.OpenerDirector | None = None) -> dict[str, Any]:
    """POSTs ``payload`` as JSON and returns the JSON answer; raises :class:`HTTPFailure`.

    Retries ``RETRY_STATUS`` answers, connection errors, timeouts and unreadable JSON up to
    ``max_retries`` times, waiting ``Retry-After`` or ``backoff * 2**attempt`` (±25%, ≤ 60 s).
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = json.dumps(payload).encode("utf-8")
    op = opener or opener_for(url)
    for attempt in range(max_retries + 1):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        wait: float | None = None
        try:
            with op.open(request, timeout=timeout) as resp:
                return dict(json.loads(resp.read().decode("utf-8")))
        except urllib.error.HTTPError as e:
            status, message = e.code, server_message(e.read())
            if status not in RETRY_STATUS or attempt == max_retries:
                raise HTTPFailure(url, status, message, attempt + 1) from None
            wait = retry_after(e.headers.get("Retry-After") if e.headers else None)
        except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
            if attempt == max_retries:
                raise HTTPFailure(url, 0, f"{type(e).__name__}: {getattr(e, 'reason', e)}", attempt + 1) from None
        delay = wait if wait is not None else backoff * 2 ** attempt
        sleep(min(MAX_DELAY, delay * random.uniform(0.75, 1.25)))
    raise AssertionError("unreachable")
