"""``videonav transcribe VIDEO [-o FILE.srt|FILE.vtt] [--asr ...]``: the audio track as a subtitle file.

Users want the transcript on its own (to read, to fix by hand, to feed other tools); writing it
as SRT/WebVTT also means ``videonav index`` picks the (edited) file up as a sidecar next time.
Transcribed chunks are cached in the store like the index's, so transcribing an indexed video
(or indexing a transcribed one) does not decode the speech twice. The ``--asr`` flags are
declared here once and shared with ``videonav index``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from videonav.agent.cli.common import add_common, load_run_config

ASR_CHOICES = ("auto", "pocketsphinx", "whisper", "faster-whisper", "openai", "none")


def add_asr_options(p: argparse.ArgumentParser) -> None:
    """``--asr``, ``--asr-model``, ``--asr-url``: the speech recognizer (``asr.*`` in the config)."""
    g = p.add_argument_group("speech recognition (when the video has no subtitles)")
    g.add_argument("--asr", choices=ASR_CHOICES, help="backend (default: asr.backend, 'auto' = pocketsphinx when "
                                                      "installed, else none)")
    g.add_argument("--asr-model", metavar="PATH", help="whisper/faster-whisper: local weights dir or cached id; "
                                                       "openai: model name")
    g.add_argument("--asr-url", metavar="URL", help="openai: base URL such as http://127.0.0.1:8000/v1")


def asr_overrides(args: argparse.Namespace) -> list[str]:
    """The ``asr.*`` overrides the flags set (JSON-quoted: a path with a colon survives)."""
    out = []
    if getattr(args, "asr", None):
        out.append(f"asr.backend={args.asr}")
    if getattr(args, "asr_model", None):
        out.append(f"asr.model={json.dumps(args.asr_model)}")
    if getattr(args, "asr_url", None):
        out.append(f"asr.base_url={json.dumps(args.asr_url)}")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", type=Path, help="video or audio file")
    p.add_argument("-o", "--output", type=Path, help="subtitle file to write (.srt or .vtt); default: "
                                                     "VIDEO with .srt beside it (never overwritten without --force)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    add_asr_options(p)
    add_common(p, store_help="SQLite store whose transcript cache is used (default: store.path)")


def main(args: argparse.Namespace) -> int:
    from videonav.memory.store import Store
    from videonav.tools.speech.base import resolve_backend
    from videonav.tools.speech.cache import transcribe_file
    from videonav.tools.speech.subfile import render

    out = args.output or args.video.with_suffix(".srt")
    if out.suffix.lower() not in (".srt", ".vtt"):
        print(f"videonav transcribe: error: -o {out}: the output must end in .srt or .vtt", file=sys.stderr)
        return 2
    if not args.video.is_file():
        from videonav.memory.paths import missing_reason

        why = missing_reason(args.video) or f"{args.video}: is a directory; pass a video or audio file"
        print(f"videonav transcribe: error: {why}", file=sys.stderr)
        return 1
    if out.exists() and not args.force and args.output is None:
        print(f"videonav transcribe: error: {out} exists (it may be a subtitle file you made); pass -o FILE or "
              "--force", file=sys.stderr)
        return 1
    from videonav.tools.speech.audio import AudioUnreadable, NoAudio, open_audio

    try:  # nothing to transcribe: say so, and write no empty subtitle file
        open_audio(args.video)[0].close()
    except (AudioUnreadable, NoAudio) as e:
        print(f"videonav transcribe: error: {str(e).split('; pass --asr none')[0]}", file=sys.stderr)
        return 1
    cfg = load_run_config(args, asr_overrides(args))
    name, note = resolve_backend(cfg.asr.backend)
    if name is None:
        print(f"videonav transcribe: error: {note or 'asr.backend is none'}; choose --asr", file=sys.stderr)
        return 1
    with Store(cfg.store.path) as store:
        cues, note = transcribe_file(args.video, cfg.asr, store=store)
    if note:
        print(f"videonav transcribe: note: {note}", file=sys.stderr)
    out.write_text(render(cues, out.suffix), encoding="utf-8")
    spoken = sum(c.end - c.start for c in cues)
    print(f"{out}: {len(cues)} cues, {spoken:.0f} s of speech ({name})")
    return 0
