r"""The ``trained`` difficulty scorer: a small sequence-regression model fine-tuned on problems
whose levels are known, then used to score new problems.

Train with :func:`train_difficulty_model` or ``redstar score-model train``; the model learns to
predict the RedStar difficulty (1-10) of a question from its text. ``base`` is a pretrained model
(a local folder or hub id; a regression head is added) or ``"tiny"``: a from-scratch tiny Qwen2
with a tokenizer trained on the training questions (:mod:`redstar.tiny`), which needs no
download and trains in seconds on a CPU - for tests and laptops, not for real scoring.

A deterministic share of the prompts (by id) is held out; :func:`agreement` reports how the
model's levels agree with the held-out ones: exact accuracy (after rounding), accuracy within
one level, Spearman's rank correlation and mean absolute error.

Data with levels: MATH (``math`` source: Level k -> k + 2). Train on MATH's *train* split
(``EleutherAI/hendrycks_math`` or a local copy); training on the MATH test set, which RedStar
evaluates on (MATH-hard, MATH-500), would put benchmark problems in the scorer.
"""

from __future__ import annotations

import json
import math
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.interfaces import Scorer
from redstar.records import Prompt
from redstar.scoring import clamp_level
from redstar.stats import bootstrap_interval, correlation_interval, wilson

#: Written next to the model; marks a folder as a RedStar difficulty model and holds the scale.
MODEL_CARD = "redstar_difficulty.json"
#: Targets are trained as (level - CENTER) / SCALE, so the head starts near the middle.
CENTER, SCALE = 5.5, 4.5


