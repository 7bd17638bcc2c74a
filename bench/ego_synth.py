"""A synthetic egocentric check set: 3-minute activities narrated "#C C cuts the onion" style.

This is a *test of behaviour*, never fitting data: the hidden long-video set (EgoSchema-like:
180 one-second Ego4D-style narrations per video, five long-sentence options, questions about
the whole activity) is not shared, and NExT-QA has neither the narration style nor whole-activity
questions. Each video narrates one main activity of a scene (its steps in order, each said 1-5
times), a short interruption by a second activity of the same scene, and filler ("#C C looks
around"). The five options are all about that scene and share its objects:

* the truth: the main activity's goal and three of its steps;
* the interruption's goal with its steps (it happened, but is not the overall goal);
* another activity of the same scene (same objects, different goal, never done);
* the true goal with the steps of another activity (right goal words, wrong actions);
* an activity of another scene.

``hard=True`` makes it closer to the hidden set, where plain MiniLM mean similarity is only ~41%:
the options say the steps in other words than the narrations (``SYNONYMS``: "chopping" for
"cuts"), and the interruption lasts 40-60 s instead of 15-30 s.

Written in the EgoSchema layout that ``videonav eval --format egoschema`` reads:

    python bench/ego_synth.py --n 60 --seed 0 --out /tmp/ego_synth   # questions.json + captions.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

# scene -> activity -> (goal, [(narration, gerund phrase), ...])
SCENES: dict[str, dict[str, tuple[str, list[tuple[str, str]]]]] = {
    "kitchen": {
        "cook": ("cook a vegetable stir-fry", [
            ("takes an onion from the fridge", "taking an onion from the fridge"),
            ("cuts the onion with the knife", "cutting the onion with a knife"),
            ("slices the pepper on the cutting board", "slicing a pepper on the cutting board"),
            ("puts the pan on the stove", "putting a pan on the stove"),
            ("pours oil into the pan", "pouring oil into the pan"),
            ("stirs the vegetables in the pan", "stirring the vegetables in the pan"),
            ("serves the food onto a plate", "serving the food onto a plate")]),
        "dishes": ("wash the dishes", [
            ("turns on the tap", "turning on the tap"),
            ("picks up the sponge", "picking up the sponge"),
            ("scrubs the plate with the sponge", "scrubbing a plate with the sponge"),
            ("rinses the pan in the sink", "rinsing the pan in the sink"),
            ("washes the knife", "washing the knife"),
            ("places the plate on the drying rack", "placing the plates on the drying rack")]),
        "bake": ("bake a cake", [
            ("cracks an egg into the bowl", "cracking eggs into a bowl"),
            ("pours flour into the bowl", "pouring flour into the bowl"),
            ("mixes the batter with a whisk", "mixing the batter with a whisk"),
            ("pours the batter into the tray", "pouring the batter into a tray"),
            ("puts the tray in the oven", "putting the tray in the oven")]),
        "tidy": ("clean the kitchen counter", [
            ("wipes the counter with a cloth", "wiping the counter with a cloth"),
            ("throws the peels in the bin", "throwing the peels in the bin"),
            ("puts the knife in the drawer", "putting the knife in the drawer"),
            ("sprays cleaner on the counter", "spraying cleaner on the counter")]),
    },
    "workshop": {
        "bike": ("repair the bicycle", [
            ("turns the bicycle upside down", "turning the bicycle upside down"),
            ("removes the wheel with a wrench", "removing the wheel with a wrench"),
            ("pulls the tube out of the tyre", "pulling the tube out of the tyre"),
            ("patches the tube", "patching the tube"),
            ("pumps air into the tyre", "pumping air into the tyre"),
            ("tightens the bolt with the wrench", "tightening the bolts with the wrench")]),
        "wood": ("build a wooden shelf", [
            ("measures the plank with a tape", "measuring a plank with a tape"),
            ("marks the plank with a pencil", "marking the plank with a pencil"),
            ("cuts the plank with a saw", "cutting the plank with a saw"),
            ("sands the edge of the plank", "sanding the edges of the plank"),
            ("drills a hole in the plank", "drilling holes in the plank"),
            ("screws the bracket to the plank", "screwing brackets to the plank")]),
        "paint": ("paint the wooden chair", [
            ("opens the paint can", "opening a can of paint"),
            ("dips the brush in the paint", "dipping the brush in the paint"),
            ("paints the leg of the chair", "painting the legs of the chair"),
            ("paints the seat of the chair", "painting the seat of the chair")]),
        "sort": ("organise the tool box", [
            ("picks a screwdriver from the table", "picking screwdrivers from the table"),
            ("puts the wrench in the tool box", "putting the wrench in the tool box"),
            ("sorts the screws into a tray", "sorting screws into a tray")]),
    },
    "garden": {
        "plant": ("plant flowers in the garden", [
            ("digs a hole with the shovel", "digging holes with a shovel"),
            ("takes a seedling out of the pot", "taking seedlings out of their pots"),
            ("places the seedling in the hole", "placing the seedlings in the holes"),
            ("presses the soil around the seedling", "pressing the soil around the seedlings"),
            ("waters the seedling with the watering can", "watering the seedlings with a watering can")]),
        "weed": ("remove weeds from the flower bed", [
            ("pulls a weed from the soil", "pulling weeds from the soil"),
            ("throws the weed into the bucket", "throwing the weeds into a bucket"),
            ("loosens the soil with a fork", "loosening the soil with a fork")]),
        "mow": ("mow the lawn", [
            ("starts the lawn mower", "starting the lawn mower"),
            ("pushes the lawn mower across the grass", "pushing the lawn mower across the grass"),
            ("empties the grass bag", "emptying the grass bag")]),
    },
    "home": {
        "laundry": ("do the laundry", [
            ("picks a shirt from the basket", "picking shirts from the basket"),
            ("puts the shirt in the washing machine", "putting the clothes in the washing machine"),
            ("pours detergent into the machine", "pouring detergent into the machine"),
            ("hangs the shirt on the line", "hanging the shirts on the line"),
            ("folds the towel", "folding the towels")]),
        "vacuum": ("clean the living room", [
            ("moves the chair", "moving the chairs"),
            ("vacuums the carpet", "vacuuming the carpet"),
            ("wipes the table with a cloth", "wiping the table with a cloth"),
            ("arranges the cushions on the sofa", "arranging the cushions on the sofa")]),
        "cards": ("play a card game with a friend", [
            ("shuffles the cards", "shuffling the cards"),
            ("deals the cards on the table", "dealing the cards on the table"),
            ("places a card on the table", "placing cards on the table"),
            ("picks a card from the deck", "picking cards from the deck")]),
    },
}
FILLER = ["looks around", "walks around the room", "adjusts the camera", "moves his hand", "stands up",
          "turns around", "holds the object", "looks at the table"]
HANDLE = ["holds the {}", "touches the {}", "puts down the {}", "looks at the {}", "moves the {}"]
OTHER = ["#O a man X talks to C", "#O a woman Y walks past C", "#O a man X looks at C"]
QUESTIONS = [
    "What is the overall goal of C's actions in the video?",
    "Summarize the main activity that C performs throughout the video.",
    "What is C primarily trying to accomplish in this video?",
    "Considering all of C's actions, what best describes the purpose of the video?",
    "Taking into account everything C does, what is the main task C completes, and how?",
]
TEMPLATES = [
    "C's primary objective is to {goal}, which C does by {steps}.",
    "C aims to {goal}, {steps}.",
    "The main goal of C is to {goal} by {steps}.",
    "Throughout the video, C is trying to {goal}; C focuses on {steps}.",
]


#: hard mode: the options' verbs are not the narrations' verbs
SYNONYMS = {"cutting": "chopping", "slicing": "cutting up", "pouring": "adding", "stirring": "mixing",
            "putting": "setting", "serving": "dishing out", "taking": "getting", "turning": "switching",
            "picking": "grabbing", "scrubbing": "cleaning", "rinsing": "washing off", "washing": "cleaning",
            "placing": "setting", "cracking": "breaking", "mixing": "beating", "wiping": "cleaning",
            "throwing": "tossing", "spraying": "misting", "removing": "taking off", "pulling": "getting",
            "patching": "repairing", "pumping": "inflating", "tightening": "securing", "measuring": "sizing",
            "marking": "drawing on", "sanding": "smoothing", "drilling": "boring", "screwing": "fixing",
            "opening": "unsealing", "dipping": "loading", "painting": "coating", "sorting": "arranging",
            "digging": "making", "pressing": "firming", "watering": "sprinkling", "loosening": "breaking up",
            "starting": "switching on", "pushing": "moving", "emptying": "clearing", "hanging": "drying",
            "folding": "tidying", "moving": "shifting", "vacuuming": "cleaning", "arranging": "tidying",
            "shuffling": "mixing", "dealing": "handing out"}


def _paraphrase(phrase: str) -> str:
    first, _, rest = phrase.partition(" ")
    return f"{SYNONYMS.get(first, first)} {rest}".strip()


def _join(steps: list[str]) -> str:
    return ", ".join(steps[:-1]) + " and " + steps[-1] if len(steps) > 1 else steps[0]


def _option(rng: random.Random, goal: str, steps: list[tuple[str, str]], hard: bool = False) -> str:
    picked = sorted(rng.sample(range(len(steps)), min(3, len(steps))))
    said = [_paraphrase(steps[i][1]) if hard else steps[i][1] for i in picked]
    return rng.choice(TEMPLATES).format(goal=goal, steps=_join(said))


def make_video(rng: random.Random, n_caps: int = 180, hard: bool = False) -> tuple[dict, list[str]]:
    """One question record (EgoSchema keys) and its per-second narrations."""
    scene = rng.choice(sorted(SCENES))
    acts = sorted(SCENES[scene])
    main, side, other = rng.sample(acts, 3) if len(acts) >= 3 else (*rng.sample(acts, 2), None)
    goal, steps = SCENES[scene][main]
    # objects of every activity of the scene: handled in passing whatever C is doing
    objects = sorted({s.split()[-1] for a in acts for s, _ in SCENES[scene][a][1]})

    def narrate(act_steps: list[tuple[str, str]], n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            for s, _ in act_steps:
                for _ in range(rng.randint(1, 5)):
                    r = rng.random()
                    out.append(f"#C C {rng.choice(FILLER)}" if r < 0.2 else
                               f"#C C {rng.choice(HANDLE).format(rng.choice(objects))}" if r < 0.4 else
                               rng.choice(OTHER) if r < 0.43 else f"#C C {s}")
        return out[:n]
    n_side = rng.randint(40, 60) if hard else rng.randint(15, 30)
    body = narrate(steps, n_caps - n_side)
    cut = rng.randint(n_caps // 4, n_caps // 2)
    caps = body[:cut] + narrate(SCENES[scene][side][1], n_side) + body[cut:]
    far_scene = rng.choice([s for s in sorted(SCENES) if s != scene])
    far = SCENES[far_scene][rng.choice(sorted(SCENES[far_scene]))]
    wrong_steps = SCENES[scene][other][1] if other else far[1]
    opts = [_option(rng, goal, steps, hard), _option(rng, *SCENES[scene][side], hard),
            _option(rng, *(SCENES[scene][other] if other else far), hard), _option(rng, goal, wrong_steps, hard),
            _option(rng, *far, hard)]
    order = list(range(5))
    rng.shuffle(order)
    rec = {"question": rng.choice(QUESTIONS), **{f"option {i}": opts[j] for i, j in enumerate(order)},
           "truth": order.index(0), "scene": scene, "activity": main}
    return rec, caps[:n_caps]


def make_set(n: int, seed: int, hard: bool = False) -> tuple[dict[str, dict], dict[str, list[str]]]:
    rng = random.Random(seed)
    qs, caps = {}, {}
    for i in range(n):
        rec, c = make_video(rng, hard=hard)
        quid = f"ego{seed}{'h' if hard else ''}_{i:03d}"
        qs[quid], caps[quid] = rec, c
    return qs, caps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hard", action="store_true", help="options paraphrase the steps; a longer interruption")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ego_synth"))
    args = ap.parse_args()
    qs, caps = make_set(args.n, args.seed, args.hard)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "questions.json").write_text(json.dumps(qs, indent=1), encoding="utf-8")
    (args.out / "captions.json").write_text(json.dumps(caps), encoding="utf-8")
    print(f"wrote {len(qs)} questions to {args.out}")


if __name__ == "__main__":
    main()
