"""The one action space (expand / inspect / search / answer) and its tolerant parser.

Inference, SFT data and the GRPO environment all use these definitions: the tool schemas
come from the typed, documented stub functions below (``transformers.utils.get_json_schema``
reads the same Google-style docstrings TRL reads), actions render to the chat template's
``<tool_call>`` JSON, and :func:`parse_action` reads that plus the formats small and foreign
models actually emit (bare JSON, LongVideo-R1 tags, ``name(args)`` calls). It never raises
and never evaluates model output: anything it cannot read becomes a :class:`ParseFailure`
that the loop turns into a corrective observation.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ActionName = Literal["expand", "inspect", "search", "answer"]
ACTION_NAMES: tuple[str, ...] = ("expand", "inspect", "search", "answer")


# -- tool stubs: their signatures and docstrings *are* the schemas ---------------------
def expand(node_id: str) -> str:
    """Open a node of the caption tree and read the captions of its children (finer, shorter spans).

    Args:
        node_id: Id of the node to open, e.g. "2" or "2.3".
    """
    raise NotImplementedError  # schema only: the planner executes actions


def inspect(node_id: str, query: str) -> str:
    """Look closely at one node: answer a question from its frames or its original captions.

    Args:
        node_id: Id of the node to inspect, e.g. "2.3.1".
        query: What to look for in that node.
    """
    raise NotImplementedError


def search(query: str) -> str:
    """Search every caption built so far and return the best-matching spans.

    Args:
        query: Words describing what to find.
    """
    raise NotImplementedError


def answer(answer: str, confidence: float) -> str:
    """Give the final answer and stop.

    Args:
        answer: The answer: an option letter (A-E) for multiple choice, else a short text.
        confidence: How sure you are, from 0 to 1.
    """
    raise NotImplementedError


TOOL_FUNCTIONS = (expand, inspect, search, answer)


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def function_schema(fn: Any) -> dict[str, Any]:
    """OpenAI-style schema from a typed function with a Google-style docstring.

    Produces what ``transformers.utils.get_json_schema`` produces for these stubs (a test
    checks it) without importing transformers, so a prior-only planner starts fast. Every
    parameter must be typed and documented: checked here, at construction.
    """
    import inspect as _inspect
    import typing

    hints = typing.get_type_hints(fn)
    doc = _inspect.getdoc(fn) or ""
    desc, _, args_block = doc.partition("Args:")
    arg_docs = dict(re.findall(r"^\s*(\w+):\s*(.+)$", args_block, re.M))
    props = {}
    for name in _inspect.signature(fn).parameters:
        if name not in hints or name not in arg_docs:
            raise ValueError(f"tool {fn.__name__}: parameter {name!r} needs a type hint and an Args: entry")
        props[name] = {"type": _JSON_TYPES[hints[name]], "description": arg_docs[name].strip()}
    return {"type": "function", "function": {
        "name": fn.__name__, "description": " ".join(desc.split()),
        "parameters": {"type": "object", "properties": props, "required": list(props)},
        "return": {"type": _JSON_TYPES[hints["return"]]}}}


def tool_schemas() -> list[dict[str, Any]]:
    """The four tools' schemas (what ``tools=`` in the chat template and TRL receive)."""
    return [function_schema(f) for f in TOOL_FUNCTIONS]


