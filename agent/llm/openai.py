"""Planner backend for any OpenAI-compatible chat-completions server (``vllm serve``, llama.cpp, ...).

Through the official ``openai`` client (``tools/openai_client.py``): its retries, timeouts and
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` as defaults below the config. Tool schemas go out as
OpenAI function tools with ``tool_choice="auto"`` (vLLM serves tool calls only then, and only
with ``--enable-auto-tool-choice --tool-call-parser ...``); the server's parsed ``tool_calls``
come back as ``[{name, arguments}]``, and the planner's parser still reads the text when a
server does not parse tool calls itself.

``score`` needs prompt log-probs, which the OpenAI API proper does not offer for chat. vLLM's
chat endpoint does (``continue_final_message`` + ``prompt_logprobs``), so score asks for them
and raises ``NotImplementedError`` (remembered) when the server refuses: the planner then falls
back to free tool calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from videonav.agent.llm.base import LLM, ChatReply, register_llm
from videonav.agent.llm.chat_template import normalise_messages
from videonav.tools.embed import BackendUnavailable
from videonav.tools.openai_client import RequestFailed, chat_completion, make_client, resolve


class OpenAIError(RuntimeError):
    """The server answered with an error we cannot retry away; the message says what to change."""

    user_error = True

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def to_openai_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Bare ``{name, description, parameters}`` schemas are wrapped as ``{"type": "function", ...}``."""
    if not tools:
        return None
    return [t if t.get("type") == "function" and "function" in t else {"type": "function", "function": t}
            for t in tools]


def to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our messages in the wire format: tool-call arguments as JSON strings, ids linking tool results.

    The planner keeps arguments as dicts and may omit ids; servers require both, so missing ids
    are made up and each ``tool`` message is linked to the next unanswered call before it.
    """
    out: list[dict[str, Any]] = []
    pending: list[Any] = []
    n = 0
    for m in normalise_messages(messages):
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                fn = call.get("function", call)
                args = fn.get("arguments", {})
                cid = call.get("id") or f"call_{n}"
                n += 1
                calls.append({"id": cid, "type": "function", "function": {
                    "name": fn["name"], "arguments": args if isinstance(args, str) else json.dumps(args)}})
            m["tool_calls"] = calls
            pending = [c["id"] for c in calls]
        elif m.get("role") == "tool" and "tool_call_id" not in m:
            m["tool_call_id"] = pending.pop(0) if pending else f"call_{n}"
        out.append(m)
    return out


def parse_tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{name, arguments(dict)}]`` from a response message; unparsable arguments become ``{}``."""
    calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        args: Any = fn.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                args = {}
        if fn.get("name"):
            calls.append({"name": fn["name"], "arguments": args if isinstance(args, dict) else {}})
    return calls


