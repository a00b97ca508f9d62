"""Build the embedded tiny TEACHER and STUDENT models (``embedded:tiny-teacher``,
``embedded:tiny-student``) from the synthetic math and code generators, seeded, on CPU.

    . .venv/bin/activate
    python tools/build_tiny_models.py            # full build (see docs/tiny-models.md for time)
    python tools/build_tiny_models.py --smoke    # a minute-long run into /tmp, to check the script

- One byte-level BPE tokenizer (``redstar.tiny.train_tokenizer``, ChatML template with the
  reasoning inside ``<think>...</think>``) is trained on both models' training conversations.
- The teacher (a Qwen2 causal LM) learns the slow-thinking style: each problem's ``long_cot``.
- The student base (a smaller Qwen2) learns the fast-thinking style: each problem's
  ``short_answer``, plus bare equations of the same arithmetic ("68 + 74 = 142") as its
  pretraining knowledge. It never sees a worked solution: Long-CoT SFT has to teach it that.
- Every conversation is exactly what the pipeline sends: user content
  ``f"{question}\\n{instruction}"`` with the math/code verifier's instruction.
- Both are trained from scratch (fp32, plain torch loop), saved as safetensors with their
  tokenizer and a generation config that stops at ``<|im_end|>``, reloaded with
  ``AutoModelForCausalLM``/``AutoTokenizer`` and measured: teacher sampled at temperature 1.0 on
  the default source prompts, teacher and student greedy on the held-out sets, by level.
- The figures go to ``<out-dir>/tiny-models.json`` and, for the shipped build, to the generated
  section of ``docs/tiny-models.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "tools", ROOT / "packages/redstar-math/src", ROOT / "packages/redstar-code/src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import torch  # noqa: E402
from tiny import data  # noqa: E402
from tiny.evaluate import Checker, Item, ask, by_level  # noqa: E402
from tiny.train import train  # noqa: E402

from redstar.tiny import tiny_config, train_tokenizer  # noqa: E402
from redstar_code.synthetic import generate_code_problems, generate_heldout_code_problems  # noqa: E402
from redstar_math.synthetic import generate_heldout_math_problems, generate_math_problems  # noqa: E402

DEFAULT_OUT = ROOT / "packages/redstar-core/src/redstar/assets/models"
#: Where a build for DEFAULT_OUT trains and is measured before it replaces the shipped models.
STAGING = ROOT / "build/tiny-models"
DOCS = ROOT / "docs/tiny-models.md"
DOCS_START, DOCS_END = "<!-- build-report:start -->", "<!-- build-report:end -->"

#: Problem seeds for training, kept apart from the sources' default seed (0), so that the
#: default run's prompts are new to both models too (held-out sets are disjoint by construction).
TEACHER_SEED_BASE, STUDENT_SEED_BASE = 1000, 2000
#: Added to the teacher's seeds for ``--continue-teacher``: its further training is on problems
#: (and calculator tapes) drawn afresh, not a second pass over the first ones.
CONTINUE_SEED_OFFSET = 300


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT, help="writes tiny-teacher/ and tiny-student/ here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument("--teacher-math", type=int, default=20000, help="math problems the teacher trains on")
    p.add_argument("--teacher-code", type=int, default=6000, help="code problems the teacher trains on")
    p.add_argument("--teacher-shape", default="128,4,4,2", help="hidden,layers,heads,kv_heads")
    p.add_argument("--teacher-epochs", type=float, default=1.0)
    p.add_argument("--teacher-lr", type=float, default=1e-3)
    p.add_argument("--student-math", type=int, default=16000)
    p.add_argument("--student-code", type=int, default=6000)
    p.add_argument("--student-shape", default="128,4,4,2")
    p.add_argument("--student-epochs", type=float, default=1.0)
    p.add_argument("--student-lr", type=float, default=1e-3)
    p.add_argument("--tapes", type=int, default=16000,
                   help="math problems whose equations both models get as bare arithmetic drill")
    p.add_argument("--student-solutions", type=int, default=20000,
                   help="math problems whose worked solutions (plain text) are in the student's pretraining")
    p.add_argument("--student-code-solutions", type=int, default=6000,
                   help="code problems whose worked solutions (plain text) are in the student's pretraining")
    p.add_argument("--no-student-solutions", action="store_true",
                   help="leave the worked solutions out of the student's pretraining (an ablation)")
    p.add_argument("--retrain", choices=("teacher", "student"),
                   help="train only this model again and keep the other one from --out-dir (their shared "
                        "tokenizer must come out the same; the build report records both commands)")
    p.add_argument("--continue-teacher", action="store_true",
                   help="with --retrain teacher: start from the teacher's current weights instead of from "
                        "scratch and keep its tokenizer as it is (none is trained, so the data options may "
                        "change); it trains on --teacher-math/--teacher-code new problems and --tapes new "
                        "calculator tapes, drawn from seeds of their own")
    p.add_argument("--eval-per-level", type=int, default=20, help="problems per level and domain in each measurement")
    p.add_argument("--max-new-tokens", type=int, default=384, help="as the default recipe samples")
    p.add_argument("--threads", type=int, default=2, help="torch threads (for --jobs 1 and evaluation)")
    p.add_argument("--jobs", type=int, choices=(1, 2), default=2,
                   help="2: train teacher and student at once, one thread each; 1: one after the other")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, into /tmp: checks the script in about a minute")
    p.add_argument("--skip-eval", action="store_true")
    p.add_argument("--eval-only", action="store_true",
                   help="train nothing: measure the models in --out-dir again and rewrite their report")
    p.add_argument("--install-from", type=Path, metavar="DIR",
                   help="train nothing: copy the model(s) a build trained and measured in the scratch folder DIR "
                        "(its --out-dir: both, or the one it retrained) and its report into --out-dir, and rewrite "
                        "the docs report when that is the shipped folder")
    p.add_argument("--only", choices=("teacher", "student"), help=argparse.SUPPRESS)  # internal: one --jobs 2 worker
    args = p.parse_args(argv)
    if args.continue_teacher and args.retrain != "teacher":
        p.error("--continue-teacher goes with --retrain teacher")
    if args.smoke:
        args.out_dir = Path("/tmp/redstar-tiny-smoke")
        args.teacher_math = args.teacher_code = args.student_math = args.student_code = 200
        args.tapes = args.student_solutions = args.student_code_solutions = 100
        args.teacher_shape = args.student_shape = "32,2,2,1"
        args.teacher_epochs = args.student_epochs = 1.0
        args.eval_per_level = 2
        args.max_new_tokens = 64
    return args


def shape(spec: str) -> dict[str, int]:
    hidden, layers, heads, kv = (int(v) for v in spec.split(","))
    return {"hidden_size": hidden, "layers": layers, "heads": heads, "kv_heads": kv}


def log(message: str) -> None:
    print(message, flush=True)


def shape_of(config) -> dict[str, int]:
    return {"hidden_size": config.hidden_size, "layers": config.num_hidden_layers,
            "heads": config.num_attention_heads, "kv_heads": config.num_key_value_heads}


def build_model(tokenizer, spec: str, seed: int):
    from transformers import GenerationConfig, Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(tiny_config(tokenizer, max_positions=1024, **shape(spec)))
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    return model


def save(model, tokenizer, folder: Path) -> dict[str, float]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # safetensors' writer leaves model.safetensors 0600; the shipped models must be readable by
    # every user who installs RedStar (a non-root test run could not load the teacher).
    from redstar.tables import file_mode

    for written in folder.iterdir():
        if written.is_file():
            written.chmod(file_mode())
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return {"bytes": size, "megabytes": round(size / 2**20, 2)}


def reload(folder: Path, trained_with=None, probe: Sequence[str] = ()):
    """Load as the pipeline does (``AutoModelForCausalLM``/``AutoTokenizer``, fp32) and check that
    AutoTokenizer (which picks ``Qwen2Tokenizer`` for a qwen2 config) gives the very ids the
    model was trained with on ``probe`` texts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model.eval()
    if trained_with is not None:
        for text in probe:
            if tokenizer(text)["input_ids"] != trained_with(text)["input_ids"]:
                raise RuntimeError(f"{folder}: AutoTokenizer tokenises differently from training on {text[:60]!r}")
    return model, tokenizer


