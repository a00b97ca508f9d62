"""Run OpenRLHF 0.11.2's own advantage computation on given tensors, for
``test_openrlhf_estimators.py``: ``python openrlhf_advantages.py SITE IN OUT FLAGS...``.

``SITE`` is the folder holding the ``openrlhf`` package (a ``--no-deps`` install: the
interpreter running this must bring torch and transformers); ``FLAGS`` are ``train_ppo_ray``'s
flags, parsed and validated by OpenRLHF's own parser (``openrlhf_parse_args.parse``). ``IN`` is a
``torch.save``'d dict of ``scores`` [n], ``kl``, ``values`` and ``mask`` [n, T], with a prompt's
responses consecutive, as OpenRLHF orders them. The samples are cut into experiences of
``--rollout.micro_batch_size`` rows, as ``RemoteExperienceMaker.split_rollout_samples`` does, and
handed to ``RemoteExperienceMaker.compute_advantages_and_returns`` itself; ``OUT`` gets its
``advantages`` and ``returns``, concatenated back.
"""

import sys
import types
from types import SimpleNamespace


def main():
    site, source, target, *flags = sys.argv[1:]
    sys.path.append(site)
    import torch
    from openrlhf_parse_args import parse, stub

    args = parse(flags)
    # Modules the advantage code's imports reach and that need a GPU stack: stand-ins.
    stub("deepspeed", utils=types.SimpleNamespace(set_z3_leaf_modules=lambda *a, **k: None))
    stub("openrlhf.models", __path__=[str(__import__("pathlib").Path(site) / "openrlhf" / "models")])
    from openrlhf.trainer.ppo_utils.experience_maker import RemoteExperienceMaker

    data = torch.load(source)
    maker = object.__new__(RemoteExperienceMaker)
    maker.strategy = SimpleNamespace(args=args)
    maker.args = args
    maker.advantage_estimator = args.algo.advantage.estimator
    maker.kl_ctl = SimpleNamespace(value=args.algo.kl.init_coef)
    size = args.rollout.micro_batch_size
    experiences = []
    for start in range(0, len(data["scores"]), size):
        rows = slice(start, start + size)
        experiences.append(SimpleNamespace(
            rewards=data["scores"][rows].clone(), index=list(range(start, min(start + size, len(data["scores"])))),
            kl=data["kl"][rows].clone(), action_mask=data["mask"][rows].clone(), values=data["values"][rows].clone(),
            info={}))
    done = maker.compute_advantages_and_returns(experiences)
    torch.save({"advantages": torch.cat([e.advantages for e in done]),
                "returns": torch.cat([e.returns for e in done])}, target)


if __name__ == "__main__":
    main()
