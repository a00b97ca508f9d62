"""Plugin options are checked and described where they are declared: values against the
constructor's type hints (pydantic), defaults too, and each option's description from the
class's Google-style ``Args:`` section (inherited along the MRO and from option dataclasses)."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from redstar import hookimpl
from redstar.errors import RecipeError
from redstar.interfaces import Source
from redstar.plugin_options import describe_options, google_args, option_docs, option_problems
from redstar.records import Prompt

DOC = '''Reads prompts.

    Some prose about ``count`` that is not its description.

    Args:
        count (int): How many prompts to read,
            at most.
        mode: Strict or lenient.

            A second paragraph of the same option.
        paths: Where to read.

    Returns:
        nothing: Not an option.
    '''


def test_google_args_reads_each_entry_with_its_continuation_lines_and_stops_at_the_next_section():
    assert google_args(DOC) == {
        "count": "How many prompts to read, at most.",
        "mode": "Strict or lenient. A second paragraph of the same option.",
        "paths": "Where to read.",
    }
    assert google_args(None) == {} and google_args("No sections at all.") == {}


@dataclass(frozen=True)
class SharedOptions:
    """Options every subclass hands over as one.

    Args:
        rate: How fast it goes, in steps per second.
    """

    rate: float
    depth: int = field(default=1, metadata={"doc": "How deep it goes."})


class Base(Source):
    """A base.

    Args:
        count: Described on the base.
        mode: Described on the base, and again on the subclass.
    """

    def __init__(self, options: SharedOptions) -> None:
        self.options = options


class Child(Base):
    """A subclass.

    Args:
        mode: Described on the subclass.
    """

    name = "child"
    domain = "toy"

    def __init__(self, count: int = 3, mode: str = "strict", rate: float = 1.0, depth: int = 1,
                 unexplained: bool = False) -> None:
        super().__init__(SharedOptions(rate=rate, depth=depth))

    def load(self):
        return []


def test_descriptions_come_from_the_class_then_its_bases_then_the_option_dataclasses_they_take():
    assert option_docs(Child) == {"mode": "Described on the subclass.", "count": "Described on the base.",
                                  "rate": "How fast it goes, in steps per second.", "depth": "How deep it goes."}
    assert {o["name"]: o["doc"] for o in describe_options(Child)}["unexplained"] is None
    assert option_docs(SharedOptions) == {"rate": "How fast it goes, in steps per second.", "depth": "How deep it goes."}


class Typed(Source):
    """Typed options.

    Args:
        count: A count.
        ratio: A ratio.
        where: A path.
        pair: Two names.
        mode: One of two modes.
        names: Some names.
        anything: Anything at all.
    """

    name = "typed"
    domain = "toy"

    def __init__(self, count: int = 1, ratio: float = 0.5, where: Path | None = None, pair: tuple[str, str] = ("a", "b"),
                 mode: Literal["fast", "slow"] = "fast", names: list[str] | None = None, anything=None) -> None:
        pass

    def load(self):
        return []


@pytest.mark.parametrize(("options", "bad"), [
    ({"count": 3, "ratio": 1, "where": "data/x.jsonl", "pair": ["x", "y"], "mode": "slow", "names": ["a"],
      "anything": {"any": [1, "thing"]}}, []),
    ({"count": "3"}, ["count"]),  # a string is not an integer, even one that reads as one
    ({"count": 2.0}, ["count"]),
    ({"count": True}, ["count"]),  # nor is a boolean
    ({"ratio": "half"}, ["ratio"]),
    ({"mode": "medium"}, ["mode"]),
    ({"pair": ["x"]}, ["pair"]),
    ({"names": ["a", 3]}, ["names"]),
    ({"where": 7}, ["where"]),
])
def test_recipe_values_are_checked_against_the_type_hints_as_yaml_writes_them(options, bad):
    problems = option_problems(Typed, options)
    assert [name for name, _, _ in problems] == bad
    for _, message, plugin_fault in problems:
        assert message.startswith("must be ") and not plugin_fault


class BrokenDefault(Source):
    """A source whose default does not match its own type hint.

    Args:
        count: How many prompts.
        since: A hint nothing can resolve.
    """

    name = "broken-default"
    domain = "arith"

    def __init__(self, count: int = "many", since: "NoSuchType | None" = None) -> None:  # noqa: F821
        self.count = count

    def load(self):
        return [Prompt(domain="arith", source=self.name, question="1 + 1?", reference="2", difficulty=5)]


@pytest.fixture
def broken_host(arith_host, register_plugin):
    class Plugin:
        @hookimpl
        def redstar_register_sources(self, register):
            register(BrokenDefault)

    register_plugin(Plugin(), name="broken")
    return arith_host


def test_a_default_of_the_wrong_type_is_reported_by_plugins_options(invoke_cli, broken_host):
    rows = json.loads(invoke_cli(["plugins", "--json", "broken"]).output)
    options = {o["name"]: o for o in rows[0]["classes"]["sources"]["broken-default"]["options"]}
    assert options["count"]["problem"] == "its default 'many' is not of its declared type int"
    assert options["since"]["problem"].startswith("its type hint 'NoSuchType | None' cannot be resolved")
    # a component's name works as well as the plugin's; wide, so that no cell wraps
    text = invoke_cli(["plugins", "--options", "broken-default"], env={"COLUMNS": "400"}).output
    assert "How many prompts. PROBLEM: its default 'many' is not of its declared type int" in text


def test_a_default_of_the_wrong_type_fails_the_check_as_the_plugins_fault(tmp_path, invoke_cli, broken_host):
    path = tmp_path / "r.yaml"
    path.write_text("models: {teacher: scripted-teacher, student: scripted-student}\n"
                    "sources:\n  - name: broken-default\n")
    result = invoke_cli(["recipe", "check", str(path)], expect_exit=1)
    assert f"{path}:3: sources[0]: BrokenDefault declares the option 'count' wrongly: its default 'many' is not " \
           "of its declared type int (a fault of the plugin" in " ".join(result.output.split())
    path.write_text("models: {teacher: scripted-teacher, student: scripted-student}\n"
                    "sources:\n  - name: broken-default\n    options: {count: 4}\n")
    invoke_cli(["recipe", "check", str(path)])  # set in the recipe, the bad default does not matter


def test_the_run_preflight_checks_option_types_too(tmp_path, arith_host):
    from redstar.pipeline.runner import run_pipeline
    from redstar.recipe import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text("models: {teacher: scripted-teacher, student: scripted-student}\n"
                    "sources: [{name: arith-gen, options: {count: 12, seed: zero}}]\n")
    out = tmp_path / "run"
    with pytest.raises(RecipeError, match=r"r.yaml:2: sources\[0\].options.seed: must be int, got str 'zero'"):
        run_pipeline(load_recipe(path), out, arith_host)
    assert not out.exists()  # checked before the run directory is even created