def items_from(math, code) -> list[Item]:
    return ([Item("math", p.question, p.answer, p.level) for p in math]
            + [Item("code", p.question, p.input_output, p.level, {"fn_name": p.fn_name} if p.fn_name else {})
               for p in code])


def seed_base(role: str, args: argparse.Namespace) -> int:
    if role == "teacher":
        return TEACHER_SEED_BASE + (CONTINUE_SEED_OFFSET if args.continue_teacher else 0)
    return STUDENT_SEED_BASE


def problems_for(role: str, args: argparse.Namespace):
    base = seed_base(role, args)
    count_math = args.teacher_math if role == "teacher" else args.student_math
    count_code = args.teacher_code if role == "teacher" else args.student_code
    return (generate_math_problems(count_math, seed=base + args.seed),
            generate_code_problems(count_code, seed=base + args.seed))


def conversations_for(role: str, args: argparse.Namespace, instructions: dict[str, str]):
    """(chat conversations, plain texts) a role trains on."""
    math, code = problems_for(role, args)
    base = seed_base(role, args)
    drill = generate_math_problems(args.tapes, seed=base + 500 + args.seed)
    texts = data.arithmetic_texts(drill, seed=args.seed)
    if role == "teacher":
        return data.teacher_conversations(math, code, instructions), texts
    if not args.no_student_solutions:
        # Appended after the tapes: the tokenizer samples the first plain texts, so that this
        # knowledge can change without changing the tokenizer the teacher shares.
        texts += data.worked_solutions([*generate_math_problems(args.student_solutions, seed=base + 700 + args.seed),
                                        *generate_code_problems(args.student_code_solutions, seed=base + 700 + args.seed)])
    return data.student_conversations(math, code, instructions), texts


