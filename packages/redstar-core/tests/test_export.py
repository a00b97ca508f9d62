"""`redstar export`: a run directory's preference pairs for LLaMA-Factory and its online prompts
for OpenRLHF, checked against each trainer's documented format."""

import json

import pytest
from click.testing import CliRunner

from redstar.cli import build_cli
from redstar.errors import InputError
from redstar.export import export, export_run, openrlhf_row
from redstar.tables import write_table

QUESTION = "What is 3 + 4?\nPut the final answer in \\boxed{}."
DIAGRAM_PROMPT = [{"role": "user", "content": [{"type": "image", "path": "/data/geo/0.png"},
                                               {"type": "text", "text": "Find angle 2.\nChoices:\nA: 40°\nB: 60°"}]}]


def write_run(run_dir):
    """A run directory in RedStar's formats (docs/records.md)."""
    user = [{"role": "user", "content": QUESTION}]
    write_table(run_dir / "sft.jsonl", [{"prompt_id": "math-1", "domain": "math", "difficulty": 7.0,
                                          "messages": user + [{"role": "assistant", "content": "\\boxed{7}"}]}])
    write_table(run_dir / "preference.jsonl", [
        {"prompt_id": "math-1", "domain": "math", "prompt": user,
         "chosen": [{"role": "assistant", "content": "<think>3+4</think> \\boxed{7}"}],
         "rejected": [{"role": "assistant", "content": "<think>3*4</think> \\boxed{12}"}]},
        {"prompt_id": "geo-2", "domain": "geo", "prompt": [{"role": "system", "content": "Think."}] + DIAGRAM_PROMPT,
         "chosen": [{"role": "assistant", "content": "Answer: B"}],
         "rejected": [{"role": "assistant", "content": "Answer: A"}]},
    ])
    write_table(run_dir / "online.jsonl", [
        {"prompt_id": "math-1", "domain": "math", "prompt": user, "reference": "7", "metadata": {"group": "algebra"}},
        {"prompt_id": "geo-2", "domain": "geo", "prompt": DIAGRAM_PROMPT, "reference": "B",
         "metadata": {"choices": {"A": "40°", "B": "60°"}}},
    ])
    return run_dir


def test_llama_factory_preference_format_and_dataset_info(tmp_path):
    run = write_run(tmp_path / "run")
    path, count = export_run(run, "llama-factory")
    assert count == 2 and path == run / "export" / "llama-factory" / "redstar_preference.json"
    rows = json.loads(path.read_text(encoding="utf-8"))
    assert rows[0] == {"conversations": [{"from": "human", "value": QUESTION}],
                       "chosen": {"from": "gpt", "value": "<think>3+4</think> \\boxed{7}"},
                       "rejected": {"from": "gpt", "value": "<think>3*4</think> \\boxed{12}"}}
    assert rows[1]["system"] == "Think." and rows[1]["images"] == ["/data/geo/0.png"]
    assert rows[1]["conversations"] == [{"from": "human", "value": "<image>\nFind angle 2.\nChoices:\nA: 40°\nB: 60°"}]
    info = json.loads((path.parent / "dataset_info.json").read_text())
    assert info == {"redstar_preference": {
        "file_name": "redstar_preference.json", "formatting": "sharegpt", "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected",
                    "system": "system", "images": "images"}}}


