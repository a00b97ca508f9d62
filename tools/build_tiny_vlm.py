"""Build the geo plugin's embedded models: tiny InternVL-architecture teacher and student,
trained on synthetic geometry diagrams with worked Long-CoT solutions.

    python tools/build_tiny_vlm.py                 # about 10-15 minutes on 2 CPU cores
    python tools/build_tiny_vlm.py --out /tmp/vlm  # build elsewhere (default: the package assets)

Both models are transformers' native ``InternVLForConditionalGeneration`` (tiny InternViT-style
tower, pixel shuffle, MLP projector, tiny Qwen2) with the tokenizer and processor files of
:mod:`redstar_geo.vlm.tiny`, 112-px tiles (16 image tokens each) and one tile per image.

- ``tiny-internvl-teacher``: trained on problems of every level (1-8), so it writes
  ``<think>...</think> Answer: X`` responses and gets some of the hard ones right.
- ``tiny-internvl-student``: the same architecture and tokenizer, trained on levels 1-6 only: it
  knows the answer format but has never seen the level 7-9 variants that ``redstar run`` selects,
  so distilling the teacher's samples has something to teach.

Training goes through the ``vlm-sft`` trainer (the plugin's own, not a special path). The
teacher and student are then scored with core's evaluation loop on the synthetic held-out split;
the figures go to ``BUILD.json`` and the model cards (``README.md``) in each folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "packages/redstar-geo/src/redstar_geo/assets/models"
SHAPE = {"image_size": 112, "patch_size": 14, "vision_hidden": 64, "vision_layers": 2, "vision_heads": 2,
         "text_hidden": 128, "text_layers": 4, "text_heads": 4, "text_kv_heads": 2, "max_positions": 768}
VOCAB = 1024
STUDENT_LEVELS = [1, 2, 3, 4, 5, 6]


def sft_rows(prompts, problems) -> list[dict]:
    from redstar_geo.verifier import GeoVerifier

    verifier = GeoVerifier()
    by_id = {f"synthetic-geo-{p.id}": p for p in problems}
    return [{"prompt_id": prompt.id,
             "messages": verifier.messages(prompt) + [{"role": "assistant", "content": by_id[prompt.id].solution()}]}
            for prompt in prompts]


def train(base: Path, rows: list[dict], work: Path, tag: str, epochs: float, learning_rate: float,
          batch_size: int, seed: int) -> tuple[Path, dict]:
    from redstar.interfaces import TrainContext
    from redstar_geo.trainer import VLMSFTTrainer

    data = work / f"{tag}.jsonl"
    data.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    trainer = VLMSFTTrainer(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, grad_accum=1,
                            max_length=SHAPE["max_positions"], warmup_ratio=0.05, freeze_vision=False,
                            save_total_limit=1, resume=False, device="cpu", seed=seed)
    started = time.time()
    result = trainer.train(TrainContext(model=str(base), output_dir=work / tag, data_file=data,
                                        metrics_file=work / f"{tag}-metrics.jsonl", seed=seed))
    return result.model_path, {**result.metrics, "wall_s": round(time.time() - started, 1), "rows": len(rows)}


def score(model: Path, prompts, work: Path, tag: str) -> dict:
    from redstar.evaluation import evaluate
    from redstar.interfaces import SamplingParams
    from redstar_geo.sampler import InternVLSampler
    from redstar_geo.verifier import GeoVerifier

    sampler = InternVLSampler(str(model), device="cpu", batch_size=32)
    try:
        result = evaluate("synthetic-geo-heldout", prompts, sampler, GeoVerifier(),
                          SamplingParams(n=1, temperature=0.0, max_new_tokens=200), work / f"eval-{tag}.jsonl")
    finally:
        sampler.close()
    return {"pass@1": round(result.pass_at_1, 3), "no_answer": result.no_answer, "truncated": result.truncated,
            "problems": result.problems,
            "by_kind": {g: round(s["pass@1"], 3) for g, s in result.by_group.items()}}


def install(trained: Path, target: Path) -> None:
    """Copy the final model (config, tokenizer, processor files) into ``target`` with its weights
    stored as fp16, which halves the folder; loading casts them back to fp32 on CPU."""
    from safetensors.torch import load_file, save_file

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in trained.iterdir():
        if path.is_file() and path.name not in ("training_args.bin", "model.safetensors"):
            shutil.copyfile(path, target / path.name)
    weights = load_file(trained / "model.safetensors")
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              target / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    config["dtype"] = "float16"
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def write_card(target: Path, role: str, figures: dict) -> None:
    (target / "BUILD.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    (target / "README.md").write_text(model_card(target.name, role, figures), encoding="utf-8")


def model_card(name: str, role: str, figures: dict) -> str:
    teacher, student = figures["teacher"], figures["student"]
    return f"""# {name}

