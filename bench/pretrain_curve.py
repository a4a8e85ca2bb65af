"""Learning curve of a pretraining recipe: JetClass linear-probe accuracy vs CPU minutes.

    python bench/pretrain_curve.py CKPT_DIR [CKPT_DIR ...] [--time-steps 20] [--every 400]

Each CKPT_DIR is a `jetbench pretrain` output folder (its `snapshots/step_*` are written every
`snapshot_every` steps by the cpu recipe). For the random initialisation (the encoder's own
config, seed 0), every snapshot and the final checkpoint, the jet embedding of the jetclass cpu
*train* split is probed with an exact logistic regression (scikit-learn, standardised features):
fitted on the first 8000 train jets, scored on the other 3000 train jets + the 2000 val jets —
never the test split, so the curve can be used to choose a recipe. CPU minutes = steps x the CPU
seconds of one pretraining step of that encoder, measured here on one thread
(`--time-steps` steps after two warm-up steps), plus the preprocessing fit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from jetbench.data.format import JetBatch
from jetbench.data.store import JetStore
from jetbench.datasets import pretrain_split
from jetbench.encoders import create_encoder, load_encoder
from jetbench.encoders.base import tensor_batch
from jetbench.pretraining.data import PretrainData
from jetbench.tasks import task_split


@torch.no_grad()
def embed(model: torch.nn.Module, batch: JetBatch, bs: int = 512) -> np.ndarray:
    """Jet embeddings in batch order (batches grouped by length, no padding work)."""
    model.eval()
    counts = batch.mask.sum(1)
    order = np.argsort(counts, kind="stable")
    out = np.empty((len(batch), model.embed_dim), np.float32)
    for s in range(0, len(order), bs):
        idx = order[s:s + bs]
        p = max(int(counts[idx].max()), 1)
        tb = {k: v[:, :p] for k, v in tensor_batch(batch[idx]).items()
              if k in ("csts", "csts_id", "mask")}
        out[idx] = model.encode(tb)[0].float().numpy()
    return out


def probe(model: torch.nn.Module, fit: JetBatch, held_out: JetBatch) -> float:
    """Accuracy of a logistic regression on the standardised jet embedding (held-out jets)."""
    x_fit, x_out = embed(model, fit), embed(model, held_out)
    scaler = StandardScaler().fit(x_fit)
    clf = LogisticRegression(max_iter=3000).fit(scaler.transform(x_fit), fit.labels)
    return float((clf.predict(scaler.transform(x_out)) == held_out.labels).mean())


def step_cpu_seconds(name: str, data: PretrainData, steps: int, batch_size: int) -> float:
    """CPU seconds of one pretraining step (forward, backward, AdamW) on one thread."""
    torch.manual_seed(0)
    model = create_encoder(name, "cpu")
    model.fit_preprocessing(data.sample(4000, 0), 0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    times = []
    for i in range(steps + 2):
        batch, _ = data.gather(np.sort(rng.choice(len(data), batch_size, replace=False)),
                               torch.device("cpu"))
        t0 = time.process_time()
        loss, _ = model.pretrain_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.process_time() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--time-steps", type=int, default=20)
    ap.add_argument("--every", type=int, default=0,
                    help="Probe only snapshots whose step is a multiple of this (0: all).")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with JetStore(task_split("jetclass", "train", "cpu", progress=False)) as st:
        train = st.read()
    with JetStore(task_split("jetclass", "val", "cpu", progress=False)) as st:
        val = st.read()
    fit, held_out = train[:8000], JetBatch.concat([train[8000:], val])
    data = PretrainData(pretrain_split("cpu", progress=False))
    for folder in args.checkpoints:
        summary = json.loads((folder / "pretrain_log.json").read_text())
        name, cfg = summary["encoder"], summary["config"]
        per_step = step_cpu_seconds(name, data, args.time_steps, int(cfg["batch_size"]))
        fit_min = float(summary.get("fit_preprocessing_seconds", 0.0)) / 60
        torch.manual_seed(int(cfg.get("seed", 0)))  # the run's own random initialisation ...
        init = create_encoder(name, "cpu")
        fitted = {k: v for k, v in load_encoder(folder).state_dict().items()
                  if k.startswith("transform.")}  # ... with its fitted input transform
        init.load_state_dict(fitted, strict=False)
        points = [(0, init)]
        for snap in sorted((folder / "snapshots").glob("step_*")):
            step = int(snap.name.split("_")[1])
            if not args.every or step % args.every == 0:
                points.append((step, load_encoder(snap)))
        points.append((int(summary["steps"]), load_encoder(folder)))
        seen = set()
        for step, model in points:
            if step in seen:
                continue
            seen.add(step)
            acc = probe(model, fit, held_out)
            print(json.dumps({"encoder": name, "step": step,
                              "cpu_min": round(fit_min + step * per_step / 60, 1),
                              "probe": round(acc, 4), "s_per_step": round(per_step, 3)}),
                  flush=True)


if __name__ == "__main__":
    main()