def train_role(role: str, args: argparse.Namespace, instructions: dict[str, str], start_from=None) -> dict:
    """Train one model on its data, with the tokenizer already saved in its folder: from scratch,
    or further from ``start_from`` (a loaded model, ``--continue-teacher``)."""
    from transformers import PreTrainedTokenizerFast

    folder = args.out_dir / f"tiny-{role}"
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    convs, texts = conversations_for(role, args, instructions)
    spec = args.teacher_shape if role == "teacher" else args.student_shape
    epochs = args.teacher_epochs if role == "teacher" else args.student_epochs
    lr = args.teacher_lr if role == "teacher" else args.student_lr
    examples = [data.chat_example(tokenizer, q, i, a) for q, i, a in convs]
    examples += [data.text_example(tokenizer, text) for text in texts]
    model = build_model(tokenizer, spec, seed=args.seed) if start_from is None else start_from
    if start_from is not None and shape(spec) != shape_of(model.config):
        log(f"[{role}] continuing: the shape is the model's own, {shape_of(model.config)}")
    params = sum(p.numel() for p in model.parameters())
    log(f"[{role}] {params / 1e6:.2f}M parameters, {len(examples)} sequences, {epochs} epochs, "
        f"{torch.get_num_threads()} thread(s)")
    other = args.out_dir / f"tiny-{'student' if role == 'teacher' else 'teacher'}" / STAGE_REPORT

    def take_free_core() -> None:
        # In a --jobs 2 build the model that finishes first leaves its core idle: take it.
        if args.only and torch.get_num_threads() == 1 and other.exists():
            torch.set_num_threads(2)
            log(f"[{role}] the other model is done: now 2 threads")

    stats = train(model, examples, epochs=epochs, lr=lr, pad_id=tokenizer.pad_token_id, seed=args.seed,
                  log=lambda m: log(f"[{role}]{m}"), log_every=50, every_log=take_free_core)
    files = save(model, tokenizer, folder)
    log(f"[{role}] {stats.tokens} tokens in {stats.seconds:.0f}s, final loss {stats.final_loss:.4f}, "
        f"{files['megabytes']} MB")
    return {"shape": shape_of(model.config), "parameters": params, "epochs": epochs, "lr": lr,
            "conversations": len(convs), "plain_texts": len(texts),
            "data": {"math": sum(i == instructions["math"] for _, i, _ in convs),
                     "code": sum(i == instructions["code"] for _, i, _ in convs), "plain_texts": len(texts),
                     "seed_base": seed_base(role, args)},
            "train": asdict(stats), "files": files}


