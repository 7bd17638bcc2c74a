"""Compare two runs' per-question records (e.g. before and after a refactor), ignoring wall-clock.

    python bench/compare_records.py BEFORE.jsonl AFTER.jsonl [BEFORE2.jsonl AFTER2.jsonl ...]

Records are compared in order (the benches are seeded, so the order is the same) on every field
except timings; floats match within 1e-5 (MiniLM batches differ in the 7th digit). A record
whose run stopped on ``budget:seconds`` in one run only is counted apart: the wall-clock budget
binds when the machine is loaded, which says nothing about the code.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if k != "seconds" and not k.endswith("_seconds")}
    if isinstance(o, list):
        return [clean(x) for x in o]
    if isinstance(o, float):
        return round(o, 5)
    return o


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__)
        return 2
    for a, b in zip(argv[::2], argv[1::2], strict=True):
        before = [json.loads(x) for x in open(a) if x.strip()]
        after = [json.loads(x) for x in open(b) if x.strip()]
        n = min(len(before), len(after))
        same = clock = other = 0
        for x, y in zip(before[:n], after[:n], strict=True):
            if clean(x) == clean(y):
                same += 1
            elif "budget:seconds" in (x.get("halted_by"), y.get("halted_by")):
                clock += 1
            else:
                other += 1
                print(f"  differs: {x.get('qid')} {x.get('strategy')}")
        print(f"{b}: {n} records compared ({len(before)} before, {len(after)} after): {same} identical, "
              f"{clock} differ only where one run hit the wall-clock budget, {other} differ otherwise")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
