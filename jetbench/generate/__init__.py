"""The embedded Monte-Carlo generator: Pythia 8 + FastJet + a parametric detector.

Profiles: `jetclass` (10 classes of boosted R = 0.8 jets, truth-matched), `btag` (R = 0.4 jets
with charged tracks, light/c/b, vertex and track-origin truth), `toptag` (top vs QCD R = 0.8
jets, 4-vectors only) and `quarkgluon` (Z + jet, particle-level R = 0.4 quark/gluon jets with
PDG ids). Output is the real datasets' schema, written as the canonical HDF5 store or in the
dataset's own file format.
"""

from __future__ import annotations

from jetbench.generate.api import generate_branches, generate_file, metadata
from jetbench.generate.detector import DetectorModel
from jetbench.generate.processes import GENERATOR_VERSION, PROFILES

__all__ = ["GENERATOR_VERSION", "PROFILES", "DetectorModel", "generate_branches",
           "generate_file", "metadata"]