# -- parsed actions ---------------------------------------------------------------------------
class Action(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: ActionName
    node_id: str | None = None
    query: str | None = None
    answer: str | None = None
    confidence: float | None = None

    def arguments(self) -> dict[str, Any]:
        if self.name == "expand":
            return {"node_id": self.node_id}
        if self.name == "inspect":
            return {"node_id": self.node_id, "query": self.query}
        if self.name == "search":
            return {"query": self.query}
        return {"answer": self.answer, "confidence": self.confidence if self.confidence is not None else 0.5}

    def render(self) -> str:
        """The canonical assistant text for this action (chat-template tool-call format)."""
        return f"<tool_call>\n{json.dumps({'name': self.name, 'arguments': self.arguments()})}\n</tool_call>"

    def tool_call(self) -> dict[str, Any]:
        """The ``tool_calls`` entry for an assistant message (chat-template / TRL format)."""
        return {"type": "function", "function": {"name": self.name, "arguments": self.arguments()}}


class ParseFailure(BaseModel):
    model_config = ConfigDict(frozen=True)
    error: str
    raw: str


_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*(?:</answer>|$)", re.S)
_TOOL_TAG = re.compile(r"<tool>\s*(.*?)\s*(?:</tool>|$)", re.S)
_CALL = re.compile(r"\b(expand|inspect|search|answer|get_caption|get_video_qa|video_qa|caption)\s*\((.*)\)", re.S)
_NODE = re.compile(r"^(root|\d+(?:\.\d+)*)$")
_ALIASES = {"get_caption": "expand", "caption": "expand", "get_video_qa": "inspect", "video_qa": "inspect"}


def normalise_node_id(raw: Any) -> str | None:
    """Accept ``"2.3"``, ``2``, ``[2, 3]``, ``"(2,3)"`` (LongVideo-R1 tuples), ``"node 2.3"``.

    >>> [normalise_node_id(x) for x in ["2.3", 2, [2, 3], "(2, 3)", "node 1.2", "root", "x"]]
    ['2.3', '2', '2.3', '2.3', '1.2', 'root', None]
    """
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)) and float(raw).is_integer():
        return str(int(raw))
    if isinstance(raw, (list, tuple)):
        parts = [normalise_node_id(x) for x in raw]
        return ".".join(p for p in parts if p) if parts and all(parts) else None
    s = str(raw).strip().strip("\"'").strip()
    s = re.sub(r"^(node|id|segment)\s*[:#]?\s*", "", s, flags=re.I)
    if s.startswith("(") or s.startswith("["):
        s = ".".join(x.strip() for x in s.strip("()[] ").split(",") if x.strip())
    return s if _NODE.match(s) else None


def _split_args(s: str) -> list[str]:
    """Split ``a, "b, c", (1,2)`` on top-level commas, respecting quotes and brackets."""
    out, cur, depth, quote = [], [], 0, ""
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _unquote(s: str) -> str:
    s = s.strip()
    if "=" in s and re.match(r"^\w+\s*=", s):
        s = s.split("=", 1)[1].strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        s = s[1:-1]
    return s


def _from_name_args(name: str, args: dict[str, Any], raw: str) -> Action | ParseFailure:
    name = _ALIASES.get(name, name)
    if name not in ACTION_NAMES:
        return ParseFailure(error=f"unknown tool {name!r}; use one of {', '.join(ACTION_NAMES)}", raw=raw)
    if name in ("expand", "inspect"):
        nid = normalise_node_id(args.get("node_id", args.get("node", args.get("id", args.get("segment_id")))))
        if nid is None:
            return ParseFailure(error=f"{name} needs node_id such as \"2.3\"", raw=raw)
        if name == "expand":
            return Action(name="expand", node_id=nid)
        q = args.get("query", args.get("question", ""))
        return Action(name="inspect", node_id=nid, query=str(q or "")[:500])
    if name == "search":
        q = args.get("query", args.get("text", ""))
        if not str(q or "").strip():
            return ParseFailure(error="search needs a non-empty query", raw=raw)
        return Action(name="search", query=str(q)[:500])
    ans = args.get("answer", args.get("choice", args.get("text")))
    if ans is None or not str(ans).strip():
        return ParseFailure(error="answer needs an answer", raw=raw)
    conf = args.get("confidence", 0.5)
    try:
        c = min(1.0, max(0.0, float(conf)))
    except (TypeError, ValueError):
        c = 0.5
    return Action(name="answer", answer=str(ans).strip()[:500], confidence=c)


