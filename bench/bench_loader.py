"""Loader benchmark (not a test): the paper-scale training loader on stand-in download folders.

A stand-in JetClass download folder is written in the layout `jetbench data download jetclass
--extract` leaves (`JetClass_Pythia_train_100M_part0/train_100M/<Process>_<index>.root`, the
sha256 of every file in SHA256SUMS; random branches of the real schema from
tests/branch_factory.py, one file written and the others symlinks to it, so 1M jets need no
extra disk). For `--small` and `--large` jets, each in a fresh subprocess, printed in one run:

1. the `jetclass` task's paper `train` split read through its definition (verified file-set
   index, no copy) for one epoch of the streaming loader (`jetbench.protocols.loader`:
   `--workers` processes, batches of `--batch`): jets/s and peak RSS of the main process and of
   the largest worker; flat memory means a large/small ratio ~1;
2. the same branches of the same files read by a plain `uproot.iterate` (no conversion, no
   shuffling, one process) and by `read_any` (the front-to-back reader): jets/s and their ratio
   to the loader's.

    python bench/bench_loader.py [--small 100000] [--large 1000000] [--per-file 100000]
                                 [--workers 4] [--batch 500] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout, not an installed jetbench

# JetClass file prefixes (one class per file, as in the real dataset)
PROCESSES = ("ZJetsToNuNu", "HToBB", "HToCC", "HToGG", "HToWW4Q", "HToWW2Q1L", "ZToQQ", "WToQQ",
             "TTBar", "TTBarLep")

RUN = """
import json, os, resource, sys, time
mode, step, workers, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = sys.argv[5:]
n = 0
if mode == "loader":
    import numpy as np
    from jetbench.data.fileset import open_jets
    from jetbench.protocols.loader import StreamSource
    from jetbench.tasks import get_task, task_split
    path = task_split("jetclass", "train", "paper")  # verifies the files, writes the index
    with open_jets(path) as jets:
        rows = np.arange(len(jets))
    src = StreamSource(path, rows, get_task("jetclass").kind.targets, batch, workers=workers)
    w, c = time.perf_counter(), time.process_time()
    ds = src.dataset(True, batch)
    for inputs, y, _ in src.loader(ds, "cpu"):
        n += len(y)
elif mode == "reader":
    from jetbench.data.readers import read_any
    w, c = time.perf_counter(), time.process_time()
    for b in read_any(files, "jetclass", chunk=step):
        n += len(b)
else:
    import uproot
    from jetbench.data.convert import required_branches
    w, c = time.perf_counter(), time.process_time()
    for arrays in uproot.iterate([f + ":tree" for f in files], list(required_branches("jetclass")),
                                 step_size=step, library="ak"):
        n += len(arrays)
wall, cpu = time.perf_counter() - w, time.process_time() - c
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"n": n, "wall": wall, "cpu": cpu, "peak_mb": int(hwm[0].split()[1]) / 1024,
                  "worker_peak_mb": child}))
"""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def stand_in(workdir: Path, n: int, per_file: int) -> tuple[Path, list[Path]]:
    """<workdir>/real_<n>/jetclass in the extracted-tarball layout, n jets in files of
    `per_file` (symlinks to one written file; the last may be shorter), SHA256SUMS recorded."""
    from branch_factory import jetclass_branches

    from jetbench.data.download import record_sums
    from jetbench.data.rootio import write_root

    base = workdir / f"base_{per_file}.root"
    if not base.exists():
        write_root(base, jetclass_branches(per_file, seed=1), "jetclass")
    real = workdir / f"real_{n}"
    folder = real / "jetclass" / "JetClass_Pythia_train_100M_part0" / "train_100M"
    folder.mkdir(parents=True, exist_ok=True)
    base_sha = _sha256(base)
    files, sums = [], {}
    for i, start in enumerate(range(0, n, per_file)):
        size = min(per_file, n - start)
        path = folder / f"{PROCESSES[i % len(PROCESSES)]}_{i // len(PROCESSES):03d}.root"
        if not path.exists():
            if size == per_file:
                os.symlink(base, path)
            else:
                write_root(path, jetclass_branches(size, seed=2), "jetclass")
        sums[path.relative_to(real / "jetclass").as_posix()] = (
            base_sha if size == per_file else _sha256(path))
        files.append(path)
    record_sums(real / "jetclass", sums)
    return real, files


def run(mode: str, real: Path, files: list[Path], args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JETBENCH_REAL_DATA": str(real),
           "JETBENCH_DATA": str(real / "cache"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", RUN, mode, str(args.step), str(args.workers),
                          str(args.batch), *map(str, files)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--per-file", type=int, default=100_000, help="jets per stand-in file")
    ap.add_argument("--step", type=int, default=10_000, help="jets per read (plain uproot)")
    ap.add_argument("--workers", type=int, default=4, help="loader worker processes")
    ap.add_argument("--batch", type=int, default=500, help="loader batch size")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="jetbench-bench-loader-"))
    workdir.mkdir(parents=True, exist_ok=True)
    res = {}
    for n in (args.small, args.large):
        real, files = stand_in(workdir, n, args.per_file)
        res[n] = {m: run(m, real, files, args) for m in ("loader", "plain", "reader")}
        assert all(r["n"] == n for r in res[n].values()), res[n]
    s, lg = res[args.small]["loader"], res[args.large]["loader"]
    print(f"peak RSS, loader ({args.workers} workers): {args.small} jets main {s['peak_mb']:.0f} MB"
          f" / worker {s['worker_peak_mb']:.0f} MB, {args.large} jets main {lg['peak_mb']:.0f} MB /"
          f" worker {lg['worker_peak_mb']:.0f} MB -> {lg['peak_mb'] / s['peak_mb']:.2f}x main, "
          f"{lg['worker_peak_mb'] / max(s['worker_peak_mb'], 1e-9):.2f}x worker (flat = 1)")
    for n in (args.small, args.large):
        loader, plain, reader = (res[n][m] for m in ("loader", "plain", "reader"))
        rate = {k: v["n"] / v["wall"] for k, v in res[n].items()}
        print(f"{n} jets: loader {rate['loader']:.0f} jets/s ({args.workers} workers, shuffled, "
              f"padded tensors) vs plain uproot.iterate {rate['plain']:.0f} jets/s (1 process, "
              f"awkward arrays) -> {rate['loader'] / rate['plain']:.2f}x; read_any "
              f"{rate['reader']:.0f} jets/s -> {rate['reader'] / rate['plain']:.2f}x plain; plain "
              f"peak RSS {plain['peak_mb']:.0f} MB, read_any {reader['peak_mb']:.0f} MB")
    print(f"files in {workdir}")


if __name__ == "__main__":
    main()