@dataclass
class Agreement:
    """How predicted levels agree with known levels, each figure with its 95% interval
    (:mod:`redstar.stats`: Wilson for the two accuracies, Fisher's z for Spearman's rho, a
    bootstrap over prompts for the mean absolute error)."""

    count: int
    exact: float
    within_one: float
    spearman: float
    mean_absolute_error: float
    exact_ci: list[float] = field(default_factory=lambda: [0.0, 1.0])
    within_one_ci: list[float] = field(default_factory=lambda: [0.0, 1.0])
    spearman_ci: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    mean_absolute_error_ci: list[float] = field(default_factory=lambda: [0.0, float("inf")])


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their average rank
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson on average ranks); NaN when either side is constant."""
    if len(x) != len(y) or len(x) < 2:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else float("nan")


def agreement(predicted: Sequence[float], known: Sequence[float]) -> Agreement:
    if len(predicted) != len(known) or not known:
        raise RedStarError("agreement needs as many predictions as known levels, and at least one")
    n = len(known)
    exact = sum(round(p) == round(k) for p, k in zip(predicted, known))
    within_one = sum(abs(round(p) - round(k)) <= 1 for p, k in zip(predicted, known))
    errors = [abs(p - k) for p, k in zip(predicted, known)]
    rho = spearman(predicted, known)
    return Agreement(
        count=n,
        exact=exact / n,
        within_one=within_one / n,
        spearman=rho,
        mean_absolute_error=sum(errors) / n,
        exact_ci=list(wilson(exact, n)),
        within_one_ci=list(wilson(within_one, n)),
        spearman_ci=list(correlation_interval(rho, n)),
        mean_absolute_error_ci=list(bootstrap_interval(errors)),
    )


def is_heldout(prompt: Prompt, fraction: float) -> bool:
    """Stable split by prompt id: the same prompt is held out in every run."""
    return zlib.crc32(prompt.id.encode()) % 10_000 < fraction * 10_000


def _levels(prompts: Sequence[Prompt]) -> list[float]:
    missing = [p for p in prompts if p.difficulty is None]
    if missing:
        raise RedStarError(f"{len(missing)} prompts have no difficulty to learn from (first: {missing[0].id} from "
                           f"source {missing[0].source!r}); use a source that knows levels, such as 'math'")
    return [float(p.difficulty) for p in prompts if p.difficulty is not None]  # all of them, past the check


def _tiny_model(questions: Sequence[str], seed: int) -> tuple[Any, Any]:
    import torch
    from transformers import Qwen2ForSequenceClassification

    from redstar.tiny import tiny_config, train_tokenizer

    tokenizer = train_tokenizer(questions, vocab_size=512)
    config = tiny_config(tokenizer, hidden_size=64, layers=2, heads=4, kv_heads=2)
    config.num_labels = 1
    config.problem_type = "regression"
    torch.manual_seed(seed)
    return Qwen2ForSequenceClassification(config), tokenizer


def _pretrained_model(base: str) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from redstar.models import resolve_model

    path = resolve_model(base)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"  # the head reads the last non-padding token
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=1, problem_type="regression", dtype="float32"
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


class _Encoded:
    """Tokenized questions with regression targets, in the shape ``Trainer`` expects."""

    def __init__(self, tokenizer: Any, questions: Sequence[str], levels: Sequence[float], max_length: int):
        encoded = tokenizer(list(questions), truncation=True, max_length=max_length)
        self.rows = [
            {"input_ids": ids, "attention_mask": mask, "labels": (level - CENTER) / SCALE}
            for ids, mask, level in zip(encoded["input_ids"], encoded["attention_mask"], levels)
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


def train_difficulty_model(prompts: Sequence[Prompt], output_dir: str | Path, base: str = "tiny",
                           epochs: float = 3.0, max_steps: int = -1, batch_size: int = 16,
                           learning_rate: float = 5e-5, max_length: int = 256, heldout_fraction: float = 0.1,
                           seed: int = 0, use_cpu: bool = True) -> dict[str, Any]:
    """Fine-tune a difficulty model on ``prompts`` (each with a ``difficulty``), save it to
    ``output_dir`` with its tokenizer and model card, and return the card: sizes, training loss
    and the agreement on the held-out prompts. fp32 throughout (bf16 is far slower on CPUs)."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if not 0 <= heldout_fraction < 1:
        raise RedStarError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
    levels = _levels(prompts)
    train = [(p, lv) for p, lv in zip(prompts, levels) if not is_heldout(p, heldout_fraction)]
    heldout = [(p, lv) for p, lv in zip(prompts, levels) if is_heldout(p, heldout_fraction)]
    if not train:
        raise RedStarError("no prompts left to train on after holding out; add prompts or lower heldout_fraction")
    questions = [p.question for p, _ in train]
    model, tokenizer = _tiny_model(questions, seed) if base == "tiny" else _pretrained_model(base)
    dataset = _Encoded(tokenizer, questions, [lv for _, lv in train], max_length)
    output_dir = Path(output_dir)
    with tempfile.TemporaryDirectory(prefix="redstar-difficulty-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, max_steps=max_steps,
            per_device_train_batch_size=batch_size, learning_rate=learning_rate, seed=seed,
            use_cpu=use_cpu, bf16=False, fp16=False, save_strategy="no", report_to=[],
            logging_steps=10, disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=dataset,
                          data_collator=DataCollatorWithPadding(tokenizer))
        # Trainer prints its logs to stdout, where `score-model train --json` writes its result;
        # the losses stay available in the returned card and trainer.state.log_history.
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        result = trainer.train()
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    card: dict[str, Any] = {
        "kind": "redstar-difficulty-regression", "center": CENTER, "scale": SCALE, "base": base,
        "max_length": max_length, "train_prompts": len(train), "heldout_prompts": len(heldout),
        "heldout_fraction": heldout_fraction, "steps": result.global_step, "train_loss": result.training_loss,
    }
    (output_dir / MODEL_CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    if heldout:
        scorer = TrainedScorer(model=str(output_dir))
        predicted = scorer.score([p for p, _ in heldout])
        card["heldout_agreement"] = asdict(agreement(predicted, [lv for _, lv in heldout]))
        (output_dir / MODEL_CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def evaluate_difficulty_model(model_dir: str | Path, prompts: Sequence[Prompt], batch_size: int = 32) -> Agreement:
    """Agreement of a trained difficulty model with the levels ``prompts`` carry."""
    known = _levels(prompts)
    return agreement(TrainedScorer(model=str(model_dir), batch_size=batch_size).score(prompts), known)


class TrainedScorer(Scorer):
    """Score prompts with a difficulty model trained by :func:`train_difficulty_model`.

    Args:
        model: The folder the difficulty model was saved to.
        batch_size: How many prompts are scored together.
        device: Where the model runs: ``cpu``, ``cuda``, or ``auto`` for CUDA when available.
    """

    name = "trained"

    def __init__(self, model: str, batch_size: int = 32, device: str = "auto") -> None:
        card_file = Path(model) / MODEL_CARD
        if not card_file.exists():
            raise RedStarError(f"{model} is not a RedStar difficulty model (no {MODEL_CARD}); "
                               "train one with `redstar score-model train`")
        self.model_dir = Path(model)
        self.card = json.loads(card_file.read_text(encoding="utf-8"))
        self.batch_size = batch_size
        self.device = device
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            import torch
            from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

            device = self.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            # PreTrainedTokenizerFast reads tokenizer.json as trained; AutoTokenizer would swap a
            # qwen2 model's pre-tokenizer for Qwen2's own (see /work/shared/CPU.md).
            tokenizer = PreTrainedTokenizerFast.from_pretrained(self.model_dir)
            tokenizer.padding_side = "right"  # the head reads the last non-padding token
            model = AutoModelForSequenceClassification.from_pretrained(self.model_dir, dtype=torch.float32)
            model.to(device).eval()
            self._loaded = (model, tokenizer)
        return self._loaded

    def score(self, prompts: Sequence[Prompt]) -> list[float]:
        import torch

        if not prompts:
            return []
        model, tokenizer = self._load()
        levels: list[float] = []
        max_length = int(self.card.get("max_length", 256))
        for start in range(0, len(prompts), self.batch_size):
            batch = [p.question for p in prompts[start:start + self.batch_size]]
            inputs = tokenizer(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            inputs = {k: v.to(model.device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            with torch.no_grad():
                outputs = model(**inputs).logits.squeeze(-1)
            levels.extend(clamp_level(float(v) * self.card["scale"] + self.card["center"]) for v in outputs.tolist())
        return levels
