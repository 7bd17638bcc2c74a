"""Deterministic synthetic lecture video with known answers: the offline end-to-end test bed.

``python demos/make_sample_video.py --minutes 60 --out DIR`` writes into DIR:
- ``sample_<N>min.mp4``  640x360 H.264 (10 fps, 5 s GOP): chapters of text cards in colour themes,
  each with a title, a body line (number / city) and a small moving shape;
- ``sample_<N>min.srt``  narration (some facts are only *said*, never shown);
- ``sample_<N>min.events.json``  ground truth: chapters [{start, end, title}] and every scene;
- ``sample_<N>min.questions.json``  multiple-choice, needle-in-a-haystack questions
  ``[{"qid", "question", "options", "answer", "evidence": [[start, end]], "type"}]``;
- ``sample_<N>min.freetext.json``  the same facts asked without options:
  ``[{"qid", "question", "answer_text", "evidence", "type"}]`` (``videonav eval --format videonav``
  counts one right when the normalised ``answer_text`` occurs in the normalised answer).

Why so plain: cards are rendered once with big clean fonts (tesseract must read them) and each
frame only moves a sprite, so an hour encodes in a few minutes on 2 cores; everything derives
from ``--seed``, so the same arguments give byte-identical questions and scene timings.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

W, H = 640, 360
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
TOPICS = ["Ocean Life", "Volcanoes", "Space Travel", "Ancient Rome", "Rainforests", "Robotics", "Deserts",
          "Music History", "Mountains", "Glaciers", "Coral Reefs", "Weather", "Insects", "Bridges",
          "Chemistry",
          "Railways", "Birds", "Printing", "Castles", "Comets"]
CITIES = ["OSLO", "LIMA", "CAIRO", "TOKYO", "DUBLIN", "QUITO", "HANOI", "PERTH", "DAKAR", "MILAN", "RIGA",
          "BERN", "SEOUL", "DELHI", "ACCRA", "TUNIS", "KYIV", "MINSK", "SOFIA", "PRAGUE", "VIENNA", "MADRID"]
WORDS = ["FALCON", "ORCHID", "MARBLE", "LANTERN", "COPPER", "WALRUS", "PEPPER", "VIOLIN", "HARBOR", "GLACIER",
         "SADDLE", "TULIP", "CANYON", "BEACON", "PARROT", "ANCHOR", "MEADOW", "PILLOW", "ROCKET", "CACTUS"]
SHAPES = ["circle", "square", "triangle"]
# muted themes for ordinary cards; bright ones appear exactly once each (the "red slide" needles)
MUTED = [(20, 30, 90), (20, 70, 40), (90, 20, 30), (60, 70, 80), (90, 60, 30), (10, 80, 90), (50, 30, 100)]
BRIGHT = {"red": (220, 30, 30), "green": (40, 190, 60), "yellow": (240, 220, 40), "orange": (250, 140, 20),
          "purple": (150, 40, 200), "pink": (250, 130, 190), "cyan": (40, 220, 230), "white": (245, 245, 245)}


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_BOLD, size)


def render_card(bg: tuple[int, int, int], lines: list[tuple[str, int]]) -> np.ndarray:
    """A card: centred lines of (text, font size) in black or white, whichever contrasts."""
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    ink = (0, 0, 0) if sum(bg) > 400 else (255, 255, 255)
    y = 40
    for text, size in lines:
        f = _font(size)
        box = d.textbbox((0, 0), text, font=f)
        d.text(((W - (box[2] - box[0])) // 2, y), text, fill=ink, font=f)
        y += int(size * 1.5)
    return np.asarray(img, dtype=np.uint8).copy()


def sprite(shape: str, size: int = 36) -> np.ndarray:
    m = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(m)
    if shape == "circle":
        d.ellipse((0, 0, size - 1, size - 1), fill=255)
    elif shape == "square":
        d.rectangle((0, 0, size - 1, size - 1), fill=255)
    else:
        d.polygon([(size // 2, 0), (0, size - 1), (size - 1, size - 1)], fill=255)
    return np.asarray(m) > 127


def plan(minutes: float, seed: int) -> dict:
    """Chapters and scenes with their facts; pure function of (minutes, seed)."""
    rng = random.Random(seed)
    total = minutes * 60.0
    n_ch = max(3, round(minutes / 5))
    topics = rng.sample(TOPICS, min(n_ch, len(TOPICS)))
    n_ch = len(topics)
    ch_len = total / n_ch
    colours = list(BRIGHT)
    rng.shuffle(colours)
    cities, words = CITIES[:], WORDS[:]
    rng.shuffle(cities)
    rng.shuffle(words)
    numbers = rng.sample(range(1000, 9999), 400)
    chapters, scenes = [], []
    t = 0.0
    for ci, topic in enumerate(topics):
        ch_end = total if ci == n_ch - 1 else round((ci + 1) * ch_len)
        chapters.append({"start": t, "end": float(ch_end), "title": topic, "index": ci + 1})
        scenes.append({"start": t, "end": t + 12.0, "kind": "title", "chapter": topic,
                       "title": f"CHAPTER {ci + 1}", "text": topic.upper(), "bg": MUTED[ci % len(MUTED)],
                       "colour": "", "shape": rng.choice(SHAPES)})
        t += 12.0
        part = 0
        while t < ch_end - 1e-6:
            dur = min(float(rng.randint(20, 45)), ch_end - t)
            if ch_end - (t + dur) < 15:
                dur = ch_end - t
            part += 1
            sc = {"start": t, "end": t + dur, "kind": "scene", "chapter": topic,
                  "title": f"{topic.upper()} {part}",
                  "shape": rng.choice(SHAPES), "number": numbers.pop(), "colour": ""}
            if colours and rng.random() < 0.25:
                sc["colour"] = colours.pop()
                sc["bg"] = BRIGHT[sc["colour"]]
            else:
                sc["bg"] = MUTED[rng.randrange(len(MUTED))]
            if cities and rng.random() < 0.35:
                sc["city"] = cities.pop()
            sc["text"] = f"CITY {sc['city']}" if "city" in sc else f"NUMBER {sc['number']}"
            if "city" not in sc or sc["colour"]:
                sc["text"] = f"NUMBER {sc['number']}"
                sc.pop("city", None)
            scenes.append(sc)
            t += dur
    for ci, ch in enumerate(chapters):  # one spoken-only secret word per chapter
        cand = [s for s in scenes if s["chapter"] == ch["title"] and s["kind"] == "scene"]
        if cand and words:
            rng.choice(cand)["word"] = words.pop()
        del ci
    return {"duration": total, "chapters": chapters, "scenes": scenes}


def subtitles(p: dict) -> list[tuple[float, float, str]]:
    cues = []
    for s in p["scenes"]:
        a = s["start"]
        if s["kind"] == "title":
            cues.append((a + 1, a + 6, f"Welcome to the chapter about {s['chapter'].lower()}."))
            continue
        cues.append((a + 1, a + 5, f"Here is part of our look at {s['chapter'].lower()}."))
        if "word" in s:
            cues.append((a + 8, a + 13, f"Remember the secret word: {s['word'].lower()}."))
        if "city" in s:
            cues.append((a + 14, a + 18, f"Our reporter is speaking from {s['city'].title()} today."))
    return cues


def srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def questions(p: dict, seed: int) -> list[dict]:
    rng = random.Random(seed + 1)
    scenes = [s for s in p["scenes"] if s["kind"] == "scene"]
    numbers = [s["number"] for s in scenes]
    out: list[dict] = []

    def add(qtype: str, q: str, answer: str, pool: list[str], span: tuple[float, float], k: int = 4) -> None:
        cands = sorted(set(pool) - {answer})
        if len(cands) < k:  # short videos: pad with plausible values that never appear
            extra = [str(n) for n in rng.sample(range(1000, 9999), 2 * k)]
            cands += [x for x in extra if x not in pool and x != answer]
        distract = rng.sample(cands, k)
        opts = distract + [answer]
        rng.shuffle(opts)
        out.append({"qid": f"q{len(out) + 1:03d}", "type": qtype, "question": q, "options": opts,
                    "answer": opts.index(answer), "evidence": [[span[0], span[1]]]})

    for s in scenes:
        span = (s["start"], s["end"])
        if s["colour"]:
            add("colour-number", f"What number was shown on the {s['colour']} slide?", str(s["number"]),
                [str(n) for n in numbers], span)
            add("colour-shape", f"What shape moved across the {s['colour']} slide?", s["shape"],
                SHAPES + ["star", "hexagon"], span, 3)
        if "city" in s:
            add("city", f"Which city was named on the slide titled '{s['title']}'?", s["city"], CITIES, span)
        if "word" in s:
            add("spoken-word", f"What secret word did the narrator say during the chapter on {s['chapter']}?",
                s["word"].lower(), [w.lower() for w in WORDS], span)
    chapters = p["chapters"]
    titles = [c["title"] for c in chapters]
    for a, b in zip(chapters, chapters[1:], strict=False):
        pool = titles + TOPICS if len(titles) < 6 else titles
        add("chapter-order", f"Which chapter comes right after the chapter on {a['title']}?", b["title"],
            pool,
            (b["start"], b["start"] + 12.0))
    shown = [s for s in scenes if s["text"] == f"NUMBER {s['number']}"]  # a city slide shows no number
    for s in rng.sample(shown, min(4, len(shown))):
        add("number-chapter", f"In which chapter was the number {s['number']} shown?", s["chapter"],
            titles + TOPICS, (s["start"], s["end"]))
    return out


def freetext_questions(mc: list[dict]) -> list[dict]:
    """The multiple-choice questions' facts asked without options: same question text, the
    true option as ``answer_text``. Derived from the MC list (no random draws), so the MC
    questions and the video stay byte-identical for a seed and the two sets stay aligned."""
    return [{"qid": "f" + q["qid"][1:], "type": q["type"], "question": q["question"],
             "answer_text": q["options"][q["answer"]], "evidence": q["evidence"],
             **({"video": q["video"]} if "video" in q else {})} for q in mc]


def render(p: dict, path: Path, fps: int, gop_seconds: float) -> int:
    import av

    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": "26", "g": str(int(gop_seconds * fps)),
                      "tune": "stillimage"}
    n = 0
    for s in p["scenes"]:
        big = s["kind"] == "scene"
        lines = [(s["title"], 44), (s["text"], 44)] if big else [(s["title"], 40), (s["text"], 52)]
        card = render_card(s["bg"], lines)
        mask = sprite(s["shape"])
        colour = np.array([255, 255, 255] if sum(s["bg"]) < 400 else [20, 20, 20], dtype=np.uint8)
        frames = int(round((s["end"] - s["start"]) * fps))
        for i in range(frames):
            img = card.copy()
            x = int(20 + (W - 80) * (i / max(frames - 1, 1)))
            y = H - 60
            region = img[y : y + mask.shape[0], x : x + mask.shape[1]]
            region[mask] = colour
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for pkt in stream.encode(frame):
                container.mux(pkt)
            n += 1
    for pkt in stream.encode():
        container.mux(pkt)
    container.close()
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=Path("sample"))
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--gop-seconds", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--narrate", action="store_true", help="speak the subtitle script into an audio track "
                                                           "(espeak-ng; silent with a warning without it)")
    ap.add_argument("--no-srt", action="store_true", help="do not write the .srt (speech only with --narrate)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"sample_{args.minutes:g}min"
    t0 = time.perf_counter()
    p = plan(args.minutes, args.seed)
    cues = subtitles(p)
    if not args.no_srt:
        (args.out / f"{stem}.srt").write_text(
            "".join(f"{i}\n{srt_time(a)} --> {srt_time(b)}\n{t}\n\n" for i, (a, b, t) in enumerate(cues, 1)),
            encoding="utf-8")
    events = {"video": f"{stem}.mp4", "duration": p["duration"], "fps": args.fps, "chapters": p["chapters"],
              "events": [{k: v for k, v in s.items() if k != "bg"} for s in p["scenes"]]}
    (args.out / f"{stem}.events.json").write_text(json.dumps(events, indent=1), encoding="utf-8")
    qs = questions(p, args.seed)
    for q in qs:
        q["video"] = f"{stem}.mp4"
    (args.out / f"{stem}.questions.json").write_text(json.dumps(qs, indent=1), encoding="utf-8")
    free = freetext_questions(qs)
    (args.out / f"{stem}.freetext.json").write_text(json.dumps(free, indent=1), encoding="utf-8")
    n = render(p, args.out / f"{stem}.mp4", args.fps, args.gop_seconds)
    if args.narrate:  # an AAC track beside the untouched video stream (videonav.tools.speech.narrate)
        from videonav.tools.speech.narrate import narrate_video

        narrate_video(args.out / f"{stem}.mp4", cues, p["duration"])
    print(f"wrote {args.out / stem}.mp4 ({n} frames, {p['duration']:.0f} s, {len(p['scenes'])} scenes, "
          f"{len(p['chapters'])} chapters), {'no .srt' if args.no_srt else f'.srt ({len(cues)} cues)'}"
          f"{f', speech ({len(cues)} lines)' if args.narrate else ''}, .events.json, .questions.json "
          f"({len(qs)} questions), .freetext.json ({len(free)}) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
