"""Shared fixtures: a randomly initialised tiny InternVL model (built once per session) and
synthetic problems written to disk. The shared benchmark fixtures (../shared) are used only when
present."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_GEO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "benchmarks" / "geo"


@pytest.fixture(scope="session")
def synthetic_problems():
    from redstar_geo.synthetic.generate import generate

    return generate(12, seed=7)


@pytest.fixture(scope="session")
def synthetic_prompts(tmp_path_factory, synthetic_problems):
    from redstar_geo.synthetic.generate import write_and_load

    return write_and_load(synthetic_problems, tmp_path_factory.mktemp("synthetic"), "gllava")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory, synthetic_problems) -> Path:
    """A random tiny InternVL (32-wide) whose tokenizer covers the synthetic texts. Two tiles
    at most, so multi-tile inputs are exercised."""
    from redstar_geo.verifier import prompt_text
    from redstar_geo.vlm.tiny import build_tiny_internvl

    texts = [p.question + "\n" + " ".join(p.choices.values()) + "\n" + p.solution() for p in synthetic_problems]
    texts.append(prompt_text.__doc__ or "")
    return build_tiny_internvl(tmp_path_factory.mktemp("tiny-vlm"), texts * 4, vocab_size=400, max_tiles=2,
                               vision_hidden=32, vision_layers=1, text_hidden=32, text_layers=2, text_heads=2,
                               text_kv_heads=1)


@pytest.fixture
def shared_geo() -> Path:
    if not SHARED_GEO.is_dir():
        pytest.skip("the shared benchmark fixtures (../shared/data/benchmarks/geo) are not here")
    return SHARED_GEO
