"""ASR benchmark: WER, speed and memory of pocketsphinx on espeak-ng narration, and spoken-word MC accuracy.

    python -m videonav.tools.video.sample_video --minutes 20 --seed 200 --out /tmp/asrb/v20 --narrate
    OMP_NUM_THREADS=1 taskset -c 0,1 python bench/asr.py /tmp/asrb/v20/sample_20min.mp4 \
        --out bench/results/asr.txt

The .srt the generator writes is the narration script (the reference); the transcript is made
from the audio track only. Spoken-word questions ("What secret word did the narrator say during
the chapter on X?") are answered in four conditions, each from the speech of the question's
chapter (chapter spans from the generator's events.json: an oracle localisation, so this
measures the speech modality alone, not navigation):
  subtitles  - an option that occurs in the chapter's subtitle text;
  asr-text   - an option that occurs in the chapter's pocketsphinx transcript;
  asr-spot   - phone-level spotting of each option in the chapter's audio (tools/speech/spot.py), in the
               utterance that best matches the question's words "secret word" and the one after it;
  no speech  - nothing to read: the first option (chance is 1 in 5).
Ties and misses count as wrong. Also: spotting accuracy on 20 isolated narrated sentences
(every secret word once, 4 random distractors, seed 1), which has more questions than the
video's 4 and so a tighter estimate. RTF = seconds of audio per second of decoding, both wall
and CPU time (the machine is shared: wall time under load overstates the cost).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np


def words_of(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z']+", text.lower())


def main(argv: list[str] | None = None) -> int:
    import jiwer

    from videonav.tools.config import AsrConfig
    from videonav.tools.speech.audio import load_audio, speech_segments
    from videonav.tools.speech.base import make_recognizer
    from videonav.tools.speech.narrate import synthesize
    from videonav.tools.speech.spot import Spotter, best_option, focus, option_scores
    from videonav.tools.video.sample_video import WORDS
    from videonav.tools.video.subtitles import read_subtitle_file

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    lines: list[str] = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    stem = args.video.with_suffix("")
    ref = read_subtitle_file(stem.with_suffix(".srt"))
    events = json.loads(Path(f"{stem}.events.json").read_text())
    qs = [q for q in json.loads(Path(f"{stem}.questions.json").read_text()) if q["type"] == "spoken-word"]
    audio = load_audio(args.video)
    dur = len(audio) / 16000
    speech_s = sum(b - a for a, b in speech_segments(audio))
    rec = make_recognizer(AsrConfig(backend="pocketsphinx"))
    t0, c0 = time.perf_counter(), time.process_time()
    cues = rec.transcribe(audio, 16000)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    hyp = " ".join(c.text for c in cues)
    wer = jiwer.wer(" ".join(w for c in ref for w in words_of(c.text)), " ".join(words_of(hyp)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"video {args.video.name}: {dur:.0f} s of audio, {speech_s:.0f} s of it speech (VAD), {len(ref)} script cues")
    say(f"pocketsphinx 5 (en-us wheel model, beams 1e-40): WER {wer:.3f} against the narration script")
    say(f"  decode {wall:.1f} s wall, {cpu:.1f} s CPU (1 thread): RTF {dur / wall:.2f}x wall, {dur / cpu:.2f}x CPU "
        f"audio-seconds per second; peak RSS {rss:.0f} MB")
    est = 3600 / (dur / cpu) / 60
    say(f"  1 hour of this narration: ~{est:.1f} min CPU on one core ({'within' if est <= 15 else 'over'} the 15 min "
        f"target; decoding is single-threaded, a 2-core run can split chunks across two decoders: ~{est / 2:.1f} min)")
    say("  examples: " + " | ".join(f"{r.text!r} -> {c.text!r}" for r, c in list(zip(ref, cues, strict=False))[:3]))

    chapters = {c["title"]: (c["start"], c["end"]) for c in events["chapters"]}
    spotter = Spotter()
    res = {"subtitles": 0, "asr-text": 0, "asr-spot": 0, "no speech": 0}
    for q in qs:
        title = q["question"].rsplit("chapter on ", 1)[1].rstrip("?")
        a, b = chapters[title]
        opts = [o.lower() for o in q["options"]]

        def pick(text: str, opts: list[str] = opts) -> int | None:
            hits = [i for i, o in enumerate(opts) if o in words_of(text)]
            return hits[0] if len(hits) == 1 else None

        res["subtitles"] += pick(" ".join(c.text for c in ref if a <= c.start < b)) == q["answer"]
        res["asr-text"] += pick(" ".join(c.text for c in cues if a <= c.start < b)) == q["answer"]
        segs = spotter.phones(audio[int(a * 16000) : int(b * 16000)])
        scores = option_scores(focus(segs, "secret word"), opts)
        res["asr-spot"] += best_option(scores) == q["answer"]
        res["no speech"] += q["answer"] == 0
        say(f"  {q['qid']} {title}: answer {opts[q['answer']]}, spot scores "
            f"{dict(zip(opts, [round(s, 2) for s in scores], strict=True))}")
    n = max(1, len(qs))
    say(f"spoken-word MC accuracy on this video ({len(qs)} questions, chance 20%): "
        + ", ".join(f"{k} {v}/{len(qs)} = {100 * v / n:.0f}%" for k, v in res.items()))

    rng = random.Random(1)
    words = [w.lower() for w in WORDS]
    ok = 0
    t1 = time.process_time()
    for ans in words:
        opts = rng.sample([w for w in words if w != ans], 4) + [ans]
        rng.shuffle(opts)
        x = np.concatenate([np.zeros(8000, np.float32), synthesize(f"Remember the secret word: {ans}."),
                            np.zeros(8000, np.float32)])
        ok += best_option(option_scores(spotter.phones(x), opts)) == opts.index(ans)
    say(f"spotting on 20 isolated narrated sentences: {ok}/20 = {5 * ok}% (chance 20%), "
        f"{time.process_time() - t1:.1f} s CPU")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("$ " + " ".join(["python", "bench/asr.py", *sys.argv[1:]]) + "\n" + "\n".join(lines)
                            + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
