"""Baselines without a pretraining objective (docs/design.md, 'Encoders').

`scratch`: the MPM backbone from random initialisation (fine-tuned downstream = "from scratch").
`nobackbone`: feature + id embeddings only, 0 transformer layers — the task head does all the work.
Both still fit the input transform on the pretraining sample, so their inputs match the MPM models.
"""

from __future__ import annotations

from jetbench.encoders.model import BACKBONE_SCALES, SetEncoder
from jetbench.encoders.registry import register_variant


class RandomInitEncoder(SetEncoder):
    """A `SetEncoder` used as initialised: pretraining is skipped."""

    needs_pretraining = False


scratch = register_variant(RandomInitEncoder, "scratch", BACKBONE_SCALES)
nobackbone = register_variant(RandomInitEncoder, "nobackbone", BACKBONE_SCALES, depth=0)
