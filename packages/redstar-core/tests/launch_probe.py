"""One rank of a multi-process ``redstar`` launch, with probes, for test_multiprocess_train.py:

    accelerate launch --multi_gpu --num_processes 2 launch_probe.py PROBE_DIR train --run RUN

runs the real ``redstar`` command line (``redstar.cli.main``) with the test's arith plugin
registered as the test process registers it (so the run's fingerprints agree), and appends to
``PROBE_DIR/rank-<RANK>.jsonl`` one line per event the test checks: the run lock taken, a stage
begun or finished, a run file written, each optimizer step trained, and, after training, the
steps, a digest of the weights this rank holds and the Arrow files its training set maps.
``PROBE_FAIL_AT_STEP=N`` makes rank 0 raise right after optimizer step N, as a crash
mid-training would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

RANK = int(os.environ.get("RANK", "0"))


def record(event: str, **fields: Any) -> None:
    # The probe directory is read per call: the test process imports this module for
    # weights_digest, and its sys.argv is pytest's.
    with (Path(sys.argv[1]) / f"rank-{RANK}.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"event": event, **fields}) + "\n")


def weights_digest(model: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def install_probes() -> None:
    from transformers import TrainerCallback

    from redstar.pipeline import rundir, runner
    from redstar.trainers import hf_run

    real_lock, real_begin, real_finish = runner.run_lock, rundir.RunDir.begin, rundir.RunDir.finish
    real_write_json, real_train_and_save = runner.write_json, hf_run.train_and_save

    @contextlib.contextmanager
    def run_lock(root: Path) -> Any:
        with real_lock(root):
            record("lock")
            yield

    def begin(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        record("begin", stage=name)
        return real_begin(self, name, *args, **kwargs)

    def finish(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        record("finish", stage=name)
        return real_finish(self, name, *args, **kwargs)

    def write_json(path: Any, obj: Any) -> Any:
        record("write", file=Path(path).name)
        return real_write_json(path, obj)

    class Steps(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            record("step", step=state.global_step)
            if RANK == 0 and str(state.global_step) == os.environ.get("PROBE_FAIL_AT_STEP"):
                raise RuntimeError(f"probe: rank 0 crashes after step {state.global_step}")

    def train_and_save(trainer: Any, output_dir: Path, **kwargs: Any) -> Any:
        trainer.add_callback(Steps())
        result = real_train_and_save(trainer, output_dir, **kwargs)
        record("trained", steps=trainer.state.global_step, digest=weights_digest(trainer.model),
               model=str(result.model_path), data=[f["filename"] for f in trainer.train_dataset.cache_files])
        return result

    runner.run_lock, runner.write_json = run_lock, write_json
    rundir.RunDir.begin, rundir.RunDir.finish = begin, finish
    hf_run.train_and_save = train_and_save


def main() -> None:
    import arith_plugin  # beside this file, as in the test process

    from redstar import plugins
    from redstar.cli import main as redstar_main

    host = plugins.Host(load_entry_points=False)
    host.register(arith_plugin, name="arith", version="test")
    plugins.reset_host(host)
    install_probes()
    redstar_main(sys.argv[2:])


if __name__ == "__main__":
    main()