def _from_json(obj: Any, raw: str) -> Action | ParseFailure:
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if not isinstance(obj, dict):
        return ParseFailure(error="tool call must be a JSON object with name and arguments", raw=raw)
    if "function" in obj and isinstance(obj["function"], dict):
        obj = obj["function"]
    name = obj.get("name", obj.get("action", obj.get("tool")))
    args = obj.get("arguments", obj.get("args", obj.get("parameters", {k: v for k, v in obj.items()
                                                                          if k not in ("name", "action", "tool")})))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            args = {"node_id": args, "query": args, "answer": args}
    if not isinstance(name, str) or not isinstance(args, dict):
        return ParseFailure(error="tool call needs a string name and an arguments object", raw=raw)
    return _from_name_args(name.strip().lower(), args, raw)


def _first_json_object(s: str) -> Any | None:
    start = s.find("{")
    while start != -1:
        depth = 0
        for i in range(start, len(s)):
            if s[i] == "{":
                depth += 1
            elif s[i] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        return json.loads(s[start : i + 1])
                    except json.JSONDecodeError:
                        break
        start = s.find("{", start + 1)
    return None


def _from_call(name: str, argstr: str, raw: str) -> Action | ParseFailure:
    name = _ALIASES.get(name, name)
    parts = [_unquote(a) for a in _split_args(argstr)]
    if name in ("expand", "inspect"):
        args: dict[str, Any] = {"node_id": parts[0] if parts else None}
        if name == "inspect":
            args["query"] = parts[1] if len(parts) > 1 else ""
    elif name == "search":
        args = {"query": ", ".join(parts)}
    else:
        args = {"answer": parts[0] if parts else None, "confidence": parts[1] if len(parts) > 1 else 0.5}
    return _from_name_args(name, args, raw)


def parse_action(text: str | None, tool_calls: list[dict[str, Any]] | None = None) -> Action | ParseFailure:
    """Read ONE action from a model reply; the first well-formed one wins. Never raises."""
    raw = text or ""
    try:
        if tool_calls:
            return _from_json(tool_calls[0], raw)
        m = _TOOL_CALL.search(raw)
        if m:
            obj = _first_json_object(m.group(1))
            if obj is not None:
                return _from_json(obj, raw)
            c = _CALL.search(m.group(1))
            if c:
                return _from_call(c.group(1).lower(), c.group(2), raw)
            return ParseFailure(error="<tool_call> must contain {\"name\": ..., \"arguments\": {...}}", raw=raw)
        m = _TOOL_TAG.search(raw)
        if m:
            c = _CALL.search(m.group(1))
            if c:
                return _from_call(c.group(1).lower(), c.group(2), raw)
        m = _ANSWER_TAG.search(raw)
        if m and m.group(1).strip():
            return Action(name="answer", answer=m.group(1).strip()[:500], confidence=0.5)
        obj = _first_json_object(raw)
        if obj is not None:
            return _from_json(obj, raw)
        c = _CALL.search(raw)
        if c:
            return _from_call(c.group(1).lower(), c.group(2), raw)
    except (ValueError, TypeError, RecursionError) as e:  # defensive: parsing must never crash the loop
        return ParseFailure(error=f"could not read the action ({type(e).__name__})", raw=raw)
    return ParseFailure(error="no action found; reply with one <tool_call>{\"name\": ..., \"arguments\": ...}"
                              "</tool_call>", raw=raw)


LETTERS = "ABCDEFGH"


def option_index(ans: str, options: list[str]) -> int | None:
    """Map an answer (letter, number, or option text) to an option index.

    >>> option_index("B", ["x", "y"]), option_index("(a) x", ["x", "y"]), option_index("y", ["x", "y"])
    (1, 0, 1)
    >>> option_index("2", ["x", "y", "z"]), option_index("nothing", ["x", "y"]) is None
    (2, True)
    """
    if not options:
        return None
    s = ans.strip()
    m = re.match(r"^\(?([A-Ha-h])\)?(?:[.):\s]|$)", s)
    if m and LETTERS.index(m.group(1).upper()) < len(options):
        return LETTERS.index(m.group(1).upper())
    if re.fullmatch(r"\d", s) and int(s) < len(options):
        return int(s)
    low = s.lower()
    for i, o in enumerate(options):
        if o.strip().lower() == low:
            return i
    for i, o in enumerate(options):
        if o.strip() and o.strip().lower() in low:
            return i
    return None
