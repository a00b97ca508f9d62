"""A simulated paper-scale sampling run, on one CPU machine: the paper recipe's shape (QwQ-32B
replicas at tensor parallel 4, 10 samples per prompt, responses up to 16k tokens, verification
and cleaning) through the real ``redstar run`` and Ray engine, on a local multi-node Ray cluster
(127.0.0.1) whose nodes declare 8 GPUs each, with ``sim_vllm.py``'s stand-in engine (a latency
and memory model from published vLLM figures, on a simulated clock) in place of vLLM.

    .venv/bin/python tools/bench/paper_scale_sim.py                   # 600 prompts x 10, 4 replicas
    .venv/bin/python tools/bench/paper_scale_sim.py --prompts 60 --feeding serial --json out.json

It shows, and prints:

- **the scheduler**: where Ray placed the replicas (by node) and the chunks each returned;
- **a hung replica**: one replica stops stepping at ``--hang-at`` simulated seconds (as in a dead
  NCCL collective); the engine notices after ``execution.stall_timeout`` and redoes its chunks;
- **a killed replica and its orphans**: once the run is under way the bench SIGKILLs another
  replica; its tensor-parallel processes (an "engine core" child and its grandchildren, as
  vLLM's) must be gone within seconds, and the run must finish with every sample once;
- **the driver**: its peak memory (RSS) and CPU seconds over the run, per prompt and per sample;
- **the time model**: each replica's simulated GPU seconds, tokens and batch size, and the
  makespan extrapolated to the paper's 2M samples on 8 and 16 replicas (32 and 64 H100s), next
  to the driver's CPU for the same number of samples.

``--feeding serial`` runs the same with one chunk at a time per replica (the engine drains at
the end of each chunk, as ``LLM.generate`` per chunk did): the difference in simulated GPU time
is the cost of chunk tails under this model. Results and what ran where: docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PAPER_SAMPLES = 2_000_000


def plugin_dir(root: Path) -> Path:
    """A distribution ``redstar-simvllm`` whose entry point loads ``sim_vllm`` (tools/bench)."""
    info = root / "redstar_simvllm-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: redstar-simvllm\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[redstar]\nsimvllm = sim_vllm\n")
    return root


def recipe(args: argparse.Namespace, cluster_address: str, work: Path, pythonpath: str) -> str:
    backend = "simvllm" if args.feeding == "overlapped" else "simvllm-serial"
    options = {"tensor_parallel_size": 4, "gpu_memory_utilization": 0.9, "max_num_seqs": 256, "speedup": args.speedup,
               "hang_once": str(work / "hung") if args.hang_at else None, "hang_at_s": args.hang_at or 0.0,
               "workers": 4, "worker_mb": 16, "stats": str(work / "stats")}
    execution = {"engine": "ray", "address": cluster_address, "replicas": args.replicas, "num_gpus": 4,
                 "num_cpus": 1, "verify_batch": 64, "max_retries": 3, "stall_timeout": args.stall_timeout,
                 "load_timeout": 120, "runtime_env": {"env_vars": {"PYTHONPATH": pythonpath}}}
    return json.dumps({
        "name": "paper-scale-sim",
        "models": {"teacher": "simulated-qwq-32b", "student": "embedded:tiny-student"},
        "sources": [{"name": "synthetic-math", "options": {"count": args.prompts * 2, "seed": 0}}],
        "selection": {"min_level": 1, "max_level": 10, "total": args.prompts},
        "sampling": {"backend": backend, "options": options, "n": 10, "n_by_level": {}, "temperature": 1.0,
                     "max_new_tokens": 16384, "chunk_size": args.chunk},
        "verifiers": {"math": {"workers": 1}},
        "sft": None,
        "execution": execution,
    })


class Watch:
    """Samples the driver's memory and CPU, and kills one replica once the run is under way."""

    def __init__(self, driver: int, stats: Path, kill_after_s: float) -> None:
        self.driver, self.stats, self.kill_after_s = driver, stats, kill_after_s
        self.peak_rss = 0
        self.cpu_s = 0.0
        self.killed: dict[str, Any] | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(0.25):
            try:
                fields = Path(f"/proc/{self.driver}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.cpu_s = (int(fields[11]) + int(fields[12])) / TICKS
            self.peak_rss = max(self.peak_rss, int(fields[21]) * PAGE)
            if self.killed is None and time.monotonic() - started > self.kill_after_s:
                self.kill_one()

    def kill_one(self) -> None:
        replicas = [json.loads(record.read_text()) for record in self.stats.glob("*.json")]
        # the busiest live replica that is not the hung one: it holds chunks now
        for replica in sorted(replicas, key=lambda r: -r["tokens"]):
            if replica["hung"] or not alive(replica["pid"]) or replica["tokens"] == 0:
                continue
            os.kill(replica["pid"], signal.SIGKILL)
            gone_at = None
            started = time.monotonic()
            while time.monotonic() - started < 30:
                if not any(alive(pid) for pid in replica["tp_pids"]):
                    gone_at = time.monotonic() - started
                    break
                time.sleep(0.1)
            self.killed = {"pid": replica["pid"], "tp_pids": replica["tp_pids"], "orphans_gone_after_s": gone_at,
                           "orphans_left": [pid for pid in replica["tp_pids"] if alive(pid)]}
            return


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=600)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=26,
                        help="prompts per chunk (sampling.chunk_size): 260 requests, about a full batch of 256")
    parser.add_argument("--speedup", type=float, default=60.0, help="simulated seconds per wall-clock second")
    parser.add_argument("--feeding", choices=("overlapped", "serial"), default="overlapped")
    parser.add_argument("--hang-at", type=float, default=600.0, help="simulated s; 0: no hung replica")
    parser.add_argument("--kill-after", type=float, default=60.0, help="wall s into the run; 0: none")
    parser.add_argument("--stall-timeout", type=float, default=15.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the run directory (removed by default)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "packages" / "redstar-core" / "src"))
    from redstar.execution.ray_local import loopback_cluster

    work = Path(tempfile.mkdtemp(prefix="rs-sim-"))
    plugins = plugin_dir(work / "plugin")
    pythonpath = os.pathsep.join([str(plugins), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
    # A head for the driver, and two nodes of 8 (declared) GPUs: two TP-4 replicas each.
    nodes = [{"num_cpus": 1}, {"num_cpus": 3, "num_gpus": 8}, {"num_cpus": 3, "num_gpus": 8}]
    report: dict[str, Any] = {"args": vars(args) | {"json": str(args.json)}}
    with loopback_cluster(nodes) as cluster:
        (work / "recipe.yaml").write_text(recipe(args, cluster.address, work, pythonpath))
        env = {**os.environ, "PYTHONPATH": pythonpath, "REDSTAR_PLUGINS": "math,simvllm"}
        redstar = Path(sys.executable).parent / "redstar"
        started = time.monotonic()
        driver = subprocess.Popen([str(redstar), "run", "--recipe", str(work / "recipe.yaml"), "--out",
                                   str(work / "run"), "--until", "curate", "--no-progress"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watch = Watch(driver.pid, work / "stats", args.kill_after if args.kill_after else float("inf"))
        output, _ = driver.communicate()
        watch.stop.set()
        watch.thread.join()
        report["wall_s"] = time.monotonic() - started
    if driver.returncode != 0:
        print(output[-4000:])
        raise SystemExit(f"redstar run failed ({driver.returncode}); files in {work}")
    report.update(summarize(work, output, watch, args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    show(report)
    if args.keep:
        print(f"the run directory: {work / 'run'}")
    else:
        shutil.rmtree(work, ignore_errors=True)  # the samples alone are about 130 MB


def summarize(work: Path, output: str, watch: Watch, args: argparse.Namespace) -> dict[str, Any]:
    summary = json.loads((work / "run" / "summary.json").read_text())
    replicas = [json.loads(p.read_text()) for p in sorted((work / "stats").glob("*.json"))]
    samples = summary["stages"]["sample"]["samples"]
    tokens = sum(r["tokens"] for r in replicas)
    busy = [r for r in replicas if r["tokens"] > 0]
    per_replica_tps = statistics.median(r["tokens"] / r["clock_s"] for r in busy if r["clock_s"] > 0)
    mean_tokens = tokens / samples  # includes the tokens of the hung and killed replicas' lost work
    placement: dict[str, int] = {}
    for r in replicas:
        placement[r["node"][:8]] = placement.get(r["node"][:8], 0) + 1
    extrapolated = {str(n): PAPER_SAMPLES * mean_tokens / (n * per_replica_tps) / 86400 for n in (8, 16)}
    import re

    lines = re.findall(r"ray: [^\n]*?(?:worker (?:hung|lost)|releasing)[^\n]*", output)
    return {
        "samples": samples, "prompts": summary["stages"]["select"].get("prompts", args.prompts),
        "verify": summary["stages"]["verify"], "build": {k: summary["stages"]["build"][k] for k in ("sft_rows", "dropped")},
        "stage_seconds": summary["seconds"],
        "replicas": replicas, "placement_by_node": placement,
        # Each replica's clock starts when it does: the largest is the makespan only when every
        # replica ran from the start (no replacements); their sum is the GPU time spent.
        "simulated_makespan_s": max(r["clock_s"] for r in replicas),
        "simulated_replica_s": sum(r["clock_s"] for r in replicas),
        "simulated_tokens": tokens, "mean_tokens_per_sample": mean_tokens,
        "per_replica_tokens_per_s": per_replica_tps,
        "days_for_2M_samples": extrapolated,
        "driver_peak_rss_mb": watch.peak_rss / 2**20, "driver_cpu_s": watch.cpu_s,
        "driver_cpu_ms_per_sample": 1000 * watch.cpu_s / samples,
        "driver_cpu_h_for_2M_samples": watch.cpu_s / samples * PAPER_SAMPLES / 3600,
        "killed_replica": watch.killed, "engine_lines": [line[:220] for line in lines],
        "taken_over": "taken over" in output,
    }


def show(report: dict[str, Any]) -> None:
    print(f"samples {report['samples']} of {report['prompts']} prompts in {report['wall_s']:.0f} s wall "
          f"(stages: {report['stage_seconds']})")
    print(f"replicas by node: {report['placement_by_node']}")
    for r in report["replicas"]:
        print(f"  replica pid {r['pid']}: {r['tokens']:,} tokens in {r['clock_s']:,.0f} simulated s, mean batch "
              f"{r['mean_batch']:.0f}, preempted {r['preempted']}{', HUNG' if r['hung'] else ''}")
    print(f"simulated makespan {report['simulated_makespan_s']:,.0f} s (the longest replica clock), "
          f"{report['simulated_replica_s']:,.0f} replica-seconds; {report['per_replica_tokens_per_s']:,.0f} "
          f"tokens/s per replica; {report['mean_tokens_per_sample']:,.0f} tokens per sample")
    print(f"2M samples: {report['days_for_2M_samples']['8']:.1f} days on 8 replicas (32 H100), "
          f"{report['days_for_2M_samples']['16']:.1f} on 16")
    print(f"driver: peak {report['driver_peak_rss_mb']:.0f} MB, {report['driver_cpu_s']:.1f} CPU s "
          f"({report['driver_cpu_ms_per_sample']:.1f} ms/sample; {report['driver_cpu_h_for_2M_samples']:.1f} CPU h "
          f"for 2M)")
    print(f"killed replica: {report['killed_replica']}")
    print("\n".join(report["engine_lines"]))


if __name__ == "__main__":
    main()
