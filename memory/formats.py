"""Caption-tree file formats: our versioned JSON, LongVideo-R1, {second: caption}, EgoSchema.

Every reader raises :class:`FormatError` naming the file and what is wrong with it, never a
bare ``KeyError``/``JSONDecodeError``: users feed these files by hand.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

from videonav.memory.paths import missing_reason, os_error_message
from videonav.memory.tree import ROOT, CaptionTree, Node, Provenance, TimedText, TreeError, child_id

SCHEMA = "videonav.tree"
SCHEMA_VERSION = 1


class FormatError(ValueError):
    """A file could not be read as the format it claims to be."""


MAX_JSON_BYTES = 2 << 30


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; use a finite number")


def parse_json(raw: bytes | str, source: str) -> Any:
    """JSON text -> value, or a :class:`FormatError` naming ``source``: invalid JSON, NaN/Infinity
    literals and nesting deeper than Python can parse all get one line (never a RecursionError)."""
    try:  # bytes: json detects UTF-8 (with or without BOM), UTF-16 and UTF-32
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise FormatError(f"{source}: JSON nested too deeply to be a caption file; fix or regenerate it") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{source}: not UTF-8/UTF-16 text ({e.reason}); save it as UTF-8 JSON") from None
    except json.JSONDecodeError as e:
        raise FormatError(f"{source}: not valid JSON ({e}); fix the file") from None
    except ValueError as e:  # NaN / Infinity
        raise FormatError(f"{source}: {e}") from None


def _load_json(path: Path | str) -> Any:
    p = Path(path)
    why = missing_reason(p)
    if why:
        raise FormatError(why)
    try:
        if p.stat().st_size > MAX_JSON_BYTES:
            raise FormatError(f"{p}: {p.stat().st_size >> 20} MiB is too large for a caption file; split it")
        raw = p.read_bytes()
    except OSError as e:
        raise FormatError(os_error_message(p, e)) from None
    return parse_json(raw, str(p))


def _kind(d: Any) -> str:
    return {str: "a JSON string", list: "a JSON list", int: "a JSON number", float: "a JSON number",
            bool: "a JSON boolean", type(None): "JSON null", dict: "a JSON object"}.get(type(d), type(d).__name__)


# -- our own schema -----------------------------------------------------------------
def tree_to_dict(tree: CaptionTree) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "video_id": tree.video_id,
        "duration": tree.duration,
        "meta": tree.meta,
        "nodes": [n.model_dump(mode="json") for n in tree.nodes()],
    }


def tree_from_dict(d: dict[str, Any], source: str = "<dict>") -> CaptionTree:
    """A validated tree (see :mod:`videonav.memory.tree_schema`) or a one-line :class:`FormatError`."""
    from videonav.memory.tree_schema import validate_tree_dict

    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise FormatError(f"{source}: not a videonav tree (missing \"schema\": \"{SCHEMA}\")")
    if d.get("version") != SCHEMA_VERSION:
        raise FormatError(f"{source}: tree schema version {d.get('version')!r}, this videonav reads {SCHEMA_VERSION}")
    try:
        return validate_tree_dict(d)
    except (TreeError, ValueError) as e:
        raise FormatError(f"{source}: malformed videonav tree ({e}); fix the file (`videonav tree export` "
                          "writes the format)") from None


def save_tree(tree: CaptionTree, path: Path | str) -> None:
    Path(path).write_text(json.dumps(tree_to_dict(tree), indent=1), encoding="utf-8")


def load_tree(path: Path | str) -> CaptionTree:
    return tree_from_dict(_load_json(path), str(path))


# -- {second: caption} (NExT-QA 1-fps captions) ----------------------------------------
def timed_from_seconds_dict(d: Any, source: str = "<dict>") -> list[TimedText]:
    """``{"0": "...", "1": "..."}`` -> lines, each lasting until the next one (or +1 s)."""
    if not isinstance(d, dict) or not d:
        raise FormatError(f"{source}: holds {_kind(d) if d or not isinstance(d, dict) else 'an empty object'}, "
                          "not a caption file; pass a videonav tree, a LongVideo-R1 file or a non-empty "
                          "{second: caption} object")
    try:
        items = sorted((float(k), v) for k, v in d.items())
    except ValueError:
        raise FormatError(f"{source}: keys must be seconds, got e.g. {next(iter(d))!r}; fix the file") from None
    for t, v in items:
        if not math.isfinite(t) or t < 0:
            raise FormatError(f"{source}: key {t!r} is not a time; keys must be finite seconds >= 0; fix the file")
        if not isinstance(v, str):
            raise FormatError(f"{source}: the caption at {t:g} s is {_kind(v)}; captions must be strings; fix the file")
    out = []
    for i, (t, text) in enumerate(items):
        end = items[i + 1][0] if i + 1 < len(items) else t + 1.0
        out.append(TimedText(start=t, end=max(end, t + 1e-3), text=text))
    return out


def load_seconds_captions(path: Path | str) -> list[TimedText]:
    return timed_from_seconds_dict(_load_json(path), str(path))


class CaptionSource:
    """Timed captions by video id from a directory of ``<id>_cap.json``/``<id>.json`` or a zip."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FormatError(f"{self.path}: caption path not found")
        self._zip: dict[str, str] | None = None
        if self.path.is_file():
            try:
                with zipfile.ZipFile(self.path) as zf:
                    self._zip = {Path(n).name[: -len("_cap.json")]: n for n in zf.namelist() if n.endswith("_cap.json")}
            except zipfile.BadZipFile:
                raise FormatError(f"{self.path}: not a zip of <video>_cap.json files") from None

    def ids(self) -> list[str]:
        if self._zip is not None:
            return sorted(self._zip)
        return sorted(p.name.split("_cap.json")[0].removesuffix(".json") for p in self.path.glob("*.json"))

    def __contains__(self, vid: object) -> bool:
        return str(vid) in self.ids() if self._zip is None else str(vid) in self._zip

    def get(self, vid: str) -> list[TimedText]:
        if self._zip is not None:
            if vid not in self._zip:
                raise FormatError(f"{self.path}: no captions for video {vid!r}")
            with zipfile.ZipFile(self.path) as zf:
                raw = zf.read(self._zip[vid])
            where = f"{self.path}!{self._zip[vid]}"
            return timed_from_seconds_dict(parse_json(raw, where), where)
        for cand in (self.path / f"{vid}_cap.json", self.path / f"{vid}.json"):
            if cand.exists():
                return load_seconds_captions(cand)
        raise FormatError(f"{self.path}: no captions for video {vid!r}")


