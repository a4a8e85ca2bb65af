"""Maintainers: copy finished reference checkpoints into the package and pin them.

    python tools/ship_checkpoints.py --scale cpu mpm_reg mpm_flow ... [--from DIR]

For each encoder, the checkpoint folder DIR/<name>/<scale> (default DIR: the checkpoint cache,
$JETBENCH_CHECKPOINTS) — made by `jetbench pretrain --encoder <name> --scale <scale>` with the
reference recipe — is copied to jetbench/checkpoints/<name>/<scale>/ (weights, config and the
pretraining summary; no snapshots, no logs) and its files' sha256 are written to
jetbench/checkpoints/manifest.json, which `jetbench run` checks before loading.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from jetbench.core.paths import checkpoint_dir
from jetbench.encoders.shipped import ROOT, record

FILES = ("model.safetensors", "config.json", "pretrain_log.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("encoders", nargs="+")
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--from", dest="source", type=Path, default=None)
    args = ap.parse_args()
    source = args.source or checkpoint_dir()
    for name in args.encoders:
        src = source / name / args.scale
        summary = json.loads((src / "pretrain_log.json").read_text())
        dst = ROOT / name / args.scale
        dst.mkdir(parents=True, exist_ok=True)
        for f in FILES:
            shutil.copy2(src / f, dst / f)
            (dst / f).chmod(0o644)
        cfg = summary.get("config", {})
        entry = record(name, args.scale, dst, extra={
            "steps": summary.get("steps"), "batch_size": cfg.get("batch_size"),
            "threads": cfg.get("threads"), "torch": summary.get("torch"),
            "cpu": summary.get("cpu"), "kernels": summary.get("kernels"),
            "train_seconds": summary.get("train_seconds"), "data_hash": summary.get("data_hash")})
        size = sum((dst / f).stat().st_size for f in FILES) / 1e6
        print(f"{name}/{args.scale}: {size:.1f} MB, weights {entry['files']['model.safetensors'][:16]}")


if __name__ == "__main__":
    main()
