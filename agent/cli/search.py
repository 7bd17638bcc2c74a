"""``videonav search "QUERY" --store S``: where was X, across every indexed video or within one.

Ranked hits (video, span, node id, the text that matched, score) from hybrid retrieval
(:mod:`videonav.tools.search`). A query that matches nothing prints nothing (``[]`` with
``--json``) and exits 0: "not found" is an answer, not an error. Texts are embedded once, on
the first search after they were indexed; later searches only embed the query.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from videonav.agent.cli.common import add_common
from videonav.agent.config import load_config
from videonav.agent.prompts import clock
from videonav.memory.store import Store


class SearchError(ValueError):
    user_error = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="words or a sentence to look for")
    p.add_argument("--video", default=None, help="only this video: a tree key, video id or indexed video path")
    p.add_argument("--top", type=int, default=10, help="hits to show (default 10)")
    p.add_argument("--level", choices=["leaf", "part", "any"], default="any",
                   help="leaf: clips only; part: chapters/scenes only; any (default)")
    p.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid",
                   help="retrieval: BM25 + MiniLM fused (default), or one of them")
    p.add_argument("--by", choices=["node", "video"], default="node",
                   help="node (default): ranked spans; video: whole videos ranked, one line (its best span) each")
    p.add_argument("--grow", type=int, default=0, metavar="N",
                   help="widen each hit's span over the time-adjacent hits (same video and level) among the N best; "
                        "0 (default): plain nodes. A moment is often longer than one leaf (NExT-GQA: 2 lifts "
                        "R@1 at IoU 0.3 by 3-5 points for every mode)")
    p.add_argument("--json", action="store_true", help="print a JSON list of {video,start,end,node,text,score}")
    add_common(p, store_help="SQLite store (default ~/.cache/videonav/store.sqlite)",
               config_help="YAML RunConfig (embedder section)")


def _embedder(args: argparse.Namespace, mode: str):  # type: ignore[no-untyped-def]
    if mode == "lexical":
        return None
    from videonav.tools.embed import BackendUnavailable, make_embedder

    cfg = load_config(args.config, args.set)
    try:
        return make_embedder(cfg.embedder)
    except BackendUnavailable as e:
        if mode == "dense":
            raise SearchError(f"{e} (or use --mode lexical)") from None
        print(f"videonav search: {e}; searching words only (--mode lexical)", file=sys.stderr)
        return None


def main(args: argparse.Namespace) -> int:
    from videonav.tools.search import Searcher, resolve_trees

    if args.top < 1:
        raise SearchError(f"--top must be at least 1, got {args.top}")
    if args.grow < 0:
        raise SearchError(f"--grow must be 0 (off) or more, got {args.grow}")
    if args.store and not Path(args.store).exists():
        raise SearchError(f"{args.store}: no such store; index a video first (`videonav index VIDEO --store S`)")
    with Store(args.store) as store:
        trees = None
        if args.video:
            trees = resolve_trees(store._db, args.video)
            if not trees:
                raise SearchError(f"--video {args.video!r}: not a tree key, video id or indexed video in {store.path}; "
                                  "see `videonav tree show`")
        searcher = Searcher.for_store(store, _embedder(args, args.mode))
        if args.by == "video" and trees is None:
            hits = searcher.videos(args.query, top=args.top, mode=args.mode)
        else:  # within one video, "rank videos" is that video: its spans are the answer
            hits = searcher.search(args.query, trees=trees, top=args.top, level=args.level, mode=args.mode,
                                   grow=args.grow)
    if args.json:
        print(json.dumps([h.as_json() for h in hits], ensure_ascii=False))
        return 0
    for i, h in enumerate(hits, 1):
        text = " ".join(h.text.split())
        print(f"{i:>3}. {h.video_id}  {clock(h.start)}-{clock(h.end)}  [{h.node_id}]  {h.score:.4f}  "
              f"({h.field}) {text[:120]}")
        print(f"     tree {h.tree_key}")
    if not hits:
        print("no matches", file=sys.stderr)
    return 0
