"""Reference checkpoints that ship inside the package: `jetbench/checkpoints/<name>/<scale>/`.

At the cpu scale every reference encoder comes pretrained with the package (made by the
reference recipe, docs/pretraining.md), so `jetbench run` needs neither the pretraining data nor
the pretraining compute. `manifest.json` pins the sha256 of every shipped file and records the
command that re-makes it; a file that does not match its pin is refused before it is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json
from jetbench.core.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[1] / "checkpoints"
MANIFEST = "manifest.json"
REMAKE = "jetbench pretrain --encoder {name} --scale {scale} --check-shipped"


@dataclass(frozen=True)
class Shipped:
    """A shipped checkpoint: its folder and the manifest entry that pins it."""

    name: str
    scale: str
    path: Path
    files: dict[str, str]  # file name -> sha256
    info: dict[str, Any]

    @property
    def weights_sha256(self) -> str:
        return self.files["model.safetensors"]


def _manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise JetbenchError(f"{path}: unreadable checkpoint manifest ({err})") from None
    if not isinstance(data, dict):
        raise JetbenchError(f"{path}: the checkpoint manifest must be a JSON object")
    return data


def shipped(name: str, scale: str, root: Path = ROOT) -> Shipped | None:
    """The shipped checkpoint of `name` at `scale`, or None when the package has none."""
    entry = _manifest(root).get(f"{name}/{scale}")
    if entry is None:
        return None
    return Shipped(name, scale, root / name / scale, dict(entry["files"]), dict(entry))


def list_shipped(root: Path = ROOT) -> list[str]:
    """'name/scale' keys of every shipped checkpoint."""
    return sorted(_manifest(root))


def verify(ship: Shipped) -> Path:
    """The checkpoint folder, after checking every pinned file's sha256 (one-line error if not)."""
    for fname, want in ship.files.items():
        path = ship.path / fname
        if not path.is_file():
            raise JetbenchError(f"shipped checkpoint {ship.name}/{ship.scale}: {path} is missing "
                                "(a broken install? reinstall jetbench)")
        got = sha256_file(str(path))
        if got != want:
            raise JetbenchError(f"shipped checkpoint {ship.name}/{ship.scale}: {path} has sha256 "
                                f"{got[:16]}…, the manifest pins {want[:16]}…; refusing to load it")
    return ship.path


def record(name: str, scale: str, folder: Path, root: Path = ROOT,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pin the files of a checkpoint folder already copied to `root/name/scale` in the manifest
    (maintainers' tool: `bench/ship_checkpoints.py`)."""
    files = {p.name: sha256_file(str(p)) for p in sorted(folder.iterdir())
             if p.is_file() and p.name in ("model.safetensors", "config.json")}
    entry = {"files": files, "remake": REMAKE.format(name=name, scale=scale), **(extra or {})}
    data = _manifest(root)
    data[f"{name}/{scale}"] = entry
    write_json(root / MANIFEST, dict(sorted(data.items())))
    return entry
