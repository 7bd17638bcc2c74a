"""A trained captioner's colour/shape head, used at caption time to make the caption agree with it.

Why: a videonav-trained captioner (``videonav.rl.captioner``) learns a small attribute head on its
visual tokens (LayerNorm + linear colour / shape classifiers on [mean; max] of the connector
output, the tokens the LM reads). On held-out scenes that head is right far more often than the
LM's words are (the LM rarely writes the rare bright colours it saw on ~2% of training slides),
so, as attribute-conditioned captioners do (LSTM-A, tag heads beside the caption), the head's
confident labels are written into the caption: a colour or shape word the head contradicts is
replaced, and a missing one is added. Words copied from on-screen text (titles) are never
touched: only lowercase words that do not appear, spelled the same way, in the clip's OCR lines.

The head travels inside the model directory (``attr_head.pt`` + an ``attr_head`` entry with its
class names and threshold in ``videonav_captioner.json``), so ``videonav index --captioner
transformers --model DIR`` uses it unchanged; a directory without it captions exactly as before.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videonav.tools.captioners.ocr_prompt import META_FILE

HEAD_FILE = "attr_head.pt"
META_KEY = "attr_head"
DEFAULT_THRESHOLD = 0.5
SLIDE_NOUNS = ("slide", "background", "card")
INK = ("white", "black")  # the sprite's own colour, written right before the shape word
_WORD = re.compile(r"[A-Za-z]+")


def make_head(hidden: int, n_colours: int, n_shapes: int, seed: int = 0) -> Any:
    """LayerNorm + two linear classifiers over [mean; max] of each clip's visual tokens."""
    import torch
    from torch import nn

    class AttrHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(2 * hidden)
            self.colour = nn.Linear(2 * hidden, n_colours)
            self.shape = nn.Linear(2 * hidden, n_shapes)

        def forward(self, tokens: Sequence[Any]) -> tuple[Any, Any]:
            # max keeps the few tokens that hold the small sprite; mean carries the background colour
            z = self.norm(torch.stack([torch.cat([t.mean(0), t.max(0).values]) for t in tokens]).float())
            return self.colour(z), self.shape(z)

    torch.manual_seed(seed)
    return AttrHead()


def visual_tokens(model: Any, pixel_values: Any, pixel_mask: Any) -> list[Any]:
    """Per clip: the connector's output tokens (frames x tokens, LM hidden), what the LM reads."""
    feats = model.model.get_image_features(pixel_values=pixel_values, pixel_attention_mask=pixel_mask)
    return list(getattr(feats, "pooler_output", feats))


@dataclass
class Attributes:
    """The head's top colour and shape for one clip, with their probabilities."""

    colour: str
    p_colour: float
    shape: str
    p_shape: float


class AttrPredictor:
    """A loaded head plus its class names and the confidence needed to change a caption."""

    def __init__(self, head: Any, colours: Sequence[str], shapes: Sequence[str], threshold: float,
                 digest: str = "") -> None:
        self.head, self.colours, self.shapes, self.threshold = head.eval(), list(colours), list(shapes), threshold
        self.digest = digest  # of the head's file: part of the captioner's prompt version

    def predict(self, model: Any, pixel_values: Any, pixel_mask: Any) -> list[Attributes]:
        import torch

        with torch.inference_mode():
            colour, shape = self.head(visual_tokens(model, pixel_values, pixel_mask))
            pc, ps = colour.softmax(-1), shape.softmax(-1)
        out = []
        for c, s in zip(pc, ps, strict=True):
            ic, is_ = int(c.argmax()), int(s.argmax())
            out.append(Attributes(self.colours[ic], float(c[ic]), self.shapes[is_], float(s[is_])))
        return out

    def apply(self, caption: str, attrs: Attributes, ocr_lines: Sequence[str] = ()) -> str:
        """The caption made to agree with the head's labels that reach the threshold."""
        return agree(caption, attrs.colour if attrs.p_colour >= self.threshold else None,
                     attrs.shape if attrs.p_shape >= self.threshold else None,
                     self.colours, self.shapes, ocr_lines)


def head_meta(model_dir: str | Path) -> dict[str, Any] | None:
    """The ``attr_head`` entry of a saved captioner's ``videonav_captioner.json`` (None if absent)."""
    meta = Path(model_dir) / META_FILE
    try:
        entry = json.loads(meta.read_text(encoding="utf-8")).get(META_KEY) if meta.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) else None


