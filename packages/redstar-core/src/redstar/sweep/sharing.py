"""Which steps the variants of a sweep would share, before anything runs (``redstar sweep
--dry-run``).

A run reuses a sibling's step when their fingerprints are equal (:meth:`RunDir.adopt
<redstar.pipeline.rundir.RunDir.adopt>`). The curation stages' fingerprints depend only on the
recipe, so they are computed exactly here. A training step's fingerprint also holds the digest
of its data file, known only once the file is built; it is predicted from the fingerprint of the
build stage that writes the file (equal builds write equal files), and evaluation from the model
it evaluates. The prediction can only err towards sharing less (a build that happens to write the
same file under another fingerprint is shared at run time but not shown here).
"""

from __future__ import annotations

from typing import Any

from redstar.pipeline.context import PluginContext
from redstar.pipeline.rundir import fingerprint
from redstar.pipeline.stage import Result
from redstar.pipeline.stages import pipeline_stages
from redstar.sweep.variants import Variant


def step_keys(variant: Variant, host: Any) -> dict[str, str]:
    """Step name -> its fingerprint (exact for curation, predicted for training and evaluation)."""
    recipe = variant.recipe
    ctx = PluginContext(recipe=recipe, host=host)
    try:
        versions = ctx.plugin_versions()
        keys: dict[str, str] = {}
        results: dict[str, Result] = {}
        for stage in pipeline_stages(host):
            if stage.fans_out:
                continue
            try:
                # Stage.fingerprint reads only the recipe and the plugin versions, which a
                # PluginContext has: no run directory is needed to know a fingerprint.
                fp = stage.fingerprint(ctx, results)  # type: ignore[arg-type]
            except KeyError:  # a plugin's stage keyed on a fanned-out one: known only at run time
                continue
            results[stage.name] = Result(None, fp)
            keys[stage.name] = fp
    finally:
        ctx.close()
    data = keys.get("build", "")
    current = fingerprint("model", recipe.models.student)
    models = [("base", current)]
    steps = ([("train:sft", "sft", recipe.sft)] if recipe.sft else []) + \
        [(f"train:rl:{i}", None, step) for i, step in enumerate(recipe.rl)]
    tags = {"base"}
    for i, (name, tag, step) in enumerate(steps):
        if tag is None:  # as the train stage names them: the trainer, or trainer-<i> when repeated
            index = i - (1 if recipe.sft else 0)
            tag = step.trainer if step.trainer not in tags else f"{step.trainer}-{index}"
        tags.add(tag)
        current = fingerprint(name, current, step, data, recipe.seed)
        keys[name] = current
        models.append((tag, current))
    if recipe.evaluation.teacher:
        models.insert(0, ("teacher", fingerprint("model", recipe.models.teacher)))
    cfg = recipe.evaluation
    settings = cfg.primary_settings()  # as pipeline.evaluating and pipeline.validating key their steps
    apart = {**settings, "apart_from": [e.to_dict() for e in cfg.evaluators]}
    for tag, model in models:
        if tag != "teacher":
            for spec in cfg.validation:
                name = f"validate:{tag}:{spec.name}"
                keys[name] = fingerprint(name, model, apart, spec, versions, recipe.seed)
        for spec in cfg.evaluators:
            name = f"eval:{tag}:{spec.name}"
            keys[name] = fingerprint(name, model, settings, spec, versions, recipe.seed)
    return keys


def shared_steps(variants: list[Variant], host: Any) -> list[tuple[str, list[list[str]]]]:
    """For each step, the groups of variants (by slug, two or more) that would run it once:
    ``[(step, [[slug, slug...], ...]), ...]`` in the order the steps run."""
    keys = {v.slug: step_keys(v, host) for v in variants}
    order = list(dict.fromkeys(step for v in variants for step in keys[v.slug]))
    out = []
    for step in order:
        groups: dict[str, list[str]] = {}
        for v in variants:
            if step in keys[v.slug]:
                groups.setdefault(keys[v.slug][step], []).append(v.slug)
        shared = [slugs for slugs in groups.values() if len(slugs) > 1]
        if shared:
            out.append((step, shared))
    return out
