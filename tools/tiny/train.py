"""A plain torch training loop for the tiny models (fp32 on CPU).

Plain rather than TRL because the build trains tens of thousands of short sequences in a fixed
time budget: batches are packed by token budget from sequences of similar length (little padding),
and the loss covers only the tokens whose label is not -100.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tiny.data import Example


@dataclass
class TrainStats:
    steps: int
    sequences: int
    tokens: int
    loss_tokens: int
    seconds: float
    final_loss: float


def batches(examples: Sequence[Example], tokens_per_batch: int, rng: random.Random) -> list[list[Example]]:
    """Groups of similar-length examples whose padded size stays within ``tokens_per_batch``,
    in random order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].input_ids), rng.random()))
    groups: list[list[Example]] = []
    current: list[Example] = []
    longest = 0
    for i in order:
        length = len(examples[i].input_ids)
        if current and max(longest, length) * (len(current) + 1) > tokens_per_batch:
            groups.append(current)
            current, longest = [], 0
        current.append(examples[i])
        longest = max(longest, length)
    if current:
        groups.append(current)
    rng.shuffle(groups)
    return groups


def collate(group: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in group)
    ids = torch.full((len(group), width), pad_id, dtype=torch.long)
    labels = torch.full((len(group), width), -100, dtype=torch.long)
    mask = torch.zeros((len(group), width), dtype=torch.long)
    for row, example in enumerate(group):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def train(model, examples: Sequence[Example], *, epochs: float, lr: float, pad_id: int, seed: int,
          tokens_per_batch: int = 2048, warmup_fraction: float = 0.03, min_lr_fraction: float = 0.1,
          weight_decay: float = 0.01, log: Callable[[str], None] = print, log_every: int = 200,
          every_log: Callable[[], None] | None = None) -> TrainStats:
    """Train ``model`` in place on ``examples`` for ``epochs`` passes (a fraction trains on a
    prefix of the last pass) with AdamW, linear warm-up and cosine decay to
    ``min_lr_fraction * lr``. ``every_log`` is called at each log line (the build uses it to
    take the second core once the other model is done)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    plan: list[list[Example]] = []
    whole = math.floor(epochs)
    for _ in range(whole):
        plan.extend(batches(examples, tokens_per_batch, rng))
    if epochs > whole:
        part = batches(examples, tokens_per_batch, rng)
        plan.extend(part[: round(len(part) * (epochs - whole))])
    total = len(plan)
    warmup = max(1, int(total * warmup_fraction))
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "norm" in name else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return min_lr_fraction + (1 - min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    model.train()
    start = time.time()
    tokens = loss_tokens = sequences = 0
    running = None
    for step, group in enumerate(plan):
        batch = collate(group, pad_id)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        loss_tokens += int((batch["labels"] != -100).sum())
        sequences += len(group)
        value = loss.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        if (step + 1) % log_every == 0 or step + 1 == total:
            elapsed = time.time() - start
            log(f"  step {step + 1}/{total} loss {running:.4f} lr {scheduler.get_last_lr()[0]:.2e} "
                f"{tokens / elapsed:.0f} tok/s {elapsed:.0f}s")
            if every_log is not None:
                every_log()
    model.eval()
    return TrainStats(total, sequences, tokens, loss_tokens, time.time() - start, running or float("nan"))