def load_predictor(model_dir: str | Path, device: str = "cpu") -> AttrPredictor | None:
    """The head saved in ``model_dir``, or None when the directory has none (captions stay as they are)."""
    entry = head_meta(model_dir)
    path = Path(model_dir) / HEAD_FILE
    if entry is None or not path.is_file():
        return None
    import torch

    colours, shapes = list(entry.get("colours", [])), list(entry.get("shapes", []))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if (not colours or not shapes or state["colour.weight"].shape[0] != len(colours)
            or state["shape.weight"].shape[0] != len(shapes)):
        raise ValueError(f"{path}: the head's outputs do not match the {len(colours)} colours / {len(shapes)} "
                         f"shapes named in {META_FILE}; reinstall it with its class names")
    head = make_head(state["norm.weight"].shape[0] // 2, len(colours), len(shapes))
    head.load_state_dict(state)
    digest = hashlib.blake2b(path.read_bytes(), digest_size=4).hexdigest()
    return AttrPredictor(head.to(device), colours, shapes, float(entry.get("threshold", DEFAULT_THRESHOLD)), digest)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def agree(caption: str, colour: str | None, shape: str | None, colours: Sequence[str], shapes: Sequence[str],
          ocr_lines: Sequence[str] = ()) -> str:
    """``caption`` with its slide colour set to ``colour`` and its shape to ``shape`` (None: leave it).

    A colour phrase ("red", "dark blue") right before a shape word is the sprite's ink, not the
    slide's colour, and is left alone. Only lowercase words not found (same spelling) in
    ``ocr_lines`` change, so an on-screen title's colour word stays. A missing attribute is added:
    the colour before the first "slide"/"background"/"card", else as a short sentence.

    >>> C, S = ["dark blue", "red", "orange"], ["circle", "square"]
    >>> agree("A white square moves across a dark blue slide titled RED 1.", "orange", "circle", C, S)
    'A white circle moves across an orange slide titled RED 1.'
    >>> agree("A slide titled CITY OSLO.", "red", None, C, S)
    'A red slide titled CITY OSLO.'
    >>> agree("On a red slide, text.", "orange", None, C, S, ["on a red slide"])
    'On a red slide, text. The slide is orange.'
    """
    words = list(_WORD.finditer(caption))
    ocr = {w for line in ocr_lines for w in _WORD.findall(line)}
    heads = {c.split()[-1]: c for c in colours}
    shape_words = set(shapes)

    def free(i: int) -> bool:
        w = words[i].group()
        return w.islower() and w not in ocr

    def adjacent(i: int) -> bool:  # words i and i + 1 separated by one space only
        return i + 1 < len(words) and caption[words[i].end():words[i + 1].start()] == " "

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    found_colour = False
    for i, m in enumerate(words):
        w = m.group()
        if w not in heads or not free(i):
            continue
        if adjacent(i) and words[i + 1].group() in shape_words:
            continue  # the sprite's ink
        start = words[i - 1].start() if i > 0 and words[i - 1].group() == "dark" and adjacent(i - 1) else m.start()
        found_colour = True
        if colour is not None and caption[start:m.end()] != colour:
            edits.append((start, m.end(), colour))
    found_shape = False
    for i, m in enumerate(words):
        if m.group() in shape_words and free(i):
            found_shape = True
            if shape is not None and m.group() != shape:
                edits.append((m.start(), m.end(), shape))
    tail = ""
    if colour is not None and not found_colour:
        noun = next((i for i, m in enumerate(words) if m.group().lower() in SLIDE_NOUNS and free(i)), None)
        if noun is not None:
            edits.append((words[noun].start(), words[noun].start(), colour + " "))
        else:
            tail += f" The slide is {colour}."
    if shape is not None and not found_shape:
        tail += f" {_article(shape).capitalize()} {shape} moves across it."
    out = caption
    for start, end, new in sorted(edits, reverse=True):
        out = out[:start] + new + out[end:]
        # the article before a changed word: "a orange" -> "an orange", "an red" -> "a red"
        before = re.search(r"\b([Aa]n?) $", out[:start])
        if before:
            art = _article(new)
            art = art.capitalize() if before.group(1)[0] == "A" else art
            out = out[:before.start(1)] + art + out[before.end(1):]
    out = out.rstrip()
    if tail:
        out = (out if out.endswith((".", "!", "?")) or not out else out + ".") + tail
    return out
