"""Frozen-protocol streaming benchmark (not a test): peak memory of a `frozen` fit + score for N
and 10N jets, in memory and streamed (`jetbench.protocols.embedding_store`).

Stores of N (and factor x N) training and test jets with random `jetclass` contents
(tests/conftest.random_batch, ~65 real constituents a jet) are written first; then each run is a
fresh subprocess with one torch thread: a toy encoder of width `--dim`
(tests/test_protocols.ToyEncoder) on a 10-class toy jet task, the `frozen` protocol at smoke
scale fitted on the training store (a 500-jet validation store) and scoring the test store,
either in memory (the npz cache, as at cpu scale) or streamed (JETBENCH_MAX_IN_MEMORY_GB tiny,
`--chunk` rows per encoder pass). Printed per run: wall seconds and peak RSS (VmHWM); per mode
the large/small ratio of peak RSS (flat memory: ~1) and of the RSS above a bare
`import torch, jetbench` process.

Measured (2 busy cores, 1 thread, --n 1000 --factor 10, dim 128, chunk 1024): in memory
647 -> 1389 MB (2.15x; 3.66x above the bare 368 MB); streamed 679 -> 755 MB (1.11x; 1.24x), and
~790 MB at 30,000 jets: the rest is allocator noise (+-50 MB between repeats of one run).

    python bench/bench_frozen_stream.py [--n 2000] [--factor 10] [--dim 128] [--chunk 1024]
                                        [--workdir DIR]
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
sys.path[:0] = [str(ROOT)]  # this checkout, not an installed jetbench

RUN = """
import json, sys, time
mode, dim, chunk, train, val, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:7]
import torch
torch.set_num_threads(1)
from jetbench.protocols import Split, get_protocol
from jetbench.protocols import embedding_store
from tests.conftest import toy_task
from tests.test_protocols import ToyEncoder
embedding_store.CHUNK = chunk
t = time.perf_counter()
if mode != "baseline":
    proto = get_protocol("frozen", "smoke")
    proto.fit(ToyEncoder(dim), toy_task("jet_class", 10), Split.from_store("train", train),
              Split.from_store("val", val), progress=False)
    scores = proto.score(Split.from_store("test", test))
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(json.dumps({"wall": time.perf_counter() - t, "peak_mb": int(hwm[0].split()[1]) / 1024}))
"""


def _stores(root: Path, n: int) -> tuple[Path, Path]:
    from jetbench.data.store import StoreWriter  # lazy: the parent imports jetbench only here
    from tests.conftest import random_batch  # lazy: test helpers, from this checkout

    paths = []
    for name, seed in (("train", 1), ("test", 2)):
        path = root / f"{name}-{n}.h5"
        with StoreWriter(path, "jetclass") as w:
            for a in range(0, n, 5000):  # in pieces: the writer's memory stays small too
                w.append(random_batch(min(5000, n - a), "jetclass", seed=seed * 1000 + a))
        paths.append(path)
    return paths[0], paths[1]


def _run(mode: str, dim: int, chunk: int, paths: list[Path], data: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "JETBENCH_DATA": str(data),
           "JETBENCH_MAX_IN_MEMORY_GB": "1e-9" if mode == "stream" else "1000"}
    out = subprocess.run([sys.executable, "-c", RUN, mode, str(dim), str(chunk),
                          *map(str, paths)], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-frozen-stream-"))
    root.mkdir(parents=True, exist_ok=True)
    from jetbench.data.store import write_store  # lazy: see _stores
    from tests.conftest import random_batch  # lazy: see _stores

    val = root / "val.h5"
    write_store(val, random_batch(500, "jetclass", seed=9), "jetclass")
    sizes = (args.n, args.n * args.factor)
    stores = {n: _stores(root, n) for n in sizes}
    base = _run("baseline", args.dim, args.chunk, [val, val, val], root / "data")["peak_mb"]
    print(f"bare process (import torch + jetbench): peak RSS {base:.0f} MB")
    print(f"{'mode':>8} {'jets':>8} {'wall s':>8} {'peak MB':>8}")
    for mode in ("memory", "stream"):
        peaks = []
        for n in sizes:
            train, test = stores[n]
            r = _run(mode, args.dim, args.chunk, [train, val, test], root / f"data-{mode}-{n}")
            peaks.append(r["peak_mb"])
            print(f"{mode:>8} {n:>8} {r['wall']:>8.1f} {r['peak_mb']:>8.0f}")
        print(f"{mode:>8} peak RSS {sizes[1]}/{sizes[0]} jets: {peaks[1] / peaks[0]:.2f}x; "
              f"above the bare process: {(peaks[1] - base) / max(peaks[0] - base, 1):.2f}x")


if __name__ == "__main__":
    main()
