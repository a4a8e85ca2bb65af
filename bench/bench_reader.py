"""Reader benchmark (not a test): prints ratios measured in one run.

1. Time of `read_any` (ROOT -> canonical padded batches) vs a plain `uproot` read of the same
   branches into awkward arrays, per dataset (target <= 1.5x). Best of --repeat runs, wall and
   CPU time (the machine may be shared, so CPU time is the steadier figure).
2. Peak RSS while streaming a 200k-jet file vs a 20k-jet file through `read_any`, each in a
   fresh subprocess (target: flat, ratio ~1). The plain full uproot read is shown for contrast.

Files are synthetic (random branches of the real schema, tests/branch_factory.py), the big one
made by appending the small one's branches ten times: no Pythia needed.

    python bench/bench_reader.py [--jets 20000] [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

RSS_SCRIPT = """
import json, resource, sys
mode, path, dataset = sys.argv[1:4]
n = 0
if mode == "reader":
    from jetbench.data.readers import read_any
    for batch in read_any(path, dataset):
        n += len(batch)
else:
    import uproot
    from jetbench.data.convert import required_branches
    with uproot.open(path) as f:
        n = len(f["tree"].arrays(list(required_branches(dataset))))
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork+exec)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
kb = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"n": n, "peak_mb": kb / 1024}))
"""


def build_files(workdir: Path, dataset: str, n: int) -> tuple[Path, Path]:
    """n-jet file and a 10n-jet file (the same branches appended ten times)."""
    from branch_factory import btag_branches, jetclass_branches

    from jetbench.data.rootio import RootWriter, write_root

    small, big = workdir / f"{dataset}_{n}.root", workdir / f"{dataset}_{10 * n}.root"
    if not (small.exists() and big.exists()):
        branches = (jetclass_branches if dataset == "jetclass" else btag_branches)(n, seed=1)
        write_root(small, branches, dataset)
        with RootWriter(big, dataset) as w:
            for _ in range(10):
                w.append(branches)
    return small, big


def best_time(fn, repeat: int) -> tuple[float, float]:
    """Best wall and best CPU seconds over `repeat` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def time_ratio(path: Path, dataset: str, repeat: int) -> dict:
    import uproot

    from jetbench.data.convert import required_branches
    from jetbench.data.readers import read_any

    branches = list(required_branches(dataset))

    def reader() -> None:
        for _ in read_any(path, dataset):
            pass

    def plain() -> None:
        with uproot.open(path) as f:
            f["tree"].arrays(branches)

    reader()  # warm the page cache and imports for both
    r_wall, r_cpu = best_time(reader, repeat)
    p_wall, p_cpu = best_time(plain, repeat)
    return {"reader_s": r_wall, "plain_s": p_wall, "ratio_wall": r_wall / p_wall,
            "reader_cpu_s": r_cpu, "plain_cpu_s": p_cpu, "ratio_cpu": r_cpu / p_cpu}


def peak_rss(mode: str, path: Path, dataset: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, mode, str(path), dataset],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jets", type=int, default=20_000, help="jets in the small file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="jetbench-bench-reader-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for dataset in ("jetclass", "btag"):
        small, big = build_files(workdir, dataset, args.jets)
        t = time_ratio(big, dataset, args.repeat)
        print(f"[{dataset}] read {10 * args.jets} jets: reader {t['reader_s']:.2f}s vs plain "
              f"uproot {t['plain_s']:.2f}s -> {t['ratio_wall']:.2f}x wall (target <= 1.5x); "
              f"CPU {t['reader_cpu_s']:.2f}s vs {t['plain_cpu_s']:.2f}s -> {t['ratio_cpu']:.2f}x")
        rs, rb = peak_rss("reader", small, dataset), peak_rss("reader", big, dataset)
        ps, pb = peak_rss("plain", small, dataset), peak_rss("plain", big, dataset)
        print(f"[{dataset}] peak RSS streaming: {rs['n']} jets {rs['peak_mb']:.0f} MB, "
              f"{rb['n']} jets {rb['peak_mb']:.0f} MB -> {rb['peak_mb'] / rs['peak_mb']:.2f}x "
              f"(target ~1); plain full read {ps['peak_mb']:.0f} -> {pb['peak_mb']:.0f} MB "
              f"({pb['peak_mb'] / ps['peak_mb']:.2f}x)")
    print(f"files in {workdir}")


if __name__ == "__main__":
    main()
