"""An RL step's own prompts: before the step trains, the model it starts from is sampled on the
run's online prompts (``n`` responses each, at the RL temperature), its responses are judged by
the domain verifiers, and only the prompts whose pass rate lies strictly inside the band
(``rl[].prompts.pass_rate``, default ``(0, 1)``) are kept: a prompt the student always or never
solves gives online RL nothing to learn from (every response scores alike). The same responses
give on-policy preference pairs (``rl[].pairs: student``): the student's own correct answer
against its own wrong one on the same prompt.

The step is recorded like every other (``train:rl:<i>:prompts`` in the run state, its counts in
the summary's funnel) and resumable: each sampler call's responses are written with their
rewards as they arrive, keyed by ``(prompt_id, index)`` with a seed of their own, and an
interrupted step draws only the missing ones. Its outputs, under ``rl-prompts/<tag>/``:
``samples/`` (a sharded table: ``prompt_id``, ``index``, ``response``, ``reward``,
``finish_reason``), ``online.jsonl`` (the kept prompts, in the order of the run's) and
``preference.jsonl`` (the student's pairs, or the teacher's pairs of the kept prompts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from redstar.errors import RecipeError
from redstar.execution import GenerateJob, SamplerSpec, VerifyJob
from redstar.interfaces import SamplingParams, options_of
from redstar.pipeline.context import RunContext
from redstar.pipeline.rundir import file_digest, fingerprint
from redstar.pipeline.sampling import sample_seed
from redstar.pipeline.stage import Outcome, run_step
from redstar.recipe import RLStep
from redstar.records import Prompt
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.tables import ShardedTable, iter_jsonl, streamed_table, write_table

#: Prompts per sampler call.
CHUNK = 16


def student_data(ctx: RunContext, stage: str, key: str, step: RLStep, trainer: Any, start_path: str,
                 start_fp: str, tag: str) -> Path:
    """Sample, judge and filter (once per fingerprint) and return the file the step trains on:
    the kept online prompts for an online trainer, the pairs for a preference trainer."""
    run, recipe = ctx.run, ctx.recipe
    cfg = step.prompts
    assert cfg is not None
    params = _params(ctx, step, trainer)
    name = f"{stage}:prompts"
    out = run.root / "rl-prompts" / tag
    online = run.root / "online.jsonl"
    teacher_pairs = run.root / "preference.jsonl"
    uses_teacher = trainer.kind == "preference" and step.pairs == "teacher"
    fp = fingerprint(name, start_fp, cfg.pass_rate, params.__dict__, step.pairs, file_digest(online),
                     file_digest(teacher_pairs) if uses_teacher and teacher_pairs.exists() else None,
                     recipe.evaluation.backend, recipe.evaluation.options, recipe.seed, ctx.plugin_versions())
    wanted = out / ("online.jsonl" if trainer.kind == "online" else "preference.jsonl")

    def work() -> Outcome:
        rows = [row for _, row in iter_jsonl(online)]
        _sample(ctx, name, tag, rows, params, start_path, out / "samples")
        counts = _filter(ctx, rows, cfg.pass_rate, out, teacher_pairs if uses_teacher else None, key)
        return Outcome(None, counts)

    run_step(ctx, name, fp, [out], work=work, load=lambda: None, is_complete=wanted.exists)
    return wanted


def _params(ctx: RunContext, step: RLStep, trainer: Any) -> SamplingParams:
    """The sampling of the prompts step: its own settings, else the RL trainer's (its
    temperature is the RL temperature), else the defaults."""
    cfg = step.prompts
    assert cfg is not None
    defaults = options_of(type(trainer))

    def pick(value: Any, option: str, fallback: Any) -> Any:
        if value is not None:
            return value
        if option in step.options:
            return step.options[option]
        default = defaults.get(option)
        return fallback if default is None or not isinstance(default, (int, float)) else default

    return SamplingParams(n=cfg.n, temperature=float(pick(cfg.temperature, "temperature", 1.0)),
                          top_p=float(pick(cfg.top_p, "top_p", 1.0)),
                          max_new_tokens=int(pick(cfg.max_new_tokens, "max_new_tokens",
                                                  ctx.recipe.evaluation.max_new_tokens)))


def _prompt(row: Mapping[str, Any]) -> Prompt:
    """The online row as a :class:`Prompt`, for the verifiers (they read its reference and metadata)."""
    content = row["prompt"][-1]["content"]
    question = content if isinstance(content, str) else str(content)
    return Prompt(domain=row["domain"], source="rl-prompts", question=question, reference=row["reference"],
                  id=row["prompt_id"], metadata=dict(row.get("metadata") or {}))


def _sample(ctx: RunContext, name: str, tag: str, rows: list[dict[str, Any]], params: SamplingParams,
            model: str, table_dir: Path) -> None:
    """Draw the missing responses of every row, judge them and append them with their rewards."""
    recipe = ctx.recipe
    with ShardedTable(table_dir) as table:
        have: dict[str, set[int]] = defaultdict(set)
        for row in table.rows(columns=("prompt_id", "index")):
            have[row["prompt_id"]].add(row["index"])
        todo = [(row, [i for i in range(params.n) if i not in have[row["prompt_id"]]]) for row in rows]
        todo = [(row, missing) for row, missing in todo if missing]
        total = len(rows) * params.n
        done = total - sum(len(missing) for _, missing in todo)
        if todo:
            spec = SamplerSpec(recipe.evaluation.backend, model, recipe.evaluation.options, "evaluation")
            with ctx.board.task(f"sampling the prompts of {tag} (its starting model)", total) as update:
                update(done)
                try:
                    for job, completions in ctx.engine.generate(spec, _jobs(name, todo, params, recipe.seed)):
                        table.append(_judged(ctx, job.key, completions))
                        done += sum(len(c) for c in completions)
                        update(done)
                except SamplingInterrupted as stop:
                    cut: GenerateJob | None = getattr(stop, "job", None)
                    if cut is not None:  # keep what arrived: each response has its own seed
                        table.append(_judged(ctx, cut.key, stop.completions))
                    raise
            # The student's replicas are not needed to train.
            ctx.release_engine()
        table.seal()


def _jobs(name: str, todo: list[tuple[dict[str, Any], list[int]]], params: SamplingParams,
          run_seed: int) -> Iterator[GenerateJob]:
    for start in range(0, len(todo), CHUNK):
        by_need: dict[int, list[tuple[dict[str, Any], list[int]]]] = defaultdict(list)
        for row, missing in todo[start:start + CHUNK]:
            by_need[len(missing)].append((row, missing))
        for need, group in sorted(by_need.items()):
            seeds = tuple(tuple(sample_seed(run_seed, f"{name}\0{row['prompt_id']}", i) for i in missing)
                          for row, missing in group)
            yield GenerateJob(key=group, conversations=[row["prompt"] for row, _ in group],
                              params=SamplingParams(**{**params.__dict__, "n": need, "seed": seeds[0][0],
                                                       "seeds": seeds}))


def _judged(ctx: RunContext, key: list[tuple[dict[str, Any], list[int]]], completions: Any) -> list[dict[str, Any]]:
    """The rows of one call's responses, judged on the run's engine."""
    drawn = [(row, index, c) for (row, missing), outs in zip(key, completions)
             for index, c in zip(missing, outs) if c is not None]
    if not drawn:
        return []
    items = [(c.text, _prompt(row)) for row, _, c in drawn]
    [(_, verdicts)] = list(ctx.engine.verify([VerifyJob(0, items)]))
    return [{"prompt_id": row["prompt_id"], "index": index, "response": c.text, "reward": float(v.reward),
             "finish_reason": c.finish_reason} for (row, index, c), v in zip(drawn, verdicts)]


def _filter(ctx: RunContext, rows: list[dict[str, Any]], band: list[int | float], out: Path,
            teacher_pairs: Path | None, key: str) -> dict[str, Any]:
    """Keep the rows whose pass rate is inside the band; build the pairs; count."""
    low, high = band
    per = _tally(ShardedTable(out / "samples"), ctx.recipe.preference.pairs_per_prompt,
                 ctx.recipe.preference.negatives)
    kept, easy, hard, other = [], 0, 0, 0
    by_domain: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        t = per[row["prompt_id"]]
        rate = t["correct"] / max(t["samples"], 1)
        d = by_domain[row["domain"]]
        d["sampled"] += 1
        if low < rate < high:
            kept.append(row)
            d["kept"] += 1
        elif rate >= high:
            easy += 1
        elif rate <= low:
            hard += 1
        else:
            other += 1
    write_table(out / "online.jsonl", kept)
    if teacher_pairs is None:
        pairs_count = _student_pairs(out, kept, per)
    else:  # the teacher's pairs of the kept prompts
        ids = {row["prompt_id"] for row in kept}
        with streamed_table(out / "preference.jsonl") as write:
            pairs_count = 0
            for _, pair in iter_jsonl(teacher_pairs) if teacher_pairs.exists() else ():
                if pair["prompt_id"] in ids:
                    write([pair])
                    pairs_count += 1
    samples = sum(t["samples"] for t in per.values())
    correct = sum(t["correct"] for t in per.values())
    return {
        "prompts": len(rows), "samples": samples, "pass_rate": correct / max(samples, 1),
        "kept": len(kept), "all_right": easy, "all_wrong": hard, "outside_band": other, "pairs": pairs_count,
        "by_domain": {d: dict(v) for d, v in sorted(by_domain.items())},
        "funnel_rows": [{"label": f"{key}: prompts its starting model sometimes solves", "count": len(kept),
                         "unit": "prompts", "by_domain": {d: v.get("kept", 0) for d, v in by_domain.items()}}],
    }


def _tally(table: ShardedTable, pairs_per_prompt: int, negatives: str) -> dict[str, dict[str, Any]]:
    """Per prompt: responses, correct ones, and the indices of the first chosen and rejected
    candidates (a correct, untruncated response; a wrong one, then one without an answer, as the
    recipe's ``preference.negatives`` orders teacher negatives). Memory per prompt, not per
    response."""
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"samples": 0, "correct": 0, "chosen": [], "wrong": [],
                                                          "invalid": []})
    rows = sorted(table.rows(columns=("prompt_id", "index", "reward", "finish_reason")),
                  key=lambda r: (r["prompt_id"], r["index"]))
    for row in rows:
        t = per[row["prompt_id"]]
        t["samples"] += 1
        if row["reward"] == 1:
            t["correct"] += 1
            if row["finish_reason"] != "length" and len(t["chosen"]) < pairs_per_prompt:
                t["chosen"].append(row["index"])
        elif row["reward"] == 0 and len(t["wrong"]) < pairs_per_prompt:
            t["wrong"].append(row["index"])
        elif row["reward"] == -1 and negatives != "wrong_only" and len(t["invalid"]) < pairs_per_prompt:
            t["invalid"].append(row["index"])
    for t in per.values():
        t["rejected"] = (t["wrong"] + t["invalid"])[:pairs_per_prompt] if negatives != "any" else \
            sorted(t["wrong"] + t["invalid"])[:pairs_per_prompt]
    return per


def _student_pairs(out: Path, kept: list[dict[str, Any]], per: Mapping[str, Mapping[str, Any]]) -> int:
    """The student's own pairs on the kept prompts: its k-th correct answer against its k-th
    wrong one, up to ``preference.pairs_per_prompt`` a prompt."""
    need = {(row["prompt_id"], i) for row in kept for i in per[row["prompt_id"]]["chosen"] +
            per[row["prompt_id"]]["rejected"]}
    texts = {(r["prompt_id"], r["index"]): r["response"] for r in ShardedTable(out / "samples").rows(
        columns=("prompt_id", "index", "response")) if (r["prompt_id"], r["index"]) in need}
    count = 0
    with streamed_table(out / "preference.jsonl") as write:
        for row in kept:
            t = per[row["prompt_id"]]
            pairs = [{"prompt_id": row["prompt_id"], "domain": row["domain"], "prompt": row["prompt"],
                      "chosen": [{"role": "assistant", "content": texts[(row["prompt_id"], c)]}],
                      "rejected": [{"role": "assistant", "content": texts[(row["prompt_id"], r)]}]}
                     for c, r in zip(t["chosen"], t["rejected"])]
            write(pairs)
            count += len(pairs)
    return count


def check_step(key: str, step: RLStep, kind: str, where: Any) -> None:
    """``rl[i].prompts`` and ``rl[i].pairs`` fit the trainer: the band is for RL trainers, and the
    student's pairs need the prompts' samples and a preference trainer."""
    if step.prompts is not None and kind not in ("online", "preference"):
        raise RecipeError(where(f"{key}.prompts"), f"{key}.prompts",
                          f"applies to online and preference trainers, not to a {kind!r} one")
    if step.pairs == "student" and kind != "preference":
        raise RecipeError(where(f"{key}.pairs"), f"{key}.pairs", f"applies to preference trainers, not to {kind!r}")
    if step.pairs == "student" and step.prompts is None:
        raise RecipeError(where(f"{key}.pairs"), f"{key}.pairs",
                          "student pairs come from the prompts step's samples: set prompts (e.g. prompts: {n: 8})")
