"""Generating synthetic problem sets and writing them in the published formats.

Train and held-out sets never share a problem: a problem's identity (kind, variant, givens) is
hashed, and one hash bucket in ten belongs to ``heldout``. Generation is deterministic for a
given seed, split, level and kind selection.

:func:`write_and_load` renders the diagrams, writes the set as G-LLaVA jsonl, Geometry3K folders
or a MathVista testmini.json, and reads it back with the real readers, so that every synthetic
run also exercises the benchmark loaders.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from redstar.records import Prompt
from redstar_geo.choices import letter_choices
from redstar_geo.formats.common import GeoItem, Loaded
from redstar_geo.synthetic.figure import Figure, render
from redstar_geo.synthetic.problems import KINDS, VARIANTS, Draft, Variant

SPLITS = ("train", "heldout")
FORMATS = ("gllava", "geometry3k", "mathvista")
#: Give up when this many draws per requested problem found nothing new: the selection's
#: space of distinct problems is exhausted.
MAX_DRAWS_PER_PROBLEM = 200


@dataclass
class SyntheticProblem:
    id: str
    kind: str
    variant: str
    level: int
    question: str
    choices: dict[str, str]
    answer: str
    value: str
    steps: list[str]
    check: str
    figure: Figure
    graph: list[str]

    def solution(self) -> str:
        """A worked Long-CoT response in the verifier's format: reasoning in ``<think>``, a
        self-check, then ``Answer: X``. Used to train the tiny teacher."""
        lines = [
            "<think>", *self.steps, f"Wait, let me check: {self.check}. Yes, that is right.",
            f"So the answer is {self.value}, which is choice {self.answer}.", "</think>", f"Answer: {self.answer}",
        ]
        return "\n".join(lines)


def digest(*parts: object) -> str:
    """A stable hex digest of plain values (problem identities, option sets)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def split_of(kind: str, variant: str, params: tuple) -> str:
    return "heldout" if int(digest(kind, variant, params)[:8], 16) % 10 == 0 else "train"


def select_variants(levels: Sequence[int] | None = None, kinds: Sequence[str] | None = None) -> list[Variant]:
    """The variants whose level is in ``levels`` and kind in ``kinds`` (None: all)."""
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r}; kinds: {', '.join(KINDS)}")
    chosen = [v for v in VARIANTS if (levels is None or v.level in levels) and (kinds is None or v.kind in kinds)]
    if not chosen:
        raise ValueError(f"no synthetic variant has a level in {list(levels or [])} and a kind in {list(kinds or KINDS)}")
    return chosen


def _options(draft: Draft, rng: random.Random) -> list[int]:
    """The answer plus three distinct plausible wrong values, shuffled."""
    limit = 180 if draft.unit == "°" else None
    wrong: list[int] = []
    for value in draft.wrong:
        if value > 0 and value != draft.answer and value not in wrong and (limit is None or value < limit):
            wrong.append(value)
    step = 10 if draft.unit == "°" else 2
    k = 1
    while len(wrong) < 3:
        for value in (draft.answer + k * step, draft.answer - k * step):
            if value > 0 and value not in wrong and value != draft.answer and (limit is None or value < limit):
                wrong.append(value)
        k += 1
    options = [draft.answer, *rng.sample(wrong, 3)]
    rng.shuffle(options)
    return options


def generate(count: int, seed: int = 0, split: str = "train", levels: Sequence[int] | None = None,
             kinds: Sequence[str] | None = None) -> list[SyntheticProblem]:
    """``count`` distinct problems of ``split``. Raises ValueError when the selection has fewer
    distinct problems than asked for."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    variants = select_variants(levels, kinds)
    rng = random.Random(f"synthetic-geo/{seed}/{split}")
    seen: set[str] = set()
    problems: list[SyntheticProblem] = []
    draws = 0
    while len(problems) < count:
        draws += 1
        if draws > MAX_DRAWS_PER_PROBLEM * (len(problems) + 1) + 1000:
            raise ValueError(f"only {len(problems)} distinct {split} problems found for levels={levels} "
                             f"kinds={kinds}; ask for fewer or widen the selection")
        variant = rng.choice(variants)
        draft = variant.build(rng)
        key = digest(variant.kind, variant.name, draft.params)
        if key in seen or split_of(variant.kind, variant.name, draft.params) != split:
            continue
        seen.add(key)
        options = _options(draft, rng)
        choices = letter_choices([f"{v}{draft.unit}" for v in options])
        answer = "ABCD"[options.index(draft.answer)]
        problems.append(SyntheticProblem(
            id=f"syn-{key[:12]}", kind=variant.kind, variant=variant.name, level=variant.level,
            question=draft.question, choices=choices, answer=answer, value=choices[answer],
            steps=draft.steps, check=draft.check, figure=draft.figure, graph=draft.graph,
        ))
    return problems


def write_and_load(problems: Sequence[SyntheticProblem], out_dir: str | Path, fmt: str = "gllava",
                   image_size: int = 224, source: str = "synthetic-geo") -> list[Prompt]:
    """Render diagrams into ``out_dir/images``, write ``fmt``, read it back with that format's
    reader, and return the prompts with ``difficulty`` = level and the kind as ``group``."""
    from redstar_geo.formats import geometry3k, gllava, mathvista

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    items = []
    for problem in problems:
        image = out_dir / "images" / f"{problem.id}.png"
        render(problem.figure, size=image_size).save(image)
        items.append(GeoItem(problem.id, problem.question, problem.choices, problem.answer, image,
                             extra={"problem_type_graph": problem.graph, "source": source}))
    loaded: Loaded
    if fmt == "gllava":
        gllava.write_gllava(out_dir, items)
        loaded = gllava.read_gllava(out_dir / gllava.QUESTIONS_FILE, out_dir / gllava.ANSWERS_FILE, out_dir,
                                    source=source)
    elif fmt == "geometry3k":
        geometry3k.write_geometry3k(out_dir, items, split="test")
        loaded = geometry3k.read_geometry3k(out_dir, split="test", source=source)
    else:
        path = mathvista.write_mathvista(out_dir / mathvista.TESTMINI_FILE, items)
        loaded = mathvista.read_mathvista(path, source=source)
    by_id = {f"{source}-{p.id}": p for p in problems}
    prompts = []
    for prompt in loaded.prompts:
        problem = by_id[prompt.id]
        if prompt.reference != problem.answer or prompt.metadata["choices"] != problem.choices:
            raise AssertionError(f"{fmt} round trip changed problem {problem.id}")  # a reader/writer bug
        prompt.difficulty = float(problem.level)
        prompt.metadata.update(group=problem.kind, variant=problem.variant, level=problem.level,
                               answer_text=problem.value)
        prompts.append(prompt)
    if len(prompts) != len(problems):
        raise AssertionError(f"{fmt} round trip returned {len(prompts)} of {len(problems)} problems")
    return prompts
