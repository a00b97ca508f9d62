"""``redstar export``: a run's datasets in the formats of the other trainers people use.

- ``llama-factory``: ``preference.jsonl`` as LLaMA-Factory's ShareGPT preference (ranking) format:
  ``conversations`` (the prompt turns, ``{"from": "human", "value": ...}``) plus ``chosen`` and
  ``rejected``, each a single ``{"from": "gpt", "value": ...}`` message; a ``system`` column when
  the prompt has a system turn; ``images`` (with an ``<image>`` token in the human turn) for
  diagrams. ``dataset_info.json`` beside the file declares it (``formatting: sharegpt``,
  ``ranking: true``); an existing one, such as LLaMA-Factory's own ``data/dataset_info.json``, keeps
  its other entries.
- ``jsonl``: the run's samples (the sharded ``samples/`` table) as one JSON Lines file for people
  and tools, each row with its ``verdict`` (``correct``, ``reward``, ``reason``, ``extracted``;
  null when not judged yet). Streamed: a run of millions of samples exports in bounded memory.
- ``openrlhf``: ``online.jsonl`` as OpenRLHF's prompt dataset (``input`` = the chat, ``label`` =
  the row as JSON for a reward function), the file ``engine: openrlhf`` itself hands OpenRLHF
  (:func:`write_prompt_dataset`).

Rows are read with :func:`redstar.tables.iter_jsonl`, so a damaged table stops with its file, line
and field, and files are written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from redstar.errors import InputError, RedStarError
from redstar.tables import iter_jsonl, write_json, write_table

FORMATS = ("llama-factory", "openrlhf", "jsonl")
PREFERENCE_FILE = "preference.jsonl"
ONLINE_FILE = "online.jsonl"
DATASET_INFO = "dataset_info.json"
IMAGE_TOKEN = "<image>"  # LLaMA-Factory's placeholder for one entry of ``images``
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt"}


def _run_table(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not run_dir.is_dir():
        raise RedStarError(f"{run_dir} is not a folder: give the run directory of `redstar run --out`")
    if not path.is_file():
        raise InputError(path, f"not found: run `redstar run --out {run_dir}` until the build stage writes it")
    return path


def _text_and_images(content: Any, path: Path, line: int, field: str) -> tuple[str, list[str]]:
    """A chat message's content as LLaMA-Factory's text, with one ``<image>`` token per image
    part (in place) and the images' paths."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise InputError(path, "content must be a string or a list of parts", line=line, field=field)
    texts, images = [], []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image" and isinstance(part.get("path") or part.get("image"), str):
            texts.append(IMAGE_TOKEN)
            # Run directories store images relative to themselves (redstar.media); the export
            # may be read from anywhere, so it names them absolutely.
            image = Path(part.get("path") or part.get("image")).expanduser()
            images.append(str(image if image.is_absolute() else path.resolve().parent / image))
        else:
            raise InputError(path, f"unknown content part {part!r:.60}", line=line, field=field)
    # Image first, then the question: LLaVA-style "<image>\nquestion".
    return "\n".join(texts), images


def _messages(row: Mapping[str, Any], key: str, path: Path, line: int) -> list[dict[str, Any]]:
    value = row.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value):
        raise InputError(path, "must be a non-empty list of chat messages", line=line, field=key)
    return value


def _single_reply(row: Mapping[str, Any], key: str, path: Path, line: int) -> dict[str, str]:
    """``chosen``/``rejected``: TRL's one assistant message -> LLaMA-Factory's one gpt message."""
    messages = _messages(row, key, path, line)
    if len(messages) != 1 or messages[0].get("role") != "assistant":
        raise InputError(path, "must be exactly one assistant message", line=line, field=key)
    text, images = _text_and_images(messages[0].get("content"), path, line, key)
    if images:
        raise InputError(path, "a reply cannot hold images", line=line, field=key)
    return {"from": "gpt", "value": text}


def llama_factory_row(row: Mapping[str, Any], path: Path, line: int) -> dict[str, Any]:
    """One ``preference.jsonl`` row in LLaMA-Factory's ShareGPT ranking format."""
    out: dict[str, Any] = {"conversations": []}
    images: list[str] = []
    for message in _messages(row, "prompt", path, line):
        role = message.get("role")
        text, found = _text_and_images(message.get("content"), path, line, "prompt")
        if role == "system":
            out["system"] = text
        elif role in SHAREGPT_ROLES:
            out["conversations"].append({"from": SHAREGPT_ROLES[role], "value": text})
            images += found
        else:
            raise InputError(path, f"unknown role {role!r}", line=line, field="prompt")
    if not out["conversations"] or out["conversations"][-1]["from"] != "human":
        raise InputError(path, "the prompt must end with a user turn", line=line, field="prompt")
    out["chosen"] = _single_reply(row, "chosen", path, line)
    out["rejected"] = _single_reply(row, "rejected", path, line)
    if images:
        out["images"] = images
    return out


def dataset_info_entry(file_name: str, system: bool, images: bool) -> dict[str, Any]:
    """The ``dataset_info.json`` entry that tells LLaMA-Factory how to read the exported file."""
    columns = {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}
    if system:
        columns["system"] = "system"
    if images:
        columns["images"] = "images"
    return {"file_name": file_name, "formatting": "sharegpt", "ranking": True, "columns": columns}


