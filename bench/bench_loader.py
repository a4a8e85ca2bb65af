"""Loader benchmark (not a test): streaming the real-file readers over stand-in directories.

For JetClass and BTag, a stand-in directory holds files with the real datasets' names and ROOT
schema (random branches, tests/branch_factory.py; one file written, the others symlinks to it,
so 1M jets need no extra disk). Printed, all measured in one run:

1. peak RSS of streaming `--small` and `--large` jets through `read_any` (each in a fresh
   subprocess): flat memory means a ratio ~1 (the default 100k -> 1M is the paper-scale check);
2. throughput of `read_any` (ROOT -> padded canonical batches) against a plain
   `uproot.iterate` over the same branches and files with the same step (no conversion), as
   jets/s and their ratio, wall and CPU time.

    python bench/bench_loader.py [--small 100000] [--large 1000000] [--per-file 100000]
                                 [--datasets jetclass,btag] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# real file-name patterns: JetClass ships <process>_<index>.root, BTag train_<index>.root
NAMES = {"jetclass": "ZJetsToNuNu_{:03d}.root", "btag": "train_{:03d}.root"}

RUN = """
import json, sys, time
mode, dataset, step, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
w, c = time.perf_counter(), time.process_time()
n = 0
if mode == "reader":
    from jetbench.data.readers import read_any
    for batch in read_any(files, dataset, chunk=step):
        n += len(batch)
else:
    import uproot
    from jetbench.data.convert import required_branches
    for arrays in uproot.iterate([f + ":tree" for f in files], list(required_branches(dataset)),
                                 step_size=step, library="ak"):
        n += len(arrays)
wall, cpu = time.perf_counter() - w, time.process_time() - c
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(json.dumps({"n": n, "wall": wall, "cpu": cpu, "peak_mb": int(hwm[0].split()[1]) / 1024}))
"""


def stand_in_dir(workdir: Path, dataset: str, n: int, per_file: int) -> list[Path]:
    """Files of `per_file` jets (the last may be shorter) holding n jets in total."""
    from branch_factory import btag_branches, jetclass_branches

    from jetbench.data.rootio import write_root

    make = jetclass_branches if dataset == "jetclass" else btag_branches
    base = workdir / f"{dataset}_base_{per_file}.root"
    if not base.exists():
        write_root(base, make(per_file, seed=1), dataset)
    folder = workdir / f"{dataset}_{n}"
    folder.mkdir(exist_ok=True)
    files = []
    for i, start in enumerate(range(0, n, per_file)):
        size = min(per_file, n - start)
        path = folder / NAMES[dataset].format(i)
        if not path.exists():
            if size == per_file:
                os.symlink(base, path)
            else:
                write_root(path, make(size, seed=1), dataset)
        files.append(path)
    return files


def run(mode: str, dataset: str, files: list[Path], step: int) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN, mode, dataset, str(step), *map(str, files)],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--per-file", type=int, default=100_000, help="jets per stand-in file")
    ap.add_argument("--step", type=int, default=10_000, help="jets per read step (both readers)")
    ap.add_argument("--datasets", default="jetclass,btag")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="jetbench-bench-loader-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets.split(","):
        small = stand_in_dir(workdir, dataset, args.small, args.per_file)
        large = stand_in_dir(workdir, dataset, args.large, args.per_file)
        rs, rl = run("reader", dataset, small, args.step), run("reader", dataset, large, args.step)
        pl = run("plain", dataset, large, args.step)
        assert rl["n"] == pl["n"] == args.large and rs["n"] == args.small, (rs, rl, pl)
        print(f"[{dataset}] peak RSS streaming {args.small} jets {rs['peak_mb']:.0f} MB, "
              f"{args.large} jets {rl['peak_mb']:.0f} MB -> {rl['peak_mb'] / rs['peak_mb']:.2f}x "
              f"(flat = 1); plain uproot.iterate {pl['peak_mb']:.0f} MB")
        print(f"[{dataset}] {args.large} jets: reader {rl['n'] / rl['wall']:.0f} jets/s vs plain "
              f"uproot {pl['n'] / pl['wall']:.0f} jets/s -> reader takes {rl['wall'] / pl['wall']:.2f}x "
              f"the wall time, {rl['cpu'] / pl['cpu']:.2f}x the CPU time")
    print(f"files in {workdir}")


if __name__ == "__main__":
    main()
