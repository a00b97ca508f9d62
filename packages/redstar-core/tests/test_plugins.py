import importlib
import sys
import textwrap

import pytest

from redstar import hookimpl
from redstar.errors import PluginError
from redstar.interfaces import Scorer
from redstar.plugins import DuplicateRegistration, Host


def make_dist(site, dist_name, entry_name, module_name, module_source):
    """Install a real (tiny) distribution with a `redstar` entry point on a temporary path."""
    info = site / f"{dist_name.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[redstar]\n{entry_name} = {module_name}\n")
    (site / f"{module_name}.py").write_text(textwrap.dedent(module_source))
    importlib.invalidate_caches()


GOOD_PLUGIN = """
from redstar import hookimpl
from redstar.interfaces import Scorer

class Constant(Scorer):
    name = "constant-five"
    def score(self, prompts):
        return [5.0 for _ in prompts]

@hookimpl
def redstar_register_scorers(register):
    register(Constant)
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("REDSTAR_PLUGINS", raising=False)
    yield tmp_path
    for name in ("rs_good_plugin", "rs_broken_plugin", "rs_raising_plugin"):
        sys.modules.pop(name, None)


def test_entry_points_load_and_a_broken_plugin_is_named(site):
    make_dist(site, "redstar-good", "good", "rs_good_plugin", GOOD_PLUGIN)
    make_dist(site, "redstar-broken", "broken", "rs_broken_plugin", "raise ImportError('needs libfoo')\n")
    host = Host(allow=["good", "broken"])
    assert host.get("scorers", "constant-five").__name__ == "Constant"
    assert "broken" in host.failures and "needs libfoo" in host.failures["broken"]
    assert host.infos["good"].version == "1.2.3"
    assert host.infos["good"].provides == {"scorers": ["constant-five"]}


def test_a_plugin_whose_hook_raises_is_named_and_others_still_register(site):
    make_dist(site, "redstar-good", "good", "rs_good_plugin", GOOD_PLUGIN)
    make_dist(site, "redstar-raising", "raising", "rs_raising_plugin", """
        from redstar import hookimpl
        @hookimpl
        def redstar_register_scorers(register):
            raise RuntimeError("boom")
    """)
    host = Host(allow=["good", "raising"])
    assert "constant-five" in host.names("scorers")
    assert "boom" in host.failures["raising"]


def test_allowlist_env_limits_what_loads(site, monkeypatch):
    make_dist(site, "redstar-good", "good", "rs_good_plugin", GOOD_PLUGIN)
    monkeypatch.setenv("REDSTAR_PLUGINS", "something-else")
    host = Host()
    assert "good" not in host.infos
    assert "not installed" in host.failures["something-else"]


def test_same_name_from_two_plugins_is_an_error_naming_both_when_used(redstar_host, register_plugin):
    class A(Scorer):
        name = "dup"

        def score(self, prompts):
            return []

    class P1:
        @hookimpl
        def redstar_register_scorers(self, register):
            register(A)

    class P2(P1):
        pass

    register_plugin(P1(), name="one")
    register_plugin(P2(), name="two")
    # The registry builds (so `redstar plugins` can list both); asking for the name is the error.
    assert redstar_host.registry.duplicates == {("scorers", "dup"): ["one", "two"]}
    with pytest.raises(DuplicateRegistration, match="scorer 'dup' is registered by both 'one' and 'two'") as info:
        redstar_host.get("scorers", "dup")
    assert isinstance(info.value, PluginError)
    assert (info.value.key, info.value.plugins) == ("dup", ("one", "two"))


def test_a_plugins_own_error_is_its_failure_whatever_its_text(redstar_host, register_plugin):
    # Duplicates are recognised by type: a plugin's own error that happens to read like one is
    # that plugin's failure, and the host keeps going.
    class Wordy:
        @hookimpl
        def redstar_register_scorers(self, register):
            raise PluginError("thing 'x' is registered by both 'a' and 'b'")

    register_plugin(Wordy(), name="wordy")
    assert "given" in redstar_host.names("scorers")
    assert "registered by both" in redstar_host.failures["wordy"]


def test_unknown_name_lists_what_is_registered(redstar_host):
    with pytest.raises(PluginError, match="registered: given"):
        redstar_host.get("scorers", "nope")


def test_builtins_register_through_the_public_hooks(redstar_host):
    # core's own features are plugins too: they show up with a `core:` name
    assert redstar_host.infos["core:scorers"].builtin
    assert "given" in redstar_host.infos["core:scorers"].provides["scorers"]
    assert {"repetition", "language"} <= set(redstar_host.names("filters"))


def _trainer(trainer_name):
    from redstar.interfaces import Trainer

    class Named(Trainer):  # only its registered name matters to the default RL steps
        name = trainer_name
        kind = "preference"

        def train(self, ctx):
            raise NotImplementedError

    return Named


class ProposesRL:
    def __init__(self, steps, registers=()):
        self.steps, self.registers = steps, registers

    @hookimpl
    def redstar_default_rl(self):
        return self.steps

    @hookimpl
    def redstar_register_trainers(self, register):
        for name in self.registers:
            register(_trainer(name))


def test_default_rl_keeps_only_steps_whose_trainer_is_registered(redstar_host, register_plugin):
    assert redstar_host.default_rl() == []
    register_plugin(ProposesRL([{"trainer": "mine", "options": {"beta": 1}}]), name="unregistered")
    assert redstar_host.default_rl() == []  # "mine" is registered by nobody
    register_plugin(ProposesRL(None, registers=["mine"]), name="trainers")
    assert redstar_host.default_rl() == [{"trainer": "mine", "options": {"beta": 1}}]


def test_default_rl_from_two_plugins_must_agree(redstar_host, register_plugin):
    step = {"trainer": "mine", "options": {}}
    register_plugin(ProposesRL([step], registers=["mine"]), name="one")
    register_plugin(ProposesRL([dict(step)]), name="same")
    assert redstar_host.default_rl() == [step]
    register_plugin(ProposesRL([{"trainer": "mine", "options": {"beta": 2}}]), name="other")
    with pytest.raises(PluginError, match="plugins '.+' and '.+' propose different default RL steps"):
        redstar_host.default_rl()


def test_a_failed_plugin_proposes_no_rl(redstar_host, register_plugin):
    class Broken(ProposesRL):
        @hookimpl
        def redstar_register_trainers(self, register):
            raise ImportError("needs libfoo")

    register_plugin(ProposesRL(None, registers=["mine"]), name="trainers")
    register_plugin(Broken([{"trainer": "mine", "options": {}}]), name="broken")
    assert redstar_host.default_rl() == []
    assert "needs libfoo" in redstar_host.failures["broken"]
