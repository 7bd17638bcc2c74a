"""``videonav tree import|export|show``: caption trees from files, into and out of the store."""

from __future__ import annotations

import argparse
import json

from videonav.agent.cli.common import add_common
from videonav.agent.config import load_config
from videonav.memory.formats import load_any_tree, save_tree, tree_to_longvideor1
from videonav.memory.store import Store
from videonav.memory.timefmt import clock
from videonav.memory.tree import CaptionTree


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["import", "export", "show"])
    p.add_argument("source", help="import: a caption file (videonav JSON, LongVideo-R1, {second: caption}); "
                                  "export/show: a tree key in the store, a video path, or a tree file")
    add_common(p, store_help="SQLite store (default ~/.cache/videonav/store.sqlite)")
    p.add_argument("--video-id", default=None, help="import: id for {second: caption} files (default: file stem)")
    p.add_argument("-o", "--output", default=None, help="export: output file")
    p.add_argument("--format", choices=["videonav", "longvideor1"], default="videonav", help="export format")
    p.add_argument("--depth", type=int, default=99, help="show: levels to print")


def resolve_tree(source: str, store: Store, cfg_overrides: list[str] | None = None,
                 config: str | None = None) -> tuple[str | None, CaptionTree]:
    """A tree from a store key, a tree/caption file, or an indexed video path (see ``videonav.agent.sources``)."""
    from videonav.agent.sources import load_tree

    return load_tree(source, store, load_config(config, cfg_overrides))


def show(tree: CaptionTree, depth: int = 99) -> str:
    out = [f"{tree.video_id}  duration {clock(tree.duration)}  nodes {len(tree)}  depth {tree.depth}"]
    for n in tree.nodes():
        if n.level > depth:
            continue
        cap = (n.caption or "(not captioned yet)").replace("\n", " ")
        out.append(f"{'  ' * n.level}[{n.id}] {clock(n.start)}-{clock(n.end)} {cap[:110]}")
    return "\n".join(out)


class NotIndexed(FileNotFoundError):
    """A video file with no tree in the store (``tree show`` never indexes: that is ``videonav index``)."""

    user_error = True


def _stored_tree(source: str, store: Store) -> tuple[str, CaptionTree]:
    """A tree already in the store: by key, by video id, or by a video file's content hash."""
    from pathlib import Path

    from videonav.memory.paths import missing_reason
    from videonav.memory.store import file_hash

    if store.has_tree(source):
        return source, store.load_tree(source)
    p = Path(source)
    if p.is_file():
        keys = store.trees_of_video(file_hash(p))
        if not keys:
            raise NotIndexed(f"{p}: not indexed in {store.path}; run `videonav index {p} --store {store.path}` "
                             "first")
        return keys[-1], store.load_tree(keys[-1])
    keys = store.tree_keys(source)
    if keys:
        return keys[-1], store.load_tree(keys[-1])
    why = missing_reason(p) if (p.suffix or "/" in source) else None
    raise FileNotFoundError(why or f"{source}: not a tree key or video id in {store.path}, a caption file or a video; "
                            "check the name (`videonav tree show` lists nothing it has not stored)")


def _tree_for(args: argparse.Namespace) -> CaptionTree:
    """show/export: a tree file needs no store; anything else is looked up in it, never indexed or created."""
    from pathlib import Path

    p = Path(args.source)
    if p.suffix.lower() == ".json" and p.is_file():
        got = load_any_tree(p)
        if isinstance(got, CaptionTree):
            return got
        with Store(args.store) as store:  # {second: caption} lines: built (and cached) like `tree import`
            return resolve_tree(args.source, store, args.set, args.config)[1]
    with Store(args.store, create=False) as store:
        return _stored_tree(args.source, store)[1]


def main(args: argparse.Namespace) -> int:
    if args.action == "import":
        from pathlib import Path

        from videonav.memory.store import tree_key
        from videonav.tools.embed import make_embedder
        from videonav.tools.text_source import text_tree, text_tree_key

        cfg = load_config(args.config, args.set)
        got = load_any_tree(args.source)  # validated in full before the store is opened
        with Store(args.store) as store:
            if isinstance(got, CaptionTree):
                key = tree_key(got.video_id, kind="import", file=str(args.source))
                store.save_tree(key, got)
                tree = got
            else:
                vid = args.video_id or Path(args.source).stem.removesuffix("_cap")
                emb = make_embedder(cfg.embedder)
                tree = text_tree(vid, got, cfg.tree, emb, store)
                key = text_tree_key(got, cfg.tree, emb)
        print(f"imported {tree.video_id}: {len(tree)} nodes, depth {tree.depth} -> tree key {key}")
        return 0
    tree = _tree_for(args)
    if args.action == "show":
        print(show(tree, args.depth))
        return 0
    if args.format == "longvideor1":
        text = json.dumps(tree_to_longvideor1(tree), indent=1)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            print(text)
    elif args.output:
        save_tree(tree, args.output)
    else:
        from videonav.memory.formats import tree_to_dict

        print(json.dumps(tree_to_dict(tree), indent=1))
    return 0
