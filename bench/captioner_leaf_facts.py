"""Usage: python bench/captioner_leaf_facts.py STORE... (stores of the 15-min held-out videos, seeds 200-204).

Index-time facts: of the leaves lying inside a bright slide, how many captions name its colour / shape.
Each tree's video is read from its own meta["source"]: the five videos share the name sample_15min, so the
videos table keeps only the last path indexed (the session-5 numbers used that path for every tree)."""
import json
import re
import sqlite3
import sys

from videonav.tools.video import sample_video as sv

for st in sys.argv[1:]:
    c = sqlite3.connect(st)
    paths = {t: json.loads(m or "{}").get("source", "") for t, m in c.execute("select tree_key, meta from trees")}
    n = col = shp = both = 0
    for key, start, end, cap in c.execute("select tree_key, start, end, caption from nodes where level = "
                                          "(select max(level) from nodes n2 where n2.tree_key = nodes.tree_key)"):
        seed = int(re.search(r"seed(\d+)", paths[key]).group(1))
        for s in sv.plan(15, seed)["scenes"]:
            if s["colour"] and s["start"] <= start + 0.5 and end <= s["end"] + 0.5:
                words = set(re.findall(r"[a-z]+", (cap or "").lower()))
                n += 1
                col += s["colour"] in words
                shp += s["shape"] in words and not ({"circle", "square", "triangle"} - {s["shape"]}) & words
                both += s["colour"] in words and s["shape"] in words
    print(f"{st}: {n} leaves inside bright slides; colour named {col / n:.0%}, shape named (only) {shp / n:.0%}, "
          f"both {both / n:.0%}")
