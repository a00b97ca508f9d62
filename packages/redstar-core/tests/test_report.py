"""The run report: per-group (per-level) scores in natural order, as a table and as a plot."""

import json
from collections import Counter

from redstar.report import group_order, write_report


def score(pass_at_1: float, by_group: dict[str, float]) -> dict:
    return {"pass_at_1": pass_at_1, "majority": pass_at_1, "truncated": 0,
            "by_group": {g: {"pass@1": v} for g, v in by_group.items()}}


def test_groups_sort_numbers_as_numbers():
    assert sorted(["level 10", "level 2", "level 1"], key=group_order) == ["level 1", "level 2", "level 10"]
    assert sorted(["b", "a"], key=group_order) == ["a", "b"]


def test_report_shows_scores_by_level_in_order_and_plots_them(tmp_path):
    summary = {
        "recipe": "r", "run_dir": str(tmp_path),
        "scores": {
            "base": {"heldout": score(0.1, {"level 10": 0.0, "level 2": 0.2, "level 1": 0.1})},
            "sft": {"heldout": score(0.4, {"level 10": 0.1, "level 2": 0.6, "level 1": 0.5})},
        },
    }
    md, page = write_report(tmp_path, summary)
    text = md.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| level")]
    assert rows == ["| level 1 | 0.100 | 0.500 |", "| level 2 | 0.200 | 0.600 |", "| level 10 | 0.000 | 0.100 |"]
    assert (tmp_path / "plots" / "scores_by_group.png").stat().st_size > 0
    assert "plots/scores_by_group.png" in text
    assert page.read_text().count("data:image/png;base64,") == 2  # scores and scores by group


def test_no_group_plot_without_groups(tmp_path):
    summary = {"recipe": "r", "run_dir": str(tmp_path),
               "scores": {"base": {"bench": {"pass_at_1": 0.5, "majority": 0.5, "truncated": 0}}}}
    write_report(tmp_path, summary)
    assert (tmp_path / "plots" / "scores.png").exists()
    assert not (tmp_path / "plots" / "scores_by_group.png").exists()


# -- what ran: provenance ---------------------------------------------------------------------

def test_describe_run_names_recipe_models_backends_versions_and_machine(tmp_path, arith_host):
    import hashlib

    import redstar
    from redstar.provenance import describe_run
    from redstar.recipe import dump, validate

    student = tmp_path / "student"
    student.mkdir()
    (student / "config.json").write_text("{}")
    recipe = validate({"name": "prov", "models": {"teacher": "org/some-teacher", "student": str(student)},
                       "sampling": {"backend": "scripted"}, "evaluation": {"backend": "transformers"}})
    info = describe_run(recipe, arith_host)
    assert info["recipe"] == {"name": "prov", "sha256": hashlib.sha256(dump(recipe).encode()).hexdigest()}
    assert info["teacher"] == {"spec": "org/some-teacher", "resolved": "org/some-teacher"}  # a hub id
    assert info["student"] == {"spec": str(student), "resolved": str(student)}
    assert info["backends"] == {"sampling": "scripted", "evaluation": "transformers"}
    assert info["redstar"] == redstar.__version__
    assert "arith" in [p["name"] for p in info["plugins"]]
    m = info["machine"]
    assert m["python"].count(".") == 2 and m["cpus"] >= 1 and m["hostname"]
    assert isinstance(m["cuda"], bool) and "torch" in m
    json.dumps(info)  # goes into summary.json as it is


def test_describe_run_never_fails_on_a_missing_model_or_a_broken_torch(tmp_path, arith_host, monkeypatch):
    import sys

    from redstar.provenance import describe_run
    from redstar.recipe import validate

    recipe = validate({"models": {"teacher": "embedded:no-such-model", "student": "./nowhere"}})
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    info = describe_run(recipe, arith_host)
    assert info["teacher"] == {"spec": "embedded:no-such-model", "resolved": None}
    assert info["student"]["resolved"] is None
    assert info["machine"]["torch"] is None and info["machine"]["cuda"] is False


def test_report_starts_with_what_ran(tmp_path):
    provenance = {
        "recipe": {"name": "r", "sha256": "ab" * 32},
        "teacher": {"spec": "embedded:tiny-teacher", "resolved": "/models/tiny-teacher"},
        "student": {"spec": "org/student", "resolved": "org/student"},
        "backends": {"sampling": "vllm", "evaluation": "transformers"},
        "redstar": "0.1.0",
        "plugins": [{"name": "math", "version": "0.3.0", "builtin": False},
                    {"name": "core:filters", "version": None, "builtin": True}],
        "machine": {"hostname": "box", "os": "Linux-6", "python": "3.11.7", "cpus": 2, "torch": "2.13.0",
                    "cuda": True, "gpu": "NVIDIA H100"},
        "time": "2026-12-02T10:00:00+00:00",
    }
    md, page = write_report(tmp_path, {"recipe": "r", "run_dir": str(tmp_path), "provenance": provenance})
    text = md.read_text()
    assert text.index("## What ran") < text.index("## Funnel")
    for expected in ("r (sha256 `abababababababab`)", "`embedded:tiny-teacher` (/models/tiny-teacher)",
                     "**student**: `org/student`\n", "sampling: vllm, evaluation: transformers",
                     "**RedStar**: 0.1.0", "math 0.3.0", "box: Linux-6, Python 3.11.7, 2 CPUs, torch 2.13.0, NVIDIA H100",
                     "2026-12-02T10:00:00+00:00"):
        assert expected in text
    assert "core:filters" not in text  # core's own parts carry RedStar's version
    assert "<h2>What ran</h2>" in page.read_text() and "NVIDIA H100" in page.read_text()


