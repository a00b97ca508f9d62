"""Every option of every built-in plugin class, in all five packages, is described in whole
sentences by the Google-style ``Args:`` section of its class (or a base class, or the option
dataclass the base takes), and is declared soundly: its default matches its type hint. This is
what ``redstar plugins --options`` prints, so a new option without a description fails here."""

import re

import pytest

from redstar.plugin_options import describe_options, option_specs
from redstar.plugins import Host

PACKAGES = {"redstar", "redstar_math", "redstar_code", "redstar_geo", "redstar_rl"}
#: A whole sentence: it starts with a capital letter (or a literal, or a number) and ends with a
#: full stop, a question mark or an exclamation mark (a closing bracket or quote may follow).
SENTENCE = re.compile(r"[A-Z`0-9\"'(].*[.?!][)\"']?", re.S)


def builtin_classes():
    host = Host()
    found = [(f"{kind[:-1]} {key!r}", cls) for kind, items in host.registry.items.items()
             for key, cls in items.items() if cls.__module__.split(".")[0] in PACKAGES]
    # The option dataclasses the trainers hand their shared options to.
    from redstar.trainers.settings import HFOptions
    from redstar_rl.online import OnlineOptions

    found += [("option class HFOptions", HFOptions), ("option class OnlineOptions", OnlineOptions)]
    return host, found


def test_every_package_registers_its_classes():
    host, found = builtin_classes()
    assert not host.failures, host.failures
    assert {cls.__module__.split(".")[0] for _, cls in found} == PACKAGES
    assert len(found) > 40


@pytest.mark.parametrize(("what", "cls"), builtin_classes()[1], ids=lambda x: x if isinstance(x, str) else "")
def test_every_option_is_described_in_whole_sentences(what, cls):
    bad = []
    for option in describe_options(cls):
        doc = option["doc"]
        if not doc:
            bad.append(f"{option['name']}: no description")
        elif not SENTENCE.fullmatch(doc):
            bad.append(f"{option['name']}: not a whole sentence: {doc!r}")
        elif doc.startswith(("- ", "* ")) or "``" in doc:
            bad.append(f"{option['name']}: not plain text: {doc!r}")
    assert not bad, f"{what} ({cls.__module__}.{cls.__qualname__}):\n" + "\n".join(bad)


@pytest.mark.parametrize(("what", "cls"), builtin_classes()[1], ids=lambda x: x if isinstance(x, str) else "")
def test_every_option_is_declared_soundly(what, cls):
    problems = [f"{spec.name}: {spec.problem}" for spec in option_specs(cls) if spec.problem]
    assert not problems, f"{what} ({cls.__module__}.{cls.__qualname__}): {problems}"
