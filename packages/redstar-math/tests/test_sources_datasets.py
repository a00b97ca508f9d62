"""Math sources read the datasets as users hold them (save_to_disk folders, .arrow shards, Parquet,
JSON Lines saved as .json, hub-style folders), in the real schemas of MetaMathQA, NuminaMath-CoT,
MATH and GSM8K, and pass the hub options (config name, data files, revision, streaming) through."""

import pytest

from redstar.errors import InputError, RedStarError
from redstar_math.sources import GSM8KSource, MATHSource, MathTableSource, MetaMathSource, NuminaMathSource

datasets = pytest.importorskip("datasets")

METAMATH = [  # MetaMathQA's columns: type, query, original_question, response
    {"type": "GSM_Rephrased", "query": "Tom has 3 apples and buys 4 more. How many?",
     "original_question": "Tom has 3 apples...", "response": "3 + 4 = 7.\nThe answer is: 7"},
    {"type": "MATH_AnsAug", "query": "What is $2^5$?", "original_question": "What is $2^5$?",
     "response": "$2^5 = \\boxed{32}$.\nThe answer is: 32"},
]
NUMINA = [  # NuminaMath-CoT's columns: source, problem, solution, messages
    {"source": "olympiads", "problem": "Find $x$ if $2x = 10$.", "solution": "So $x = \\boxed{5}$.",
     "messages": [{"role": "user", "content": "Find $x$ if $2x = 10$."},
                  {"role": "assistant", "content": "So $x = \\boxed{5}$."}]},
    {"source": "cn_k12", "problem": "Compute $1+1$.", "solution": "$\\boxed{2}$",
     "messages": [{"role": "user", "content": "Compute $1+1$."}, {"role": "assistant", "content": "$\\boxed{2}$"}]},
]


def questions(source):
    return [p.question for p in source.load()]


def test_metamath_from_a_save_to_disk_folder_and_its_arrow_shard(tmp_path):
    datasets.Dataset.from_list(METAMATH).save_to_disk(str(tmp_path / "metamath"))
    prompts = list(MetaMathSource(str(tmp_path / "metamath")).load())
    assert [(p.reference, p.metadata["type"]) for p in prompts] == [("7", "GSM_Rephrased"), ("32", "MATH_AnsAug")]
    shard = next((tmp_path / "metamath").glob("*.arrow"))
    assert questions(MetaMathSource(str(shard))) == [r["query"] for r in METAMATH]


def test_numinamath_from_a_dataset_dict_folder_picks_the_split(tmp_path):
    dd = datasets.DatasetDict(train=datasets.Dataset.from_list(NUMINA), test=datasets.Dataset.from_list(NUMINA[1:]))
    dd.save_to_disk(str(tmp_path / "numina"))
    assert [p.reference for p in NuminaMathSource(str(tmp_path / "numina")).load()] == ["5", "2"]
    assert [p.metadata["source"] for p in NuminaMathSource(str(tmp_path / "numina"), split="test").load()] == ["cn_k12"]


def test_numinamath_parquet_and_json_lines_saved_as_json(tmp_path):
    datasets.Dataset.from_list(NUMINA).to_parquet(str(tmp_path / "n.parquet"))
    datasets.Dataset.from_list(NUMINA).to_json(str(tmp_path / "n.json"))
    for name in ("n.parquet", "n.json"):
        kept = NuminaMathSource(str(tmp_path / name), sources=["olympiads"]).load()
        assert [p.reference for p in kept] == ["5"]


def test_a_bad_row_of_a_binary_table_names_the_row_and_field(tmp_path):
    rows = METAMATH + [{"type": "x", "query": "q", "original_question": "q", "response": "no final answer"}]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(InputError) as err:
        list(MetaMathSource(str(tmp_path / "saved")).load())
    assert (err.value.line, err.value.field) == (3, "response")


def write_math_hub_folder(root):
    """hendrycks_math's layout: one config per subject, each with train and test files."""
    for subject, level in (("algebra", "Level 2"), ("geometry", "Level 5")):
        (root / subject).mkdir(parents=True)
        row = {"problem": f"A {subject} problem", "level": level, "type": subject.title(),
               "solution": "It is $\\boxed{3}$."}
        for split in ("train", "test"):
            datasets.Dataset.from_list([row]).to_parquet(str(root / subject / f"{split}-00000-of-00001.parquet"))
    configs = "".join(f"- config_name: {s}\n  data_files:\n  - split: train\n    path: {s}/train-*\n"
                      f"  - split: test\n    path: {s}/test-*\n" for s in ("algebra", "geometry"))
    (root / "README.md").write_text(f"---\nconfigs:\n{configs}---\n")


def test_math_hub_style_folder_takes_the_config_name(tmp_path):
    write_math_hub_folder(tmp_path / "hendrycks_math")
    prompts = list(MATHSource(str(tmp_path / "hendrycks_math"), name="geometry", split="test").load())
    assert [(p.question, p.difficulty) for p in prompts] == [("A geometry problem", 7.0)]
    only = MATHSource(str(tmp_path / "hendrycks_math"), data_files={"train": "algebra/train-*"}).load()
    assert [p.question for p in only] == ["A algebra problem"]


def test_gsm8k_and_table_sources_pass_hub_options(monkeypatch):
    seen = []

    def fake_load_dataset(path, **kwargs):
        seen.append((path, kwargs))
        return iter([{"question": "Two plus two?", "answer": "2 + 2 = 4\n#### 4"}] * 5)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    prompts = list(GSM8KSource("openai/gsm8k", name="main", revision="abc123", streaming=True, limit=2).load())
    assert [p.reference for p in prompts] == ["4", "4"]
    assert seen == [("openai/gsm8k", {"name": "main", "revision": "abc123", "split": "train", "streaming": True})]
    table = MathTableSource("org/t", answer_format="gsm8k", data_files=["a.parquet"])
    assert [p.reference for p in table.load()] == ["4"] * 5
    assert seen[1][1]["data_files"] == ["a.parquet"]


def test_bad_hub_options_are_rejected_when_the_source_is_built():
    with pytest.raises(RedStarError, match="metamath: option 'streaming'"):
        MetaMathSource("meta-math/MetaMathQA", streaming="yes")
    with pytest.raises(RedStarError, match="numinamath: option 'name'"):
        NuminaMathSource("AI-MO/NuminaMath-CoT", name=["default"])
