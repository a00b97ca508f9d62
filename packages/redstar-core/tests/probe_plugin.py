"""A stand-in trainer and sampler for the tests of choosing on validation (core's tests only).

``lr-probe`` makes a "model" whose quality depends on its learning rate, and ``oracle`` answers
a problem of the arith domain (:mod:`arith_plugin`) rightly when a hash of it falls under that
quality. The validation problems prefer learning rate 1e-4, the held-out ones 1e-3: a choice that
looked at the held-out scores would pick 1e-3. Everything else (the pipeline, the stages, the
verifier, the evaluation, the tables) is the real code.
"""

import hashlib
import json
import re
from pathlib import Path

from redstar import hookimpl
from redstar.interfaces import Completion, Sampler, Trainer, TrainResult

#: The share of problems a model trained at each learning rate solves, per split.
QUALITY = {"validation": {1e-5: 0.2, 1e-4: 0.9, 1e-3: 0.5},
           "heldout": {1e-5: 0.2, 1e-4: 0.4, 1e-3: 0.95}}
VALIDATION_START = 5000  # validation problems are a + b with a from here (held-out: from 1000)


class LrProbe(Trainer):
    """Writes a model folder holding the quality its learning rate earns (see QUALITY)."""

    name = "lr-probe"
    kind = "sft"

    def __init__(self, learning_rate: float = 1e-5) -> None:
        self.learning_rate = learning_rate

    def train(self, ctx):
        target = ctx.output_dir / "final"
        target.mkdir(parents=True, exist_ok=True)
        quality = {split: by_lr[self.learning_rate] for split, by_lr in QUALITY.items()}
        (target / "quality.json").write_text(json.dumps(quality))
        return TrainResult(model_path=target, metrics={"steps": 1})


class Oracle(Sampler):
    """Answers ``a + b`` rightly when a hash of the question falls under the model's quality
    on the question's split (the base model, without a quality file, never does)."""

    name = "oracle"

    def __init__(self, model: str) -> None:
        super().__init__(model)
        path = Path(model) / "quality.json"
        self.quality = json.loads(path.read_text()) if path.is_file() else {"validation": 0.0, "heldout": 0.0}

    def generate(self, conversations, params):
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            a, b = map(int, re.findall(r"\d+", text)[:2])
            split = "validation" if a >= VALIDATION_START else "heldout"
            u = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8
            answer = a + b if u < self.quality[split] else a + b + 1
            out.append([Completion(f"<think>{a} + {b}</think> \\boxed{{{answer}}}", "stop")] * params.n)
        return out


class Probe:
    @hookimpl
    def redstar_register_trainers(self, register):
        register(LrProbe)

    @hookimpl
    def redstar_register_samplers(self, register):
        register(Oracle)


BASE = f"""
name: lr
models: {{teacher: t, student: s}}
sources: [{{name: arith-gen, options: {{count: 10}}}}]
selection: {{min_level: 1, max_level: 10}}
sampling: {{backend: scripted, n: 2}}
decontamination: {{enabled: false}}
sft: {{trainer: lr-probe}}
evaluation:
  backend: oracle
  evaluators: [{{name: arith-heldout, options: {{count: 60}}}}]
  validation: [{{name: arith-heldout, options: {{count: 60, start: {VALIDATION_START}}}}}]
"""
