"""What each encoder is, without building it: the card `jetbench list encoders` prints.

Building every model to describe it took ~14 s (and imports torch); a card is read from
`cards.yaml` next to this file (built-ins) or from the installed entry points (plug-ins, not
loaded). Whether a checkpoint ships with the package is whether its folder exists:
`jetbench/checkpoints/<name>/cpu/`. Keep this module free of torch and of the model modules.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

ENTRY_POINT_GROUP = "jetbench.encoders"  # the registry's group (registry.py), read here unloaded
CARDS_FILE = Path(__file__).with_name("cards.yaml")
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class EncoderCard:
    name: str
    family: str
    about: str
    paper: str = ""
    targets: list[str] = field(default_factory=list)
    source: str = "built-in"  # or the plug-in's 'module:factory'
    family_about: str = ""  # what the family's method is (an encoder's `about` may narrow it)

    @property
    def pretrained(self) -> bool:
        """Whether the encoder has a pretraining objective (baselines and plug-ins: no/unknown)."""
        return bool(self.targets)

    def shipped_checkpoint(self, scale: str = "cpu") -> Path | None:
        """The checkpoint folder shipped in the package for `scale`, if there is one."""
        path = SHIPPED_DIR / self.name / scale
        return path if path.is_dir() else None


@cache
def _builtin() -> dict[str, EncoderCard]:
    raw = yaml.safe_load(CARDS_FILE.read_text())
    families = raw["families"]
    cards = {}
    for name, entry in raw["encoders"].items():
        fam = families[entry["family"]]
        cards[name] = EncoderCard(name=name, family=entry["family"],
                                  about=entry.get("about", fam["about"]), paper=fam["paper"],
                                  targets=list(entry.get("targets", [])),
                                  family_about=fam["about"])
    return cards


def plugin_cards() -> list[EncoderCard]:
    """Encoders installed by other packages (entry points), described without importing them."""
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return [EncoderCard(name=ep.name, family="plug-in", about=f"from {ep.value}", source=ep.value)
            for ep in sorted(eps, key=lambda e: e.name)]


def encoder_cards() -> list[EncoderCard]:
    """Every registered encoder's card: the built-ins in family order, then plug-ins."""
    cards = dict(_builtin())
    for card in plugin_cards():
        cards.setdefault(card.name, card)
    return list(cards.values())


def builtin_names() -> list[str]:
    return list(_builtin())


__all__ = ["EncoderCard", "builtin_names", "encoder_cards", "plugin_cards"]
