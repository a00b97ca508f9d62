"""Copy the handful of real benchmark rows that redstar-geo ships as test fixtures and default
evaluator data, from the read-only fixtures in ../shared/data/benchmarks/geo.

    python tools/tiny_vlm/extract_geo_samples.py [--shared ../shared/data/benchmarks/geo]

Rows are copied verbatim in each benchmark's own format; attribution and licences are in
packages/redstar-geo/src/redstar_geo/assets/benchmarks/NOTICE.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "packages/redstar-geo/src/redstar_geo/assets/benchmarks"
GEOQA_IDS = [0, 1, 2, 3, 5, 6, 8, 10]
GEOMETRY3K_IDS = [2401, 2427, 2455, 2502, 2576, 2950]
# A mix of sources and languages, and pid 781 whose choices list "18" twice.
MATHVISTA_PIDS = ["3", "6", "30", "82", "94", "114", "150", "781"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/benchmarks/geo")
    shared = parser.parse_args().shared

    geoqa = OUT / "geoqa"
    (geoqa / "test").mkdir(parents=True, exist_ok=True)
    for name in ("test_questions.jsonl", "test_answers.jsonl"):
        rows = [line for line in (shared / "geoqa_test" / name).read_text(encoding="utf-8").splitlines()
                if json.loads(line)["question_id"] in GEOQA_IDS]
        (geoqa / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    for qid in GEOQA_IDS:
        # Stored where the rows' "image" field ("test/<id>.png") points.
        shutil.copyfile(shared / "geoqa_test/images" / f"{qid}.png", geoqa / "test" / f"{qid}.png")

    for number in GEOMETRY3K_IDS:
        source = shared / "geometry3k_test/mc_subset/test" / str(number)
        target = OUT / "geometry3k/test" / str(number)
        target.mkdir(parents=True, exist_ok=True)
        for name in ("data.json", "img_diagram_point.png"):
            shutil.copyfile(source / name, target / name)

    mathvista = OUT / "mathvista"
    (mathvista / "images").mkdir(parents=True, exist_ok=True)
    rows = json.loads((shared / "mathvista_testmini_geo/testmini.json").read_text(encoding="utf-8"))
    images = json.loads((shared / "mathvista_testmini_geo/subset_with_images.json").read_text(encoding="utf-8"))
    subset = {pid: rows[pid] for pid in MATHVISTA_PIDS}
    (mathvista / "testmini.json").write_text(json.dumps(subset, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for pid in MATHVISTA_PIDS:
        shutil.copyfile(shared / "mathvista_testmini_geo" / images[pid]["image"],
                        mathvista / "images" / Path(images[pid]["image"]).name)


if __name__ == "__main__":
    main()
