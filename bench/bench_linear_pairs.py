"""Wall time of the `linear` protocol's vertexing fit: generic path vs precomputed pair design.

Not a test: prints times measured in one run. Both fits solve the same problem (standardised
embeddings, full-batch L-BFGS per L2 strength, best L2 on validation) on a synthetic vertexing
problem of realistic size. The generic path runs `PairHead(linear=True)` and `PairLoss` on every
chunk per L-BFGS evaluation (pair indexing, |z_i - z_j| gather, [B, P, P] scatters); the design
path builds the rows |z_i - z_j| and the same-vertex targets once and evaluates one linear layer
and the flat focal loss (`jetbench/protocols/linear_fit.py`). The results must be bit-identical;
the script says whether they are.

    python bench/bench_linear_pairs.py [--jets 5000] [--tracks 12] [--dim 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from jetbench.core.threads import auto_threads
from jetbench.protocols.data import EmbeddingSource
from jetbench.protocols.linear_fit import LinearFit, StandardisedHead, fit_linear
from jetbench.tasks.heads import PairHead
from jetbench.tasks.kinds.vertex import PairLoss

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))  # tests/vertex_factory.py: the synthetic problem


def timed_fit(design: bool, train: EmbeddingSource, val: EmbeddingSource, dim: int,
              max_iter: int, chunk: int) -> tuple[float, StandardisedHead, LinearFit]:
    model = StandardisedHead(PairHead(dim, linear=True), dim)
    t0 = time.perf_counter()
    fit = fit_linear(model, PairLoss(3.0, None), train, val, max_iter=max_iter, chunk=chunk,
                     design=design)
    return time.perf_counter() - t0, model, fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=5000, help="training jets (validation: 1/5)")
    ap.add_argument("--tracks", type=float, default=12.0, help="mean tracks per jet")
    ap.add_argument("--slots", type=int, default=30)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    from vertex_factory import pair_source
    torch.set_num_threads(auto_threads(args.threads))
    train = pair_source(args.jets, 0, args.slots, args.dim, mean_tracks=args.tracks)
    val = pair_source(max(args.jets // 5, 1), 1, args.slots, args.dim,
                      mean_tracks=args.tracks)
    pairs = int((train.counts * (train.counts - 1) // 2).sum())
    print(f"machine: {torch.get_num_threads()} torch thread(s); {args.jets} train jets, "
          f"{len(val)} val, {train.counts.mean():.1f} tracks/jet, {pairs} train pairs, "
          f"dim {args.dim}, L2 grid of 3, max_iter {args.max_iter}, chunk {args.chunk}")
    t_gen, m_gen, f_gen = timed_fit(False, train, val, args.dim, args.max_iter, args.chunk)
    t_des, m_des, f_des = timed_fit(True, train, val, args.dim, args.max_iter, args.chunk)
    s_gen, s_des = m_gen.state_dict(), m_des.state_dict()
    inputs, _ = val.get(np.arange(len(val)), "cpu")
    with torch.no_grad():
        p_gen, p_des = (m(inputs["jet"], inputs["tokens"], inputs["mask"]) for m in (m_gen, m_des))
    same = (all(torch.equal(s_gen[k], s_des[k]) for k in s_gen) and torch.equal(p_gen, p_des)
            and (f_gen.l2, f_gen.iterations, f_gen.train_loss, f_gen.val_losses)
            == (f_des.l2, f_des.iterations, f_des.train_loss, f_des.val_losses))
    print(f"chosen L2 {f_gen.l2:g}, {f_gen.iterations} evaluations, val loss {f_gen.val_loss:.6f}")
    print(f"generic (head + loss per evaluation)  {t_gen:8.1f} s")
    print(f"design (rows built once)              {t_des:8.1f} s   speed-up {t_gen / t_des:5.1f}x")
    print(f"bit-identical (weights, L2, losses, evaluations, predictions): {same}")


if __name__ == "__main__":
    main()
