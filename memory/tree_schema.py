"""Strict validation of an imported videonav tree (``videonav tree import``), with pydantic.

Why strict: an imported tree becomes the newest tree of its video id, so a bad one shadows the
good tree it was meant to improve, and a NaN duration stored as NULL crashed every later reader.
Everything a reader relies on is checked before anything is stored: finite, non-negative,
ordered spans; each child inside its parent and after its previous sibling; captions are strings
(not objects or lists); ids are unique path ids whose depth is their level; ``meta`` is a shallow
JSON object. A failure is one line naming the node and field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator

from videonav.memory.tree import ROOT, CaptionTree, Node, Provenance, TimedText, TreeError, parent_id

EPS = 1e-6
MAX_NODES = 2_000_000
MAX_META_DEPTH = 16
_ID = re.compile(r"root|[1-9][0-9]{0,6}(\.[1-9][0-9]{0,6}){0,31}")

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimedTextIn(_Strict):
    start: Seconds
    end: Seconds
    text: StrictStr

    @model_validator(mode="after")
    def _ordered(self) -> TimedTextIn:
        if self.end < self.start:
            raise ValueError(f"line ends before it starts ({self.start} > {self.end})")
        return self


class ProvenanceIn(_Strict):
    backend: StrictStr = "import"
    model: StrictStr = ""
    prompt_version: StrictStr = ""


class NodeIn(_Strict):
    id: StrictStr
    start: Seconds
    end: Seconds
    level: StrictInt = Field(ge=0, le=32)
    caption: StrictStr | None = None
    transcript: StrictStr | None = None
    lines: list[TimedTextIn] = Field(default_factory=list, max_length=100_000)
    provenance: ProvenanceIn = ProvenanceIn()

    @model_validator(mode="after")
    def _shape(self) -> NodeIn:
        if not _ID.fullmatch(self.id):
            raise ValueError(f"id {self.id!r} is not a path id ('root', '2', '2.3', ...)")
        depth = 0 if self.id == ROOT else self.id.count(".") + 1
        if self.level != depth:
            raise ValueError(f"node {self.id!r} has level {self.level}, its id says {depth}")
        if self.end < self.start:
            raise ValueError(f"node {self.id!r} ends before it starts ({self.start} > {self.end})")
        return self


def _depth(x: Any, limit: int) -> int:
    if limit < 0:
        return 0
    if isinstance(x, dict):
        return 1 + max((_depth(v, limit - 1) for v in x.values()), default=0)
    if isinstance(x, list):
        return 1 + max((_depth(v, limit - 1) for v in x), default=0)
    return 0


class TreeFileIn(_Strict):
    schema_: Literal["videonav.tree"] = Field(alias="schema")
    version: Literal[1]
    video_id: StrictStr = Field(min_length=1, max_length=512)
    duration: Seconds = Field(gt=0)
    meta: dict[str, Any] = Field(default_factory=dict)
    nodes: list[NodeIn] = Field(min_length=1, max_length=MAX_NODES)

    @model_validator(mode="before")
    @classmethod
    def _shallow_meta(cls, d: Any) -> Any:
        if isinstance(d, dict) and _depth(d.get("meta"), MAX_META_DEPTH + 1) > MAX_META_DEPTH:
            raise ValueError(f"meta is nested deeper than {MAX_META_DEPTH} levels")
        return d

    @model_validator(mode="after")
    def _tree(self) -> TreeFileIn:
        by_id: dict[str, NodeIn] = {}
        for n in self.nodes:
            if n.id in by_id:
                raise ValueError(f"duplicate node id {n.id!r}")
            by_id[n.id] = n
        root = by_id.get(ROOT)
        if root is None:
            raise ValueError("no 'root' node")
        if root.end > self.duration + EPS:
            raise ValueError(f"root ends at {root.end}, after the duration {self.duration}")
        last_start: dict[str, tuple[int, float]] = {}
        for n in sorted(self.nodes, key=lambda x: (x.level, [int(p) for p in x.id.split(".")] if x.level else [])):
            pid = parent_id(n.id)
            if pid is None:
                continue
            p = by_id.get(pid)
            if p is None:
                raise ValueError(f"node {n.id!r} has no parent {pid!r}")
            if n.start < p.start - EPS or n.end > p.end + EPS:
                raise ValueError(f"node {n.id!r} [{n.start}, {n.end}] is outside its parent {pid!r} "
                                 f"[{p.start}, {p.end}]")
            idx = int(n.id.rsplit(".", 1)[-1])
            prev = last_start.get(pid)
            if prev is not None and n.start < prev[1] - EPS:
                raise ValueError(f"node {n.id!r} starts at {n.start}, before its previous sibling (at {prev[1]})")
            last_start[pid] = (idx, n.start)
        return self


def _first_error(e: ValidationError, d: dict[str, Any]) -> str:
    err = e.errors(include_url=False)[0]
    loc = list(err.get("loc", ()))
    where = ""
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        nodes = d.get("nodes")
        nid = nodes[loc[1]].get("id") if isinstance(nodes, list) and isinstance(nodes[loc[1]], dict) else None
        where = f"nodes[{loc[1]}]" + (f" (id {nid!r})" if isinstance(nid, str) else "")
        loc = loc[2:]
    field = ".".join(str(x) for x in loc)
    where = ".".join(x for x in (where, field) if x) or "tree"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {msg}"


def validate_tree_dict(d: dict[str, Any]) -> CaptionTree:
    """The tree in ``d`` (our JSON schema) or a :class:`TreeError` whose message is one line."""
    try:
        model = TreeFileIn.model_validate(d)
    except ValidationError as e:
        raise TreeError(_first_error(e, d)) from None
    except RecursionError:
        raise TreeError("nested too deeply") from None
    tree = CaptionTree(model.video_id, model.duration, model.meta)
    order = sorted(model.nodes, key=lambda x: (x.level, [int(p) for p in x.id.split(".")] if x.level else []))
    for n in order:
        tree.add(Node(id=n.id, start=n.start, end=n.end, level=n.level, caption=n.caption, transcript=n.transcript,
                      lines=tuple(TimedText(**ln.model_dump()) for ln in n.lines),
                      provenance=Provenance(**n.provenance.model_dump())))
    tree.validate()
    return tree
