"""Split definitions and their materialisation: which jets each split of each scale holds, and
the canonical stores they become (DataSpec, parts, cache, locks, real-file checks, CWoLa mixing,
manifests). The YAML of the shared definitions ships in `definitions/`.

    get_data(name) -> DataSpec                      a shared split definition
    data_split(data, split, scale, rule) -> Path    its store (or file-set index over real files,
                                                    read in place), produced on first use, cached
    pretrain_split(scale) -> Path                   the jetclass pretraining store
    check_disjoint(paths), jet_identities(path)     no jet in two splits
"""

from jetbench.datasets.cache import stable_seed
from jetbench.datasets.manifest import check_disjoint, jet_identities, record_manifest, split_entry
from jetbench.datasets.mixing import cwola_layout, cwola_rule
from jetbench.datasets.registry import get_data, load_definitions
from jetbench.datasets.spec import PRETRAIN_SPLIT, SPLITS, DataSpec, FilePart, GeneratedPart
from jetbench.datasets.splits import PRETRAIN_DATA, data_split, pretrain_split

__all__ = [
    "PRETRAIN_DATA", "PRETRAIN_SPLIT", "SPLITS", "DataSpec", "FilePart", "GeneratedPart",
    "check_disjoint", "cwola_layout", "cwola_rule", "data_split", "get_data", "jet_identities",
    "load_definitions", "pretrain_split", "record_manifest", "split_entry", "stable_seed",
]