def train_both_in_parallel(args: argparse.Namespace, argv: list[str]) -> dict[str, dict]:
    """Teacher and student each in its own process with one thread: on two cores this beats two
    threads per model in turn, because tiny matrices leave threads waiting on each other."""
    import subprocess

    procs = {role: subprocess.Popen([sys.executable, __file__, *argv, "--only", role, "--threads", "1",
                                     "--out-dir", str(args.out_dir)]) for role in ("teacher", "student")}
    for role, proc in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"training the {role} failed (exit {proc.returncode})")
    return {role: json.loads((args.out_dir / f"tiny-{role}" / STAGE_REPORT).read_text()) for role in procs}


STAGE_REPORT = "train-report.json"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    instructions = data.instructions()
    if args.only:
        result = train_role(args.only, args, instructions)
        (args.out_dir / f"tiny-{args.only}" / STAGE_REPORT).write_text(json.dumps(result))
        return 0
    started = time.time()
    if args.eval_only:
        return measure_again(args, instructions, started)
    if args.install_from:
        return install(args, argv)
    import transformers

    # The shipped models stay in place (tests and runs use them) until the new ones are built and
    # measured; then they are swapped in.
    ship_to = args.out_dir if args.out_dir.resolve() == DEFAULT_OUT.resolve() else None
    if ship_to is not None:
        args.out_dir = STAGING
    command = " ".join(["python", "tools/build_tiny_models.py", *argv])
    machine = {"threads": args.threads, "jobs": args.jobs, "python": platform.python_version(),
               "torch": torch.__version__, "transformers": transformers.__version__}
    if args.continue_teacher:
        from transformers import PreTrainedTokenizerFast

        source = ship_to or args.out_dir
        if not (source / "tiny-teacher").is_dir():
            raise SystemExit(f"--continue-teacher needs a teacher in {source / 'tiny-teacher'}")
        log(f"keeping the tokenizer of {source / 'tiny-teacher'}")
        tokenizer = PreTrainedTokenizerFast.from_pretrained(source / "tiny-teacher")
    else:
        log("training the tokenizer")
        tokenizer = shared_tokenizer(args, instructions)
    if args.retrain:
        report = retrain(args, ship_to, tokenizer, instructions, command, machine, started)
    else:
        report = {"seed": args.seed, "instructions": instructions, "command": command, "machine": machine,
                  "tokenizer": {"vocab_size": len(tokenizer)}}
        for role in ("teacher", "student"):
            folder = args.out_dir / f"tiny-{role}"
            if folder.exists():
                for old in folder.iterdir():
                    if old.is_file():
                        old.unlink()
            folder.mkdir(parents=True, exist_ok=True)
            tokenizer.save_pretrained(folder)
        if args.jobs == 2:
            report.update(train_both_in_parallel(args, argv))
        else:
            for role in ("teacher", "student"):
                report[role] = train_role(role, args, instructions)
        for role in ("teacher", "student"):
            (args.out_dir / f"tiny-{role}" / STAGE_REPORT).unlink(missing_ok=True)
        report["train_seconds"] = round(time.time() - started)
    models = {role: args.out_dir / f"tiny-{role}" for role in ("teacher", "student")}
    if not args.skip_eval:
        report["evaluation"] = evaluate(args, models, instructions, tokenizer)
    elapsed = round(time.time() - started)
    if args.retrain:
        report["retrained"][-1]["total_seconds"] = elapsed
    else:
        report["total_seconds"] = elapsed
    (args.out_dir / "tiny-models.json").write_text(json.dumps(report, indent=2) + "\n")
    if ship_to is not None:
        import shutil

        for name in ("tiny-teacher", "tiny-student"):
            shutil.rmtree(ship_to / name, ignore_errors=True)
            shutil.copytree(args.out_dir / name, ship_to / name)
        shutil.copy2(args.out_dir / "tiny-models.json", ship_to / "tiny-models.json")
        write_docs_section(report)
        args.out_dir = ship_to
    log(f"done in {elapsed}s; report in {args.out_dir / 'tiny-models.json'}")
    return 0