A tiny InternVL-architecture model ({figures['parameters']:,} parameters) built from scratch by
`tools/build_tiny_vlm.py` for RedStar's CPU runs of the geometry domain: {role}. It is a test
fixture that exercises the real InternVL code paths, not a useful geometry solver.

- Architecture: transformers `InternVLForConditionalGeneration`; vision tower {SHAPE['vision_layers']} layers x
  {SHAPE['vision_hidden']} wide, {SHAPE['image_size']}-px tiles, patch {SHAPE['patch_size']}, pixel shuffle 0.5 ->
  16 image tokens per tile, one tile per image; Qwen2 text model {SHAPE['text_layers']} layers x
  {SHAPE['text_hidden']} wide; byte-level BPE of {figures['vocab']} tokens with `<img>`, `</img>`, `<IMG_CONTEXT>`.
- Training data: synthetic diagrams and worked solutions from `redstar_geo.synthetic` (train split),
  teacher on levels 1-8 ({teacher['train']['rows']} problems), student on levels 1-6
  ({student['train']['rows']} problems); `vlm-sft` trainer, fp32 on CPU.
- Held-out synthetic split ({teacher['heldout']['problems']} problems, all levels, greedy, 200 new tokens,
  scored from the shipped fp16 weights):
  teacher pass@1 {teacher['heldout']['pass@1']}, student pass@1 {student['heldout']['pass@1']}
  (four choices: chance is 0.25). Per problem kind and build times: `BUILD.json`.
- Built {figures['built']} on {figures['machine']}.

Licence: Apache-2.0 (generated data and weights; no third-party data).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS, help="folder that receives the two model folders")
    parser.add_argument("--train-count", type=int, default=1600, help="teacher's synthetic training problems")
    parser.add_argument("--student-count", type=int, default=800, help="student's (levels 1-6)")
    parser.add_argument("--heldout-count", type=int, default=120)
    parser.add_argument("--teacher-epochs", type=float, default=1.0)
    parser.add_argument("--student-epochs", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from redstar_geo.synthetic.generate import generate, write_and_load
    from redstar_geo.verifier import prompt_text
    from redstar_geo.vlm.tiny import build_tiny_internvl

    torch.set_num_threads(2)
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="tiny-vlm-"))
    teacher_problems = generate(args.train_count, seed=args.seed)
    student_problems = generate(args.student_count, seed=args.seed + 1, levels=STUDENT_LEVELS)
    heldout_problems = generate(args.heldout_count, seed=args.seed, split="heldout")
    teacher_prompts = write_and_load(teacher_problems, work / "teacher-data", "gllava")
    student_prompts = write_and_load(student_problems, work / "student-data", "gllava")
    heldout_prompts = write_and_load(heldout_problems, work / "heldout-data", "geometry3k",
                                     source="synthetic-geo-heldout")
    texts = [prompt_text(p) + "\n" + q.solution() for p, q in zip(teacher_prompts, teacher_problems)]
    base = build_tiny_internvl(work / "base", texts, vocab_size=VOCAB, seed=args.seed, **SHAPE)

    teacher, teacher_train = train(base, sft_rows(teacher_prompts, teacher_problems), work, "teacher",
                                   args.teacher_epochs, 3e-3, 16, args.seed)
    student, student_train = train(base, sft_rows(student_prompts, student_problems), work, "student",
                                   args.student_epochs, 3e-3, 16, args.seed)
    from transformers import AutoConfig, InternVLForConditionalGeneration

    parameters = sum(p.numel() for p in InternVLForConditionalGeneration(AutoConfig.from_pretrained(base)).parameters())
    teacher_dir, student_dir = args.out / "tiny-internvl-teacher", args.out / "tiny-internvl-student"
    install(teacher, teacher_dir)
    install(student, student_dir)
    figures = {
        "built": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "shape": SHAPE, "vocab": VOCAB, "parameters": parameters, "seed": args.seed,
        "teacher": {"train": teacher_train, "heldout": score(teacher_dir, heldout_prompts, work, "teacher")},
        "student": {"train": student_train, "heldout": score(student_dir, heldout_prompts, work, "student")},
    }
    figures["total_wall_s"] = round(time.time() - started, 1)
    write_card(teacher_dir, "the teacher that writes Long-CoT samples", figures)
    write_card(student_dir, "the student that SFT distils the teacher into", figures)
    shutil.rmtree(work)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
