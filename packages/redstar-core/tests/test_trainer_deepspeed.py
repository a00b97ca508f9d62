"""The shipped ZeRO-2, ZeRO-3 and ZeRO-3 offload configs drive a real DeepSpeed engine through the
``sft`` trainer on the CPU (one process, gloo), and the final model is saved whole.

Each run is a fresh process: DeepSpeed and accelerate keep process-wide distributed state. The
first run compiles DeepSpeed's shared-memory communication op (about 45 s here, then cached in
``TORCH_EXTENSIONS_DIR``, by default the checkout's git-ignored ``.torch_extensions``), and the
first offload run compiles DeepSpeed's CPU Adam there (2 CPU-minutes; 5 minutes of wall time on
a machine loaded 10 deep), hence the generous timeout. Both compile ahead, in a head-start job
(this file run as a script, started by conftest.py when these tests are collected), while the
tests before these run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

#: DeepSpeed ZeRO on the CPU: `pytest -m 'not slow'` leaves it out of a quick loop (CI runs everything).
pytestmark = pytest.mark.slow

pytest.importorskip("deepspeed")

CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from redstar.interfaces import TrainContext
    from redstar.trainers.sft import SFTTrainer

    class Probe(SFTTrainer):
        def build_trainer(self, ctx):
            self.built = super().build_trainer(ctx)
            return self.built

    model, data, out, stage = sys.argv[1:]
    losses = []
    probe = Probe(max_steps=3, deepspeed=stage, learning_rate=3e-3, batch_size=4, grad_accum=1,
                  max_length=128, warmup_ratio=0.0, device="cpu")
    result = probe.train(TrainContext(model=model, output_dir=Path(out), data_file=Path(data),
                                      on_step=lambda s, t, m: losses.append(m["loss"])))
    engine = probe.built.model_wrapped
    print("RESULT " + json.dumps({
        "engine": type(engine).__name__,
        "stage": probe.built.accelerator.state.deepspeed_plugin.zero_stage,
        "optimizer": type(engine.basic_optimizer).__name__,
        "offload": [engine.zero_use_cpu_optimizer(), bool(engine.zero_offload_param())],
        "losses": losses, "final": str(result.model_path)}))
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("stage", ["zero2", "zero3", "zero3_offload"])
def test_shipped_zero_config_trains_and_saves_on_cpu(tmp_path, tiny_lm, stage, torch_extensions_dir):
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt_id": f"p{i}", "messages": [
        {"role": "user", "content": f"What is {i} + 7?"},
        {"role": "assistant", "content": f"The answer is {i + 7}."}]}) + "\n" for i in range(16)))
    env = dict(os.environ, RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), OMP_NUM_THREADS="1")
    env["TORCH_EXTENSIONS_DIR"] = torch_extensions_dir
    done = subprocess.run([sys.executable, "-c", CHILD, str(tiny_lm), str(data), str(tmp_path / "out"), stage],
                          env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["engine"] == "DeepSpeedEngine"
    assert result["stage"] == int(stage[len("zero")])
    if stage == "zero3_offload":  # states and parameters on the CPU, stepped by DeepSpeed's CPU Adam
        assert result["offload"] == [True, True] and result["optimizer"] == "DeepSpeedCPUAdam"
    else:  # the trainer's own optimizer, handed to DeepSpeed
        assert result["offload"] == [False, False] and result["optimizer"] == "AdamW"
    assert len(result["losses"]) == 3 and result["losses"][-1] < result["losses"][0]

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(result["final"])
    # ZeRO-3 shards parameters; a whole model on disk means they were gathered when saving.
    assert all(p.numel() > 0 for p in model.parameters())


if __name__ == "__main__":  # the head-start job: compile the ops the runs above load
    from deepspeed.accelerator import get_accelerator

    for op in ("ShareMemCommBuilder", "CPUAdamBuilder"):
        get_accelerator().create_op_builder(op).load()
