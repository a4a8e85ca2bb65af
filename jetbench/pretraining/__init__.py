"""Self-supervised pretraining of jetbench encoders (single process or torchrun DDP).

`pretrain(name, scale)` fits the encoder's preprocessing on a sample of the jetclass pretraining
split, trains it with its own `pretrain_loss` (AdamW, the paper's warm-up + exponential-decay LR
scaled to the run length, grad clip 1.0, bf16 autocast on CUDA) while a detached linear probe
tracks jet-label accuracy, and stores it under `checkpoint_dir()/<name>/<scale>/` (encoder files +
`pretrain_log.jsonl` + the `pretrain_log.json` summary, written last). `ensure_pretrained(name,
scale)` loads that checkpoint, pretraining first if it is missing.

    jetbench pretrain --encoder mpm_flow --scale cpu             # one process
    jetbench pretrain --encoder mpm_flow --scale cpu --resume    # continue after an interruption
    torchrun --nproc_per_node 2 -m jetbench pretrain --encoder mpm_flow --scale cpu   # DDP

Modules: config (settings per scale), data + sampler (batches), probe, loop (the training loop),
checkpointing (atomic, pickle-free resumable state), api. The optimiser, LR schedule and DDP
helpers are shared with the protocols (`jetbench.core.optim`, `jetbench.core.distributed`).
"""

from jetbench.core.optim import WarmupExpDecay
from jetbench.pretraining.api import default_checkpoint, ensure_pretrained, fitted_on, is_complete, pretrain
from jetbench.pretraining.config import SCALE_DEFAULTS, PretrainConfig

__all__ = [
    "fitted_on",
    "SCALE_DEFAULTS",
    "PretrainConfig",
    "WarmupExpDecay",
    "default_checkpoint",
    "ensure_pretrained",
    "is_complete",
    "pretrain",
]
