"""Generator throughput: per class, against a bare Pythia + FastJet loop, and 1 vs 2 workers.

    python bench/bench_generate.py [--jets 150] [--scale-jets 300]

1. jets/s of every class of both profiles (one worker, Pythia already initialised).
2. jetbench's generator vs a bare loop in the same process making the same jets: same Pythia
   set-up and seed (so the same events), visible final state -> anti-kT (FastJet, one call per
   event) -> the same pT/eta window and truth matching; no detector model, no branches.
   Target: generator >= 0.8x the bare loop.
3. 2 workers vs 1 on the same request (pool start-up included). Target >= 1.7x.
All ratios are measured in this one run; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import os
import time

import awkward as ak
import numpy as np

from jetbench.generate import jetclass, runner, shards
from jetbench.generate.clustering import _fastjet
from jetbench.generate.processes import PROFILES
from jetbench.generate.shards import ShardTask


def shard_rate(profile: str, klass: str, n: int, seed: int) -> float:
    """jets/s of one shard, the Pythia instance initialised beforehand (as in a long run)."""
    task = ShardTask(profile, klass, 0, n, seed)
    shards._source(task)
    start = time.perf_counter()
    cols = shards.run_shard(task)
    return len(cols) / (time.perf_counter() - start)


def bare_rate(klass: str, n: int, seed: int) -> float:
    """The same events and jet selection with nothing but Pythia + FastJet."""
    fastjet = _fastjet()
    task = ShardTask("jetclass", klass, 0, n, seed)
    src = shards._source(task)
    src.reseed(task.shard_seed)
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, jetclass.RADIUS)
    have = 0
    start = time.perf_counter()
    while have < n:
        record = src.next_event()
        fs = src.final_state(record)
        p4 = fs.p4
        cs = fastjet.ClusterSequence(
            ak.zip({"px": p4[:, 0], "py": p4[:, 1], "pz": p4[:, 2], "E": p4[:, 3]}), jet_def)
        jets = cs.inclusive_jets(jetclass.PT_MIN)
        px, py, pz = (ak.to_numpy(jets[k]) for k in ("px", "py", "pz"))
        pt = np.hypot(px, py)
        eta = np.arcsinh(pz / pt)
        phi = np.arctan2(py, px)
        inside = (pt < jetclass.PT_MAX) & (np.abs(eta) < jetclass.ETA_MAX)
        cands = jetclass.candidates(record, klass)
        for j in np.flatnonzero(inside)[np.argsort(-pt[inside])]:
            if klass == "QCD" or any(
                    c.label == klass and np.all(np.hypot(
                        c.points[:, 0] - eta[j],
                        (c.points[:, 1] - phi[j] + np.pi) % (2 * np.pi) - np.pi) < 0.8)
                    for c in cands):
                have += 1
    return have / (time.perf_counter() - start)


def workers_time(profile: str, n: int, workers: int, seed: int) -> float:
    classes = runner.check_request(profile, n, seed, workers, None)
    start = time.perf_counter()
    runner.generate_columns(profile, n, seed, workers, classes, progress=False)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=150, help="jets per class / per comparison")
    ap.add_argument("--scale-jets", type=int, default=300, help="jets of the workers comparison")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    print("\n1. jets/s per class (1 worker, Pythia initialised)")
    for profile in ("jetclass", "btag"):
        n = args.jets if profile == "jetclass" else 2 * args.jets
        for klass in PROFILES[profile].class_sources:
            print(f"  {profile:8s} {klass:6s} {shard_rate(profile, klass, n, args.seed):7.1f}",
                  flush=True)

    print("\n2. generator vs bare Pythia + FastJet loop (same events, same jets)")
    for klass in ("QCD", "Tbqq"):
        gen = shard_rate("jetclass", klass, args.jets, args.seed + 1)
        bare = bare_rate(klass, args.jets, args.seed + 1)
        print(f"  {klass:5s} generator {gen:6.1f} jets/s, bare {bare:6.1f} jets/s, "
              f"ratio {gen / bare:.2f} (target >= 0.8)", flush=True)

    print(f"\n3. 2 workers vs 1 (jetclass, {args.scale_jets} jets, all classes)")
    t1 = workers_time("jetclass", args.scale_jets, 1, args.seed + 2)
    t2 = workers_time("jetclass", args.scale_jets, 2, args.seed + 3)
    print(f"  1 worker {t1:.1f} s, 2 workers {t2:.1f} s, speed-up {t1 / t2:.2f} (target >= 1.7)"
          f"; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
