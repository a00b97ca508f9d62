"""Rebuild the benchmark samples shipped in ``src/redstar_math/data/`` from the full test sets.

    python packages/redstar-math/tools/build_samples.py /path/to/benchmarks

``/path/to/benchmarks`` holds ``<name>/test.jsonl`` as in Qwen2.5-Math's ``evaluation/data`` (plus
MATH with levels). Rows are picked deterministically, spread over each set's subjects; fields the
evaluators do not read (long worked solutions of AIME/OlympiadBench) are left out. Sources and
licences are listed in ``src/redstar_math/data/NOTICE.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "redstar_math" / "data"


def read(root: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (root / name / "test.jsonl").open(encoding="utf-8")]


def spread(rows: list[dict], count: int) -> list[dict]:
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def by_group(rows: list[dict], key: str, per_group: int) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(str(row[key]), []).append(row)
    return [row for name in sorted(groups) for row in spread(groups[name], per_group)]


def keep(rows: list[dict], fields: list[str]) -> list[dict]:
    return [{f: row[f] for f in fields if f in row} for row in rows]


def write(name: str, rows: list[dict]) -> None:
    with (OUT / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)} rows")


def main(root: Path) -> None:
    math_rows = read(root, "math")
    hard = [r for r in math_rows if r["level"] == "Level 5"]
    write("math_hard_sample", keep(by_group(hard, "type", 2), ["unique_id", "problem", "level", "type", "solution", "answer"]))
    write("math500_sample", keep(spread(read(root, "math500"), 10),
                                 ["unique_id", "problem", "solution", "answer", "subject", "level"]))
    write("aime24_sample", keep(spread(read(root, "aime24"), 10), ["id", "problem", "answer", "url"]))
    write("amc23_sample", keep(spread(read(root, "amc23"), 10), ["id", "problem", "answer", "url"]))
    write("gsm8k_sample", keep(spread(read(root, "gsm8k"), 10), ["idx", "question", "answer"]))
    write("olympiadbench_sample", keep(by_group(read(root, "olympiadbench"), "subfield", 3),
                                       ["id", "subfield", "question", "final_answer", "is_multiple_answer", "unit",
                                        "answer_type"]))
    # Only rows whose textbook licence is CC BY (no NC/SA/no-alteration terms) are shipped.
    cc_by = [r for r in read(root, "college_math") if "(CC BY" in r["license"] and "Non" not in r["license"]]
    write("college_math_sample", keep(by_group(cc_by, "data_topic", 5),
                                      ["data_source", "question_number", "question", "answer", "license", "data_topic"]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