# -- LongVideo-R1 caption JSON ------------------------------------------------------
def _span_of(item: Any, source: str) -> tuple[float, float]:
    if not isinstance(item, dict):
        raise FormatError(f"{source}: a segment is {_kind(item)}; each must be an object with frame_time")
    ft = item.get("frame_time", item.get("time"))
    if isinstance(ft, (int, float)) and not isinstance(ft, bool):
        span = (float(ft), float(ft))
    elif isinstance(ft, (list, tuple)) and len(ft) >= 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in (ft[0], ft[-1])):
        span = (float(ft[0]), float(ft[-1]))
    else:
        raise FormatError(f"{source}: segment {item.get('segment_id')!r} has no usable frame_time "
                          f"({ft!r}); fix the file")
    if not all(math.isfinite(x) and x >= 0 for x in span) or span[1] < span[0]:
        raise FormatError(f"{source}: segment {item.get('segment_id')!r} frame_time {ft!r} is not an ordered "
                          "span of finite seconds >= 0; fix the file")
    if not isinstance(item.get("caption", ""), str):
        raise FormatError(f"{source}: segment {item.get('segment_id')!r} caption is {_kind(item['caption'])}; "
                          "captions must be strings; fix the file")
    return span


LVR1_LEVELS = ("high", "medium", "low")
_CAPTION_TAG = re.compile(r"<caption>(.*?)</caption>", re.DOTALL)