def measure_again(args: argparse.Namespace, instructions: dict[str, str], started: float) -> int:
    """``--eval-only``: the evaluation part of the report, redone on the models as they are."""
    from transformers import PreTrainedTokenizerFast

    report = json.loads((args.out_dir / "tiny-models.json").read_text())
    models = {role: args.out_dir / f"tiny-{role}" for role in ("teacher", "student")}
    report["evaluation"] = evaluate(args, models, instructions, PreTrainedTokenizerFast.from_pretrained(models["teacher"]))
    (args.out_dir / "tiny-models.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.out_dir.resolve() == DEFAULT_OUT.resolve():
        write_docs_section(report)
    log(f"measured in {time.time() - started:.0f}s; report in {args.out_dir / 'tiny-models.json'}")
    return 0


def install(args: argparse.Namespace, argv: list[str]) -> int:
    """``--install-from``: put a build made in a scratch folder in place once it has been measured
    there. A retrain installs only the model it trained (the other one must be the very one kept
    here: same tokenizer); the report is the scratch build's, with the install recorded."""
    import shutil

    source = args.install_from
    report = json.loads((source / "tiny-models.json").read_text())
    if "evaluation" not in report:
        raise SystemExit(f"{source} was not measured (built with --skip-eval): measure it before installing it")
    history = report.get("retrained") or []
    last = history if isinstance(history, dict) else (history[-1] if history else None)
    roles = [last["role"]] if last else ["teacher", "student"]
    for role in {"teacher", "student"} - set(roles):
        for name in ("tokenizer.json", "model.safetensors"):
            if (source / f"tiny-{role}" / name).read_bytes() != (args.out_dir / f"tiny-{role}" / name).read_bytes():
                raise SystemExit(f"{source}/tiny-{role} is not the tiny-{role} in {args.out_dir}: install the whole build")
    for role in roles:
        shutil.rmtree(args.out_dir / f"tiny-{role}", ignore_errors=True)
        shutil.copytree(source / f"tiny-{role}", args.out_dir / f"tiny-{role}")
        (args.out_dir / f"tiny-{role}" / STAGE_REPORT).unlink(missing_ok=True)
    report["installed"] = {"roles": roles, "command": " ".join(["python", "tools/build_tiny_models.py", *argv])}
    (args.out_dir / "tiny-models.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.out_dir.resolve() == DEFAULT_OUT.resolve():
        write_docs_section(report)
    log(f"installed tiny-{' and tiny-'.join(roles)} from {source} into {args.out_dir}")
    return 0


def shared_tokenizer(args: argparse.Namespace, instructions: dict[str, str]):
    """One BPE tokenizer for both models, trained on a sample of both models' conversations."""
    rng = random.Random(args.seed)
    teacher_convs, _ = conversations_for("teacher", args, instructions)
    student_convs, texts = conversations_for("student", args, instructions)
    sample = (rng.sample(teacher_convs, min(4000, len(teacher_convs)))
              + rng.sample(student_convs, min(4000, len(student_convs))))
    return train_tokenizer([f"{q}\n{i}\n{a}" for q, i, a in sample] + texts[:500], vocab_size=args.vocab_size)


def retrain(args: argparse.Namespace, ship_to: Path | None, tokenizer, instructions: dict[str, str], command: str,
            machine: dict, started: float) -> dict:
    """Train ``args.retrain`` again, keeping the other model of the build in ``ship_to`` (or
    ``--out-dir``); its report is the previous one with that model's entry replaced."""
    import shutil

    from transformers import PreTrainedTokenizerFast

    source = ship_to or args.out_dir
    if not (source / "tiny-models.json").exists():
        raise SystemExit(f"--retrain needs a previous build in {source} (tiny-models.json not found)")
    if ship_to is not None:
        for name in ("tiny-teacher", "tiny-student"):
            shutil.rmtree(args.out_dir / name, ignore_errors=True)
            shutil.copytree(ship_to / name, args.out_dir / name)
    report = json.loads((source / "tiny-models.json").read_text())
    keep = "student" if args.retrain == "teacher" else "teacher"
    kept = PreTrainedTokenizerFast.from_pretrained(args.out_dir / f"tiny-{keep}")
    if kept.get_vocab() != tokenizer.get_vocab():
        raise SystemExit(f"these options train a tokenizer unlike the one tiny-{keep} was trained with: "
                         "run a full build (without --retrain)")
    folder = args.out_dir / f"tiny-{args.retrain}"
    start_from = None
    if args.continue_teacher:
        from transformers import AutoModelForCausalLM

        start_from = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        start_from.generation_config.bos_token_id = None
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    tokenizer.save_pretrained(folder)
    previous = report[args.retrain]
    report[args.retrain] = train_role(args.retrain, args, instructions, start_from=start_from)
    if start_from is not None:
        # The stages the model went through, first to last (each a train_role entry).
        report[args.retrain]["stages"] = previous.get("stages", [previous]) + [
            {k: v for k, v in report[args.retrain].items() if k != "stages"}]
    history = report.get("retrained") or []
    if isinstance(history, dict):  # reports written before retrains were kept as a list
        history = [history]
    report["retrained"] = history + [{"role": args.retrain, "continued": bool(start_from is not None),
                                      "command": command, "machine": machine,
                                      "train_seconds": round(time.time() - started)}]
    return report


def evaluate(args: argparse.Namespace, models: dict[str, Path], instructions: dict[str, str], trained_with) -> dict:
    checker = Checker()
    result: dict = {"checker": checker.description}
    levels = range(1, 11)
    # The default source prompts (seed 0), as `redstar run` samples them.
    n_math = args.eval_per_level if args.teacher_math else 0
    n_code = args.eval_per_level if args.teacher_code else 0
    demo = items_from(generate_math_problems(n_math * 10, seed=0, levels=levels),
                      generate_code_problems(n_code * 10, seed=0, levels=levels))
    heldout = items_from(generate_heldout_math_problems(n_math, seed=0, levels=levels) if n_math else [],
                         generate_heldout_code_problems(n_code, seed=0, levels=levels) if n_code else [])
    probe = [trained_with.apply_chat_template(data.user_message(i.question, instructions[i.domain]), tokenize=False,
                                              add_generation_prompt=True) for i in heldout[:: max(1, len(heldout) // 8)]]
    teacher, tokenizer = reload(models["teacher"], trained_with, probe)
    start = time.time()
    sampled = ask(teacher, tokenizer, demo, instructions, checker, slow=True, max_new_tokens=args.max_new_tokens,
                  do_sample=True, temperature=1.0, seed=args.seed)
    result["teacher_sampled_t1_on_source_prompts"] = {"seconds": round(time.time() - start), "by_level": by_level(sampled),
                                                       "examples": [o.response for o in sampled[:: max(1, len(sampled) // 4)]][:4]}
    log(f"teacher sampled at T=1.0, accuracy by level: {accuracies(result['teacher_sampled_t1_on_source_prompts'])}")
    greedy = ask(teacher, tokenizer, heldout, instructions, checker, slow=True, max_new_tokens=args.max_new_tokens,
                 do_sample=False)
    result["teacher_greedy_on_heldout"] = {"by_level": by_level(greedy)}
    student, tokenizer = reload(models["student"], trained_with, probe)
    greedy = ask(student, tokenizer, heldout, instructions, checker, slow=False, max_new_tokens=args.max_new_tokens,
                 do_sample=False)
    result["student_greedy_on_heldout"] = {"by_level": by_level(greedy),
                                           "examples": [o.response for o in greedy[:: max(1, len(greedy) // 4)]][:4]}
    # What the student knows outside a conversation: the held-out questions as plain text, in
    # the layout of its pretraining worked solutions. The gap to its chat answers above is what
    # Long-CoT SFT can unlock.
    plain = ask(student, tokenizer, heldout, instructions, checker, slow=False, max_new_tokens=args.max_new_tokens,
                do_sample=False, plain=True)
    result["student_plain_text_on_heldout"] = {"by_level": by_level(plain),
                                               "examples": [o.response for o in plain[:: max(1, len(plain) // 4)]][:4]}
    log(f"teacher greedy on held-out, accuracy by level: {accuracies(result['teacher_greedy_on_heldout'])}")
    log(f"student greedy on held-out, accuracy by level: {accuracies(result['student_greedy_on_heldout'])}")
    log(f"student plain text on held-out, accuracy by level: {accuracies(result['student_plain_text_on_heldout'])}")
    return result


def accuracies(measurement: dict) -> dict[str, list[float]]:
    return {domain: [cell["accuracy"] for _, cell in sorted(levels.items())]
            for domain, levels in measurement["by_level"].items()}


def level_table(by_domain: dict, title: str, with_format: bool = True) -> list[str]:
    lines = [f"{title}", "", "| domain | " + " | ".join(f"L{level}" for level in range(1, 11)) + " |",
             "|---|" + "---|" * 10]
    for domain, levels in by_domain.items():
        levels = {int(level): cell for level, cell in levels.items()}  # a report read back from JSON has "1"
        cells = [f"{levels[level]['accuracy']:.2f}" if level in levels else "-" for level in range(1, 11)]
        lines.append(f"| {domain} accuracy | " + " | ".join(cells) + " |")
        if with_format:
            cells = [f"{levels[level]['format']:.2f}" if level in levels else "-" for level in range(1, 11)]
            lines.append(f"| {domain} format | " + " | ".join(cells) + " |")
    return lines + [""]


def write_docs_section(report: dict) -> None:
    machine = report["machine"]
    how = ("teacher and student trained at once, one thread each" if machine["jobs"] == 2
           else f"one model after the other, {machine['threads']} threads")
    lines = [DOCS_START, "", f"Generated by `{report['command']}`: {report['total_seconds'] / 60:.0f} min in all, "
             f"{report['train_seconds'] / 60:.0f} min of it tokenizer and training ({how}; torch {machine['torch']}, "
             f"transformers {machine['transformers']}, on a 2-core machine shared with other jobs).", ""]
    history = report.get("retrained") or []
    for again in [history] if isinstance(history, dict) else history:
        kept = "teacher" if again["role"] == "student" else "student"
        how = ("trained further from its weights, on new problems, with its tokenizer and the "
               f"{kept} kept" if again.get("continued") else f"trained again, with the same tokenizer and the {kept} kept")
        lines += [f"Then the {again['role']} was {how}: `{again['command']}` "
                  f"({again['total_seconds'] / 60:.0f} min in all, {again['machine']['threads']} threads).", ""]
    if report.get("installed"):
        lines += [f"That build was made and measured in a scratch folder, then installed here with "
                  f"`{report['installed']['command']}`.", ""]
    lines += ["| model | parameters | shape (hidden, layers, heads, kv heads) | sequences x epochs | tokens trained | time | final loss | folder size |",
              "|---|---|---|---|---|---|---|---|"]
    for role in ("teacher", "student"):
        r = report[role]
        s = r["shape"]
        stages = r.get("stages", [r])  # a continued model: every stage, the figures added up
        sequences = " + ".join(f"{t['conversations'] + t['plain_texts']} x {t['epochs']}" for t in stages)
        tokens = sum(t["train"]["tokens"] for t in stages)
        seconds = sum(t["train"]["seconds"] for t in stages)
        lines.append(f"| tiny-{role} | {r['parameters'] / 1e6:.2f}M | {s['hidden_size']}, {s['layers']}, {s['heads']}, {s['kv_heads']} "
                     f"| {sequences} | {tokens / 1e6:.2f}M "
                     f"| {seconds / 60:.1f} min | {r['train']['final_loss']:.3f} | {r['files']['megabytes']} MB |")
    lines.append("")
    ev = report.get("evaluation")
    if ev:
        lines.append(f"Checks: math by {ev['checker']['math']}; code by {ev['checker']['code']}. Accuracy is the fraction "
                     "correct; format is the fraction in the model's own style.")
        lines.append("")
        lines += level_table(ev["teacher_sampled_t1_on_source_prompts"]["by_level"],
                             f"Teacher, one sample per prompt at temperature 1.0, on the default source prompts (seed 0), "
                             f"{ev['teacher_sampled_t1_on_source_prompts']['seconds']} s:")
        lines += level_table(ev["teacher_greedy_on_heldout"]["by_level"], "Teacher, greedy, on the held-out sets:")
        lines += level_table(ev["student_greedy_on_heldout"]["by_level"], "Student base, greedy, on the held-out sets:")
        if "student_plain_text_on_heldout" in ev:
            lines += level_table(ev["student_plain_text_on_heldout"]["by_level"],
                                 "Student base, greedy, on the held-out questions as plain text (`{question}\\nSolution:\\n`, "
                                 "the layout of its pretraining; read up to its first answer) - what it knows outside a chat:",
                                 with_format=False)
    lines.append(DOCS_END)
    text = DOCS.read_text() if DOCS.exists() else f"# Tiny embedded models\n\n{DOCS_START}\n{DOCS_END}\n"
    head, _, rest = text.partition(DOCS_START)
    _, _, tail = rest.partition(DOCS_END)
    DOCS.write_text(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    raise SystemExit(main())