def test_report_without_provenance_has_no_what_ran(tmp_path):
    md, _ = write_report(tmp_path, {"recipe": "r", "run_dir": str(tmp_path)})
    assert "What ran" not in md.read_text()


def _overlaps(boxes):
    return [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]


def test_groups_are_bars_per_model_with_labels_that_do_not_overlap():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from redstar.report import _groups_figure

    subjects = ["algebra", "counting & probability", "geometry", "intermediate algebra", "number theory",
                "prealgebra", "precalculus"]
    many = [f"a rather long group name {i}" for i in range(24)]
    scores = {tag: {"subjects": score(0.5, {g: 0.1 * (i % 10) for i, g in enumerate(subjects)}),
                    "levels": score(0.5, {f"level {i}": 0.05 * i for i in range(1, 11)}),
                    "many": score(0.5, {g: 0.5 for g in many})}
              for tag in ("base", "sft", "dpo")}
    fig = _groups_figure(plt, scores, ["base", "sft", "dpo"], ["subjects", "levels", "many"])
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax, count in zip(fig.axes, (7, 10, 24)):
        assert not ax.lines  # no line joins unrelated groups
        assert len(ax.patches) == 3 * count  # one bar per model per group
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["base", "sft", "dpo"]
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert len(labels) == count
        assert not _overlaps([t.get_window_extent(renderer) for t in labels])
    assert fig.axes[1].get_xticklabels()[0].get_text() == "L1"
    plt.close(fig)


def test_difficulty_plot_shows_loaded_and_selected_with_each_domains_band(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from redstar.recipe import dump, validate
    from redstar.report import _bands, _difficulty_figure

    recipe = validate({"models": {"teacher": "t", "student": "s"},
                       "selection": {"min_level": 7, "max_level": 9, "domains": {"code": {"min_level": 3, "max_level": 8}}}})
    (tmp_path / "recipe.yaml").write_text(dump(recipe))
    bands = _bands(tmp_path)
    assert bands == {"*": (7.0, 9.0), "code": (3.0, 8.0)}
    scored = [{"domain": d, "difficulty": lvl} for d in ("math", "code") for lvl in range(1, 11) for _ in range(4)]
    selected = [r for r in scored if (r["domain"] == "math" and 7 <= r["difficulty"] <= 9)
                or (r["domain"] == "code" and 3 <= r["difficulty"] <= 8)][::2]
    def tally(rows):  # what the report counts while streaming the prompt tables
        return Counter((r["domain"], r["difficulty"]) for r in rows)

    fig = _difficulty_figure(plt, tally(scored), tally(selected), bands)
    code, math = fig.axes
    assert fig._suptitle.get_text() == "Difficulty: 80 prompts loaded, 18 selected"
    assert code.get_title() == "code: 40 loaded, 12 selected"
    assert math.get_title() == "math: 40 loaded, 6 selected"
    assert [t.get_text() for t in code.get_legend().get_texts()] == ["loaded (40)", "selected (12)", "band 3-8"]
    assert [t.get_text() for t in math.get_legend().get_texts()] == ["loaded (40)", "selected (6)", "band 7-9"]
    plt.close(fig)

    # one domain: one panel, the band shaded, both counts in the title; no recipe: no band
    one = [r for r in scored if r["domain"] == "math"]
    fig = _difficulty_figure(plt, tally(one), tally(r for r in selected if r["domain"] == "math"), None)
    (ax,) = fig.axes
    assert ax.get_title() == "Difficulty: 40 prompts loaded, 6 selected"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loaded (40)", "selected (6)"]
    plt.close(fig)
    fig = _difficulty_figure(plt, tally(one), tally([]), {"*": (7.0, 9.0)})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["loaded (40)", "selected (0)", "band 7-9"]
    plt.close(fig)


def test_report_draws_the_difficulty_plot_from_the_run_files(tmp_path):
    from redstar.recipe import dump, validate

    (tmp_path / "recipe.yaml").write_text(dump(validate({"models": {"teacher": "t", "student": "s"}})))
    rows = [{"domain": "math", "difficulty": lvl} for lvl in range(1, 11)]
    (tmp_path / "scored.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "selected.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[6:9]))
    md, _ = write_report(tmp_path, {"recipe": "r", "run_dir": str(tmp_path)})
    assert (tmp_path / "plots" / "difficulty.png").stat().st_size > 0
    assert "plots/difficulty.png" in md.read_text()
    (tmp_path / "recipe.yaml").write_text("models: [not, a, mapping]\n")  # an unreadable recipe shades nothing
    assert _bands_of(tmp_path) is None


