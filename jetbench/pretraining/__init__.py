"""Self-supervised pretraining of jetbench encoders (single process or torchrun DDP).

`pretrain(name, scale)` trains an encoder with its own `pretrain_loss` on the jetclass pretraining
split and stores it under `checkpoint_dir()/<name>/<scale>/`; `ensure_pretrained(name, scale)` loads
that checkpoint, pretraining first if it is missing.
"""

from jetbench.pretraining.api import default_checkpoint, ensure_pretrained, is_complete, pretrain
from jetbench.pretraining.config import SCALE_DEFAULTS, PretrainConfig
from jetbench.pretraining.schedule import WarmupExpDecay

__all__ = [
    "SCALE_DEFAULTS",
    "PretrainConfig",
    "WarmupExpDecay",
    "default_checkpoint",
    "ensure_pretrained",
    "is_complete",
    "pretrain",
]