def write_llama_factory(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, int]:
    """Write ``preference.jsonl`` for LLaMA-Factory (a ``.json`` list, or JSON Lines for a
    ``.jsonl`` name) and add its entry (named after the file) to ``dataset_info.json`` beside it.
    Returns the file and the number of pairs."""
    run_dir = Path(run_dir)
    source = _run_table(run_dir, PREFERENCE_FILE)
    rows = [llama_factory_row(row, source, line) for line, row in iter_jsonl(source)]
    out = Path(out) if out is not None else run_dir / "export" / "llama-factory" / "redstar_preference.json"
    if out.suffix == ".jsonl":
        write_table(out, rows)
    else:
        write_json(out, rows)
    info_path = out.parent / DATASET_INFO
    info: dict[str, Any] = {}
    if info_path.exists():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(info_path, f"invalid JSON ({exc.msg}); fix it or export elsewhere", line=exc.lineno) from None
        if not isinstance(info, dict):
            raise InputError(info_path, "expected an object of dataset entries")
    info[out.stem] = dataset_info_entry(out.name, any("system" in r for r in rows), any("images" in r for r in rows))
    write_json(info_path, info)
    return out, len(rows)


def openrlhf_row(row: Mapping[str, Any]) -> dict[str, str]:
    """OpenRLHF's prompt dataset row: ``input`` is the chat (``--data.apply_chat_template``),
    ``label`` the row as JSON, which RedStar's reward module turns back into what the verifier
    needs."""
    label = {key: row.get(key) for key in ("prompt_id", "reference", "domain", "metadata")}
    label["prompt"] = row["prompt"]
    return {"input": row["prompt"], "label": json.dumps(label)}


def write_prompt_dataset(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Write online rows as OpenRLHF's prompt dataset (JSON Lines, atomically)."""
    return write_table(Path(path), [openrlhf_row(row) for row in rows])


def write_openrlhf(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, int]:
    """Write ``online.jsonl`` as OpenRLHF's prompt dataset. Returns the file and the row count."""
    run_dir = Path(run_dir)
    source = _run_table(run_dir, ONLINE_FILE)
    rows = []
    for line, row in iter_jsonl(source):
        _messages(row, "prompt", source, line)
        rows.append(row)
    out = Path(out) if out is not None else run_dir / "export" / "openrlhf" / "prompts.jsonl"
    return write_prompt_dataset(rows, out), len(rows)


def write_samples_jsonl(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, int]:
    """Write every sample with its verdict as JSON Lines, a shard at a time."""
    from redstar.pipeline.run_tables import SAMPLES, VERDICT_FIELDS, judged_rows
    from redstar.tables import streamed_table

    run_dir = Path(run_dir)
    if not (run_dir / SAMPLES).is_dir():
        raise RedStarError(f"{run_dir} has no sample table ({SAMPLES}/): is it a RedStar run that sampled?")
    out = Path(out) if out is not None else run_dir / "export" / "jsonl" / "samples.jsonl"
    count = 0
    with streamed_table(out) as write:
        batch: list[dict[str, Any]] = []
        for row, verdict in judged_rows(run_dir, unjudged=True):
            batch.append({**row, "verdict": None if verdict is None else {k: verdict[k] for k in VERDICT_FIELDS}})
            if len(batch) == 1024:
                write(batch)
                count, batch = count + len(batch), []
        write(batch)
        count += len(batch)
    return out, count


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> tuple[Path, int]:
    writers = {"llama-factory": write_llama_factory, "openrlhf": write_openrlhf, "jsonl": write_samples_jsonl}
    if fmt not in writers:
        raise RedStarError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](run_dir, out)


@click.command(name="export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="llama-factory: preference pairs (ShareGPT ranking) + dataset_info.json; "
                   "openrlhf: the online prompts as OpenRLHF's prompt dataset; "
                   "jsonl: every sample with its verdict as JSON Lines (for people and tools).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="File to write (default: RUN_DIR/export/llama-factory/redstar_preference.json, "
                   "RUN_DIR/export/openrlhf/prompts.jsonl or RUN_DIR/export/jsonl/samples.jsonl).")
@click.pass_context
def export(ctx: click.Context, run_dir: str, fmt: str, out: str | None) -> None:
    """Export a run's datasets for another trainer.

    \b
    Examples:
      redstar export runs/x --format llama-factory
      redstar export runs/x --format llama-factory --out ~/LLaMA-Factory/data/redstar_dpo.json
          (adds "redstar_dpo" to that folder's dataset_info.json: train with dataset: redstar_dpo,
           stage: dpo)
      redstar export runs/x --format openrlhf --out prompts.jsonl
          (then: --data.prompt_dataset prompts.jsonl --data.input_key input
           --data.label_key label --data.apply_chat_template)
      redstar export runs/x --format jsonl --out samples.jsonl
          (every sample with its verdict, one JSON object per line)
    """
    try:
        path, count = export_run(run_dir, fmt, out)
    except RedStarError as exc:
        if ctx.parent is not None:
            raise  # under `redstar`, whose group prints it cleanly (or in full with --debug)
        raise click.ClickException(str(exc)) from None
    what = {"llama-factory": "preference pairs", "openrlhf": "prompts", "jsonl": "samples"}[fmt]
    click.echo(f"wrote {count} {what} to {path}")
    if fmt == "llama-factory":
        click.echo(f"declared as {path.stem!r} in {path.parent / DATASET_INFO}")