def strip_caption_tag(text: str) -> str:
    """The caption inside LongVideo-R1's ``<caption>...</caption>`` wrapper (the text itself without one).

    Why: their captioner keeps the model's reply and wraps it when the tags are missing, so every
    caption carries markup that would otherwise be read, embedded and shown as words.

    >>> strip_caption_tag("<caption> a dog runs </caption>")
    'a dog runs'
    >>> strip_caption_tag("plain text ")
    'plain text'
    """
    m = _CAPTION_TAG.search(text)
    return (m.group(1) if m else text).strip()


def wrap_caption(text: str) -> str:
    """Their wrapper, spaced as their captioner writes it."""
    return f"<caption> {text} </caption>"


def tree_from_longvideor1(d: Any, source: str = "<dict>") -> CaptionTree:
    """``{"video_name": "x.mp4", "width", "captions": [high[], medium[], low[]]}`` (their layout).

    Each level is a list of ``{"segment_id": 1.., "level": "high", "caption": "<caption> ..
    </caption>", "frame_time": [sampled frame seconds], "frame_ids": [...]}``; a segment spans its
    first to last frame time, and its parent is the segment one level up whose span contains its
    midpoint. The wrappers are stripped; everything else about each segment (ids, frame lists,
    the exact caption string, empty levels, extra keys) is kept in ``tree.meta["longvideor1"]``
    so :func:`tree_to_longvideor1` writes the file back as it was. The video id is the file's
    ``video_name`` (``demo.mp4``), the name their tools and ``tree show`` look it up by.
    """
    if not isinstance(d, dict) or "captions" not in d or not isinstance(d["captions"], list):
        raise FormatError(f"{source}: not a LongVideo-R1 caption file (needs \"captions\": [levels])")
    levels = [lvl for lvl in d["captions"] if lvl]
    if not levels:
        raise FormatError(f"{source}: LongVideo-R1 file has no captions")
    if any(not isinstance(lvl, list) for lvl in levels):
        raise FormatError(f"{source}: \"captions\" must be a list of levels, each a list of segments")
    spans = [[(*_span_of(it, source), str(it.get("caption", "")), it) for it in lvl] for lvl in levels]
    duration = max(e for lvl in spans for _, e, _, _ in lvl)
    if duration <= 0:
        raise FormatError(f"{source}: every frame_time is 0; a LongVideo-R1 file needs spans in seconds")
    saved: dict[str, Any] = {"video_name": d.get("video_name"), "width": d.get("width"),
                             "empty_levels": [i for i, lvl in enumerate(d["captions"]) if not lvl],
                             "extra": {k: v for k, v in d.items() if k not in ("video_name", "width", "captions")},
                             "segments": {}}
    tree = CaptionTree(str(d.get("video_name") or Path(source).stem), duration,
                       {"format": "longvideor1", "width": d.get("width"), "longvideor1": saved})
    prov = Provenance(backend="import", model="longvideor1")
    tree.add(Node(id=ROOT, start=0.0, end=duration, level=0, caption=None, provenance=prov))
    prev_ids = [ROOT]
    prev_spans = [(0.0, duration)]
    for depth, lvl in enumerate(spans, start=1):
        counts: dict[str, int] = {}
        ids, sp = [], []
        for s, e, raw, item in sorted(lvl, key=lambda x: (x[0], x[1])):
            mid = (s + e) / 2
            pi = next((i for i, (ps, pe) in enumerate(prev_spans) if ps - 1e-6 <= mid <= pe + 1e-6), len(prev_ids) - 1)
            pid = prev_ids[pi]
            counts[pid] = counts.get(pid, 0) + 1
            nid = child_id(pid, counts[pid])
            cap = strip_caption_tag(raw)
            lines = (TimedText(start=s, end=max(e, s + 1e-3), text=cap),) if depth == len(spans) else ()
            tree.add(Node(id=nid, start=s, end=e, level=depth, caption=cap, lines=lines, provenance=prov))
            seg = {k: v for k, v in item.items() if k != "caption"}
            if raw != wrap_caption(cap):
                seg["raw_caption"] = raw  # written back verbatim while the caption is unchanged
            saved["segments"][nid] = seg
            ids.append(nid)
            sp.append((s, e))
        prev_ids, prev_spans = ids, sp
    root_caps = [n.caption for n in tree.children(ROOT) if n.caption]
    tree.set_caption(ROOT, " ".join(root_caps[:3]))
    return tree


