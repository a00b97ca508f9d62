"""Run OpenRLHF 0.11.2's own ``train_ppo_ray`` argument parsing and validation on the flags given,
without Ray, DeepSpeed or a GPU; print the parsed arguments as JSON, or exit 2 with argparse's
error. Run with the interpreter of a venv that has ``openrlhf==0.11.2`` installed (``--no-deps``
is enough).

The parser is built inside the script's ``if __name__ == "__main__":`` block, so it cannot be
imported: the script's source runs as ``__main__`` with the heavy modules it imports stubbed,
and its ``train(args)`` stops at the first thing it does after ``ray.init`` (``get_strategy``),
handing back the validated arguments.
"""

import importlib.util
import json
import sys
import types
from pathlib import Path


class Parsed(Exception):
    def __init__(self, args):
        self.args_ = args


def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def parse(argv):
    """OpenRLHF 0.11.2's parsed and validated arguments for ``argv`` (its flags), as a namespace;
    exits 2 with argparse's error on a flag it does not know. The modules it would import are
    stubbed, which stays in ``sys.modules`` for the caller (``openrlhf_advantages.py``)."""
    root = Path(importlib.util.find_spec("openrlhf").origin).parent
    anything = object
    stub("ray", is_initialized=lambda: True, init=lambda **k: None)
    stub("ray.util")
    stub("ray.util.placement_group", placement_group=lambda *a, **k: None)
    stub("openrlhf.trainer", __path__=[str(root / "trainer")])
    stub("openrlhf.trainer.ray", create_vllm_engines=anything)
    stub("openrlhf.trainer.ray.launcher", RayActorGroup=anything, ReferenceModelActor=anything,
         RewardModelActor=anything)
    stub("openrlhf.trainer.ray.ppo_actor", PolicyModelActor=anything)
    stub("openrlhf.trainer.ray.ppo_critic", CriticModelActor=anything)

    def get_strategy(args):
        raise Parsed(args)

    # The real openrlhf.utils imports torch and DeepSpeed; keep its folder for utils.config.
    stub("openrlhf.utils", __path__=[str(root / "utils")], get_strategy=get_strategy)

    source = (root / "cli" / "train_ppo_ray.py").read_text()
    sys.argv = ["train_ppo_ray", *argv]
    try:
        exec(compile(source, "train_ppo_ray.py", "exec"), {"__name__": "__main__"})
    except Parsed as done:
        return done.args_
    raise SystemExit("train_ppo_ray returned without reaching get_strategy")


def main():
    print(json.dumps(flatten(parse(sys.argv[1:])), default=str))


def flatten(namespace, prefix=""):
    out = {}
    for key, value in vars(namespace).items():
        if isinstance(value, types.SimpleNamespace):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


if __name__ == "__main__":
    main()
