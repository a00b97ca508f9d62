"""The built-in samplers inside ``redstar run``: recipe options reach the constructors, and the
samples table gets ``n`` responses per prompt with their finish reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_sampler_openai import ChatServer

from redstar.pipeline.run_tables import sample_rows


def run_until_curate(invoke_cli: Any, tmp_path: Path, teacher: str, sampling: str) -> list[dict[str, Any]]:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"models: {{teacher: {teacher}, student: s}}\n"
        "sources: [{name: arith-gen, options: {count: 3}}]\n"
        "selection: {min_level: 1, max_level: 10}\n"
        f"sampling: {sampling}\n"
    )
    out = tmp_path / "run"
    invoke_cli(["run", "--recipe", str(recipe), "--out", str(out), "--until", "curate", "--no-progress"])
    return list(sample_rows(out))


def test_transformers_backend_in_a_run(invoke_cli: Any, arith_host: Any, tiny_lm: Path, tmp_path: Path) -> None:
    rows = run_until_curate(
        invoke_cli, tmp_path, str(tiny_lm),
        "{backend: transformers, options: {device: cpu, batch_size: 4}, n: 2, max_new_tokens: 4}",
    )
    assert len(rows) == 6
    assert sorted(r["index"] for r in rows) == [0, 0, 0, 1, 1, 1]
    assert {r["finish_reason"] for r in rows} <= {"stop", "length"}


def test_openai_backend_in_a_run(invoke_cli: Any, arith_host: Any, tmp_path: Path) -> None:
    server = ChatServer()
    try:
        rows = run_until_curate(
            invoke_cli, tmp_path, "served-teacher",
            f"{{backend: openai, options: {{base_url: '{server.url}', concurrency: 2}}, n: 2}}",
        )
    finally:
        server.close()
    assert len(rows) == 6 and {r["finish_reason"] for r in rows} == {"stop"}
    assert {r["body"]["model"] for r in server.requests} == {"served-teacher"}
    # Each prompt's question comes back in its two responses.
    assert all(r["response"].endswith(("|0", "|1")) for r in rows)