def test_llama_factory_keeps_the_other_entries_of_an_existing_dataset_info(tmp_path):
    run = write_run(tmp_path / "run")
    data = tmp_path / "LLaMA-Factory" / "data"
    data.mkdir(parents=True)
    (data / "dataset_info.json").write_text(json.dumps({"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}))
    path, _ = export_run(run, "llama-factory", data / "redstar_dpo.jsonl")
    assert [json.loads(line)["chosen"]["from"] for line in path.read_text().splitlines()] == ["gpt", "gpt"]
    info = json.loads((data / "dataset_info.json").read_text())
    assert set(info) == {"alpaca_en_demo", "redstar_dpo"}
    assert info["redstar_dpo"]["file_name"] == "redstar_dpo.jsonl" and info["redstar_dpo"]["ranking"] is True


def test_openrlhf_prompt_dataset_is_what_the_engine_writes(tmp_path):
    run = write_run(tmp_path / "run")
    path, count = export_run(run, "openrlhf", tmp_path / "prompts.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert count == 2 and rows[0]["input"] == [{"role": "user", "content": QUESTION}]
    assert json.loads(rows[0]["label"]) == {"prompt_id": "math-1", "reference": "7", "domain": "math",
                                            "metadata": {"group": "algebra"},
                                            "prompt": [{"role": "user", "content": QUESTION}]}
    online = [json.loads(line) for line in (run / "online.jsonl").read_text().splitlines()]
    assert rows == [openrlhf_row(r) for r in online]


def test_openrlhf_engine_uses_the_same_writer():
    openrlhf = pytest.importorskip("redstar_rl.openrlhf")
    from redstar import export as export_module

    assert openrlhf.write_prompt_dataset is export_module.write_prompt_dataset


@pytest.mark.parametrize(("table", "row", "field"), [
    ("preference.jsonl", {"prompt": [{"role": "user", "content": "q"}], "chosen": "yes",
                          "rejected": [{"role": "assistant", "content": "n"}]}, "chosen"),
    ("preference.jsonl", {"prompt": [{"role": "user", "content": "q"}],
                          "chosen": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}],
                          "rejected": [{"role": "assistant", "content": "n"}]}, "chosen"),
    ("preference.jsonl", {"prompt": [{"role": "tool", "content": "q"}], "chosen": [], "rejected": []}, "prompt"),
    ("online.jsonl", {"prompt": "q", "reference": "1"}, "prompt"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, table, row, field):
    run = write_run(tmp_path / "run")
    with (run / table).open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    with pytest.raises(InputError) as err:
        export_run(run, "llama-factory" if table == "preference.jsonl" else "openrlhf")
    assert (err.value.path, err.value.line, err.value.field) == (str(run / table), 3, field)


def test_cli_command_alone_and_under_redstar(tmp_path):
    run = write_run(tmp_path / "run")
    result = CliRunner().invoke(export, [str(run), "--format", "llama-factory"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 preference pairs" in result.output and "'redstar_preference'" in result.output
    missing = CliRunner().invoke(export, [str(tmp_path / "empty"), "--format", "openrlhf"])
    assert missing.exit_code == 1 and "not a folder" in missing.output
    help_text = CliRunner().invoke(export, ["--help"]).output
    assert "redstar export runs/x --format openrlhf" in help_text

    from redstar.plugins import Host

    cli = build_cli(Host())
    if "export" not in cli.commands:  # until the lead registers it in cli.py
        cli.add_command(export)
    (tmp_path / "bare").mkdir()
    under = CliRunner().invoke(cli, ["export", str(tmp_path / "bare"), "--format", "openrlhf"])
    assert under.exit_code == 1 and "online.jsonl" in under.output and "Traceback" not in under.output
    done = CliRunner().invoke(cli, ["export", str(run), "--format", "openrlhf", "--out", str(tmp_path / "p.jsonl")])
    assert done.exit_code == 0 and (tmp_path / "p.jsonl").exists()


def test_llama_factory_export_names_a_run_directorys_images_absolutely(tmp_path):
    from redstar.export import write_llama_factory

    run = tmp_path / "run"
    (run / "images").mkdir(parents=True)
    (run / "images" / "d1.png").write_bytes(b"png")
    row = {"prompt_id": "p", "domain": "geo",
           "prompt": [{"role": "user", "content": [{"type": "image", "path": "images/d1.png"},
                                                   {"type": "text", "text": "Which?"}]}],
           "chosen": [{"role": "assistant", "content": "Answer: A"}],
           "rejected": [{"role": "assistant", "content": "Answer: B"}]}
    (run / "preference.jsonl").write_text(json.dumps(row) + "\n")
    out = tmp_path / "elsewhere" / "pref.jsonl"
    written, count = write_llama_factory(run, out)
    first = json.loads(written.read_text().splitlines()[0])
    assert count == 1 and first["images"] == [str(run / "images" / "d1.png")]
