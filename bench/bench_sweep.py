"""How much a frozen sweep costs relative to one frozen run, thanks to the embedding cache.

    python bench/bench_sweep.py [--encoder mpm_flow] [--task btag] [--scale cpu]
                                [--budgets 1000,2500,5000,10000,21000] [--seeds 0,1,2]
                                [--backbone-scale paper] [--threads N]

Data and the pretrained encoder are prepared first and not timed. Each measurement starts from
a cold embedding cache (this encoder's cache folder is removed) and an empty results folder:
  single: one `frozen` cell at the task's default budget, seed 0;
  sweep : budgets x seeds `frozen` cells in one process (`jetbench sweep --workers 1`).
The sweep embeds the union of its jets once; what remains per cell is the head's training and
scoring, which the cache cannot remove. Printed: both wall times, the ratio, and the split of
the sweep's time into embedding and per-cell head work, plus the no-cache estimate
(cells x single run).

So the ratio is (E_union + cells x h) / (E_single + h): it approaches the embedding ratio only when
the encoder costs much more per jet than the head's training. `--backbone-scale paper` times the
same sweep with the paper's backbone width and depth (random weights, the input transform of the
pretrained `--scale` model; timing only) instead of the pretrained `--scale` backbone; those cells
run in-process through `run_cell` (what `jetbench sweep --workers 1` does per cell).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from jetbench.core.threads import auto_threads
from jetbench.encoders import create_encoder
from jetbench.evaluation import load_results, run_cell
from jetbench.evaluation.plan import load_encoder, prepare_data
from jetbench.evaluation.sweep import expand, run_local
from jetbench.protocols.data import Split
from jetbench.protocols.embeddings import cache_path
from jetbench.tasks import get_task, task_split


def cold_cache(encoder: torch.nn.Module, store: Path) -> None:
    """Remove this encoder's embedding cache folder (every store's embeddings)."""
    folder = cache_path(encoder, Split.from_store("x", store)).parent
    shutil.rmtree(folder, ignore_errors=True)


def wider_backbone(pretrained: torch.nn.Module, name: str, scale: str) -> torch.nn.Module:
    """`name` at `scale`'s width and depth, random weights, with `pretrained`'s fitted input
    transform (so its embeddings are computed exactly as a real encoder's would be)."""
    model = create_encoder(name, scale)
    model.transform.load_state_dict(pretrained.transform.state_dict())
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="mpm_flow")
    ap.add_argument("--task", default="btag")
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--budgets", default="1000,2500,5000,10000,21000")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--backbone-scale", default=None,
                    help="time a backbone of this scale's width/depth (random weights) instead")
    args = ap.parse_args()
    torch.set_num_threads(auto_threads(args.threads))
    spec = get_task(args.task)
    prepare_data(spec, args.scale, progress=True)
    loaded = load_encoder(args.encoder, args.scale, "cpu")  # model, name, identity
    encoders = {args.encoder: loaded}  # the single run reuses it instead of loading it again
    store = task_split(spec, "train", args.scale)
    wide = args.backbone_scale not in (None, args.scale)
    model = wider_backbone(loaded.model, args.encoder, args.backbone_scale) if wide else loaded.model
    target = model if wide else args.encoder

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    cold_cache(model, store)
    t0 = time.perf_counter()
    single = run_cell(target, args.task, "frozen", scale=args.scale, seed=0,
                      results_dir=tmp / "single", progress=False, encoders=encoders)
    t_single = time.perf_counter() - t0

    cells = expand([args.encoder], [args.task], ["frozen"], [args.budgets], [args.seeds],
                   args.scale)
    cold_cache(model, store)
    t0 = time.perf_counter()
    if wide:
        for c in cells:
            run_cell(model, c.task, c.protocol, budget=c.budget, seed=c.seed, scale=c.scale,
                     results_dir=tmp / "sweep", progress=False)
    else:
        outcomes = run_local(cells, tmp / "sweep", workers=1, threads=args.threads)
        failed = [o for o in outcomes if o["status"] != "done"]
        if failed:
            raise SystemExit(f"cells failed: {failed}")
    t_sweep = time.perf_counter() - t0
    results = load_results(tmp / "sweep")
    cell_s = sum(r.config["run"]["fit_s"] + r.config["run"]["score_s"] for r in results)
    embed_s = sum(r.config["run"]["embed_s"] for r in results)
    embedded = sum(r.config["run"]["embedded_jets"] for r in results)
    backbone = (f"{args.backbone_scale}-size backbone (random weights, "
                f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters)"
                if wide else "pretrained")
    print(f"machine: {torch.get_num_threads()} torch thread(s); task {args.task} "
          f"({args.scale}), encoder {args.encoder} ({backbone}), protocol frozen")
    print(f"single frozen run (budget {single.result.budget}, cold cache): {t_single:8.1f} s")
    print(f"sweep of {len(cells)} cells (budgets {args.budgets} x seeds {args.seeds}), cold "
          f"cache: {t_sweep:8.1f} s")
    run = single.result.config["run"]
    print(f"  single: embedding {run['embed_s']:.1f} s ({run['embedded_jets']} jets), "
          f"head fit+score {run['fit_s'] + run['score_s'] - run['embed_s']:.1f} s")
    print(f"  sweep : embedding {embed_s:.1f} s ({embedded} jets, each once), head fit+score "
          f"{cell_s - embed_s:.1f} s over {len(results)} cells "
          f"({(cell_s - embed_s) / len(results):.1f} s per cell)")
    print(f"  without the cache (cells x single run): ~{len(cells) * t_single:.0f} s")
    print(f"ratio sweep / single = {t_sweep / t_single:.2f}  (target <= 2)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