def _bands_of(run_dir):
    from redstar.report import _bands

    return _bands(run_dir)


# -- uncertainty: intervals and paired comparisons ---------------------------------------------

def _eval_file(run, tag, evaluator, solved, total=40):
    """One sample per problem; the first ``solved`` problems are right."""
    path = run / "eval" / tag / f"{evaluator}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt_id": f"p{i}", "correct_count": int(i < solved),
                                        "samples": [{"correct": i < solved}]}) + "\n" for i in range(total)))


def _scored(p1, ci, groups=None):
    return {"pass_at_1": p1, "pass_at_1_ci": ci, "majority": p1, "majority_ci": ci, "truncated": 0,
            "by_group": {g: {"pass@1": v, "pass@1_ci": c} for g, (v, c) in (groups or {}).items()}}


def test_report_shows_intervals_and_marks_a_difference_within_noise(tmp_path):
    # geo: 0.150 -> 0.225 on 40 problems (three more right: noise); math: 0.1 -> 0.8 (real).
    for tag, geo, math in (("base", 6, 4), ("sft", 9, 32)):
        _eval_file(tmp_path, tag, "geo", geo)
        _eval_file(tmp_path, tag, "math", math)
    summary = {"recipe": "r", "run_dir": str(tmp_path), "scores": {
        "base": {"geo": _scored(0.15, [0.0706, 0.2916], {"angle": (0.2, [0.08, 0.42])}),
                 "math": _scored(0.1, [0.0396, 0.2303])},
        "sft": {"geo": _scored(0.225, [0.1232, 0.3755], {"angle": (0.3, [0.14, 0.52])}),
                "math": _scored(0.8, [0.6518, 0.8950])}}}
    md, page = write_report(tmp_path, summary)
    text = md.read_text()
    assert ("| geo | 0.150 [0.07, 0.29] (maj 0.150 [0.07, 0.29]; trunc 0) "
            "| 0.225 [0.12, 0.38] (maj 0.225 [0.12, 0.38]; trunc 0) |") in text
    assert "| angle | 0.200 [0.08, 0.42] | 0.300 [0.14, 0.52] |" in text
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith(("| geo | base", "| math | base"))}
    assert "+0.075" in rows["| geo"] and "McNemar exact" in rows["| geo"] and rows["| geo"].endswith("*within noise* |")
    assert "+0.700" in rows["| math"] and rows["| math"].endswith("| better |")
    assert "<em>within noise</em>" in page.read_text()
    assert (tmp_path / "plots" / "scores.png").stat().st_size > 0


def test_report_uses_the_summarys_comparisons_and_reads_old_summaries(tmp_path):
    stored = {"sft": {"bench": {"against": "base", "problems": 40, "difference": -0.3, "ci": [-0.45, -0.15],
                                "p_value": 0.001, "test": "mcnemar-exact", "within_noise": False,
                                "better": 1, "worse": 13}}}
    old = {"pass_at_1": 0.5, "majority": 0.5, "truncated": 0}  # written before intervals existed
    summary = {"recipe": "r", "run_dir": str(tmp_path), "comparisons": stored,
               "scores": {"base": {"bench": old}, "sft": {"bench": dict(old, pass_at_1=0.2)}}}
    text = write_report(tmp_path, summary)[0].read_text()  # no eval files: the stored comparison is used
    assert "| bench | 0.500 (maj 0.500; trunc 0) | 0.200 (maj 0.500; trunc 0) |" in text
    assert "| bench | base -> sft | -0.300 [-0.45, -0.15] | 0.001 (McNemar exact) | 1 / 13 of 40 | worse |" in text


def test_terminal_tables_show_intervals_and_comparisons(tmp_path):
    from rich.console import Console

    from redstar.report import print_summary

    _eval_file(tmp_path, "base", "bench", 6)
    _eval_file(tmp_path, "sft", "bench", 9)
    summary = {"recipe": "r", "run_dir": str(tmp_path), "scores": {
        "base": {"bench": _scored(0.15, [0.0706, 0.2916])}, "sft": {"bench": _scored(0.225, [0.1232, 0.3755])}}}
    console = Console(record=True, width=200)
    print_summary(summary, console)
    out = console.export_text()
    assert "0.150 [0.07, 0.29]" in out and "base -> sft" in out and "within noise" in out


def test_score_bars_carry_their_intervals():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from redstar.report import _groups_figure

    scores = {tag: {"levels": _scored(0.5, [0.4, 0.6], {"level 1": (v, [v - 0.1, v + 0.1]),
                                                        "level 2": (v, [v - 0.2, v + 0.2])})}
              for tag, v in (("base", 0.3), ("sft", 0.6))}
    fig = _groups_figure(plt, scores, ["base", "sft"], ["levels"])
    segments = [seg for c in fig.axes[0].collections for seg in c.get_segments()]  # one collection per model
    spans = sorted((round(float(s[0][1]), 2), round(float(s[1][1]), 2)) for s in segments)
    assert spans == [(0.1, 0.5), (0.2, 0.4), (0.4, 0.8), (0.5, 0.7)]
    plt.close(fig)