def _level_names(depth: int) -> list[str]:
    """high / medium ... / low for a tree of ``depth`` levels below the root."""
    if depth <= 1:
        return ["low"] * depth
    return ["high", *["medium"] * (depth - 2), "low"]


def tree_to_longvideor1(tree: CaptionTree) -> dict[str, Any]:
    """Their layout (see :func:`tree_from_longvideor1`); an imported file comes back as it was.

    A tree built here has no frame lists: ``frame_time`` is ``[start, end]`` (their tools read only
    the first and last entries), ``segment_id`` counts from 1 within each level, and ``width``
    is the tree's fan-out (their ``get_caption`` indexing assumes every node has that many).
    """
    saved = tree.meta.get("longvideor1") if isinstance(tree.meta.get("longvideor1"), dict) else {}
    segs: dict[str, Any] = saved.get("segments") or {}
    names = _level_names(tree.depth)
    levels: list[list[dict[str, Any]]] = []
    for lv in range(1, tree.depth + 1):
        out = []
        for i, n in enumerate(tree.level(lv), start=1):
            cap = n.caption or ""
            orig = segs.get(n.id)
            if isinstance(orig, dict):
                seg = {k: v for k, v in orig.items() if k != "raw_caption"}
                raw = orig.get("raw_caption")
                seg["caption"] = raw if isinstance(raw, str) and strip_caption_tag(raw) == cap else wrap_caption(cap)
            else:
                seg = {"segment_id": i, "level": names[lv - 1], "caption": wrap_caption(cap),
                       "frame_time": [round(n.start, 1), round(n.end, 1)]}
            out.append(seg)
        levels.append(out)
    for i in saved.get("empty_levels") or []:
        levels.insert(int(i), [])
    width = saved.get("width") or tree.meta.get("width") or (len(levels[0]) if levels else 0)
    return {"video_name": saved.get("video_name") or tree.video_id, "width": width, "captions": levels,
            **(saved.get("extra") or {})}


# -- EgoSchema -----------------------------------------------------------------------
def egoschema_questions(path: Path | str) -> list[dict[str, Any]]:
    """``{q_uid: {"question", "option 0".."option 4", "truth"}}`` -> uniform question rows."""
    d = _load_json(path)
    if not isinstance(d, dict):
        raise FormatError(f"{path}: expected an object of q_uid -> question")
    rows = []
    for quid, q in d.items():
        try:
            opts = [str(q[f"option {i}"]) for i in range(5) if f"option {i}" in q]
            rows.append({"qid": str(quid), "video": str(quid), "question": str(q["question"]), "options": opts,
                         "truth": int(q["truth"]) if q.get("truth") is not None else None, "type": ""})
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{path}: question {quid!r} malformed ({e})") from None
    return rows


def egoschema_captions(path: Path | str) -> dict[str, list[TimedText]]:
    """``{q_uid: [caption per second, ...]}`` -> timed lines per q_uid."""
    d = _load_json(path)
    if not isinstance(d, dict):
        raise FormatError(f"{path}: expected an object of q_uid -> [captions]")
    out = {}
    for quid, caps in d.items():
        if not isinstance(caps, list):
            raise FormatError(f"{path}: captions of {quid!r} must be a list")
        out[str(quid)] = [TimedText(start=float(i), end=float(i + 1), text=str(c)) for i, c in enumerate(caps)]
    return out


def load_any_tree(path: Path | str) -> CaptionTree | list[TimedText]:
    """Sniff a file: a videonav tree, a LongVideo-R1 tree, or {second: caption} lines."""
    d = _load_json(path)
    if isinstance(d, dict) and d.get("schema") == SCHEMA:
        return tree_from_dict(d, str(path))
    if isinstance(d, dict) and "nodes" in d and "captions" not in d:
        raise FormatError(f"{path}: looks like a videonav tree but has no \"schema\": \"{SCHEMA}\"; add it "
                          "(`videonav tree export` writes the format)")
    if isinstance(d, dict) and "captions" in d and isinstance(d["captions"], list):
        return tree_from_longvideor1(d, str(path))
    return timed_from_seconds_dict(d, str(path))