@register_llm("openai")
class OpenAILLM(LLM):
    """Chat through the ``openai`` client, which retries 429/5xx and dropped connections itself."""

    name = "openai"

    def __init__(self, cfg: Any, timeout: float = 120.0, max_retries: int = 4) -> None:
        base_url, api_key = resolve(cfg.base_url, cfg.api_key)
        if not base_url:
            raise BackendUnavailable("planner.backend=openai needs planner.base_url (or OPENAI_BASE_URL), "
                                     "e.g. http://127.0.0.1:8000/v1 for `vllm serve`")
        if not cfg.model:
            raise BackendUnavailable("planner.backend=openai needs planner.model: the model name the server "
                                     "serves")
        self.base_url = str(base_url).rstrip("/")
        self.model_id = str(cfg.model)
        self.api_key = api_key
        self.timeout, self.max_retries = timeout, max_retries
        self._clients: dict[tuple[float, int], Any] = {}
        self._score_supported: bool | None = None

    @property
    def client(self) -> Any:
        """The ``openai.OpenAI`` client for the current ``timeout`` and ``max_retries`` (both settable)."""
        key = (self.timeout, self.max_retries)
        if key not in self._clients:
            self._clients[key] = make_client(self.base_url, self.api_key, self.timeout, self.max_retries)
        return self._clients[key]

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            return chat_completion(self.client, url, payload, self.max_retries)
        except RequestFailed as e:
            if e.status in (401, 403):
                raise OpenAIError(f"{url}: HTTP {e.status} (not authorised); check planner.api_key "
                                  f"(or OPENAI_API_KEY). Server said: {e.message}", e.status) from None
            if e.status == 404:
                hint = f"check planner.base_url (it usually ends in /v1) and planner.model={self.model_id!r}"
                raise OpenAIError(f"{url}: HTTP 404; {hint}. Server said: {e.message}", 404) from None
            if e.status == 0:
                raise OpenAIError(f"cannot reach {url} after {e.attempts} tries ({e.message}); is the server "
                                  "running? check planner.base_url") from None
            raise OpenAIError(f"{url}: HTTP {e.status}: {e.message}", e.status) from None

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
        payload: dict[str, Any] = {"model": self.model_id, "messages": to_openai_messages(messages),
                                   "max_tokens": max_new_tokens, "temperature": temperature}
        if tools:
            payload["tools"] = to_openai_tools(tools)
            payload["tool_choice"] = "auto"
        data = self._post("chat/completions", payload)
        try:
            msg = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise OpenAIError(f"{self.base_url}: unexpected response (no choices[0].message): "
                              f"{json.dumps(data)[:300]}") from None
        usage = data.get("usage") or {}
        return ChatReply(text=msg.get("content") or "", tool_calls=parse_tool_calls(msg),
                         prompt_tokens=int(usage.get("prompt_tokens") or 0),
                         completion_tokens=int(usage.get("completion_tokens") or 0))

    # -- scoring (vLLM's chat extensions) ---------------------------------------------------------
    def _prompt_logprobs(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                         continuation: str | None) -> tuple[int, list[float]]:
        """(prompt tokens, log-prob of each prompt token); ``continuation`` is rendered as a started reply."""
        msgs = to_openai_messages(messages)
        extra: dict[str, Any] = {"add_generation_prompt": True}
        if continuation is not None:
            msgs.append({"role": "assistant", "content": continuation})
            extra = {"add_generation_prompt": False, "continue_final_message": True, "prompt_logprobs": 0}
        payload: dict[str, Any] = {"model": self.model_id, "messages": msgs, "max_tokens": 1,
                                   "temperature": 0.0, **extra}
        if tools:  # rendered into the prompt only: "none" needs no --enable-auto-tool-choice on vLLM
            payload["tools"] = to_openai_tools(tools)
            payload["tool_choice"] = "none"
            # vLLM re-validates `tools` and drops keys the OpenAI schema lacks (our schemas' "return"),
            # so the prompt differed from the transformers backend's by 40 tokens and the action
            # scores by up to 0.5. Template kwargs override the tools the template sees, verbatim
            # (scoring already needs vLLM's chat extensions, so no other server is affected).
            payload["chat_template_kwargs"] = {"tools": to_openai_tools(tools)}
        data = self._post("chat/completions", payload)
        n = int((data.get("usage") or {}).get("prompt_tokens") or 0)
        lps: list[float] = []
        if continuation is not None:
            plp = data.get("prompt_logprobs")
            if not isinstance(plp, list) or not n:
                raise NotImplementedError("server returned no prompt_logprobs")
            for entry in plp:
                # with prompt_logprobs=0 each entry holds only the actual prompt token
                vals = list(entry.values()) if isinstance(entry, dict) else []
                lp = vals[0].get("logprob") if vals and isinstance(vals[0], dict) else None
                lps.append(float(lp) if lp is not None else 0.0)
        return n, lps

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None, mean: bool = False) -> list[float]:
        """Summed (or mean) log-prob of each continuation; NotImplementedError if the server can't."""
        if self._score_supported is False:
            raise NotImplementedError(f"{self.base_url} gives no prompt log-probs (needs vLLM's chat API)")
        try:
            base, _ = self._prompt_logprobs(messages, tools, None)
            with ThreadPoolExecutor(max_workers=min(8, max(1, len(continuations)))) as pool:
                results = list(pool.map(lambda c: self._prompt_logprobs(messages, tools, c), continuations))
        except (NotImplementedError, OpenAIError) as e:
            if isinstance(e, OpenAIError) and e.status not in (400, 404, 422):
                raise
            self._score_supported = False
            raise NotImplementedError(f"{self.base_url} gives no prompt log-probs (needs vLLM's chat API): "
                                      f"{e}") from None
        self._score_supported = True
        self.last_usage = (base, sum(max(0, n - base) for n, _ in results))  # the run's token counts
        out = []
        for _, lps in results:
            tail = lps[base:]
            out.append((sum(tail) / len(tail) if mean else sum(tail)) if tail else 0.0)
        return out

    def score_mean(self, messages: list[dict[str, Any]], continuations: Sequence[str],
                   tools: list[dict[str, Any]] | None = None) -> list[float]:
        """Per-token mean log-prob (fairer than the sum between continuations of different lengths)."""
        return self.score(messages, continuations, tools, mean=True)
