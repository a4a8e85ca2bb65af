"""bf16 autocast vs fp32 for a CPU pretraining step, measured in one run (ratio printed).

    python bench/bench_pretrain_precision.py [--encoders mpm_reg,mpm_flow] [--threads 1]

The same batches, masks and weights in both precisions (no optimiser step, so the weights stay
fixed); prints the median step time of each, their ratio and the mean loss of each: bf16 would be
worth having on CPU only where it is faster and its loss follows fp32.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from jetbench.datasets import pretrain_split
from jetbench.encoders import create_encoder
from jetbench.pretraining.data import PretrainData


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoders", default="mpm_reg,mpm_flow,mpmv1_kmeans")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = PretrainData(pretrain_split("cpu", progress=False))
    rng = np.random.default_rng(0)
    batches = [np.sort(rng.choice(len(data), args.batch, replace=False)) for _ in range(args.steps + 2)]
    for name in args.encoders.split(","):
        torch.manual_seed(0)
        model = create_encoder(name, "cpu")
        model.fit_preprocessing(data.sample(4000, 0), 0)
        out = {"encoder": name, "threads": args.threads, "batch": args.batch}
        for mode in ("fp32", "bf16", "fp32", "bf16"):  # interleaved: drifts in load hit both
            times, losses = [], []
            for i, idx in enumerate(batches):
                batch, _ = data.gather(idx, torch.device("cpu"))
                torch.manual_seed(i)
                t0 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                    loss, _ = model.pretrain_loss(batch)
                model.zero_grad(set_to_none=True)
                loss.backward()
                if i >= 2:
                    times.append(time.perf_counter() - t0)
                    losses.append(float(loss.detach()))
            out.setdefault(f"{mode}_ms", []).append(1000 * float(np.median(times)))
            out[f"{mode}_loss"] = round(float(np.mean(losses)), 4)
        fp, bf = np.mean(out.pop("fp32_ms")), np.mean(out.pop("bf16_ms"))
        out.update(fp32_ms=round(fp, 1), bf16_ms=round(bf, 1), bf16_over_fp32=round(bf / fp, 2))
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
