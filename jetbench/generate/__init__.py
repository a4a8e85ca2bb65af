"""The embedded Monte-Carlo generator (docs/design.md, 'Generator'): Pythia 8 + FastJet + a parametric detector.

Profiles: `jetclass` (10 classes of boosted R = 0.8 jets, truth-matched) and `btag` (R = 0.4
jets with charged tracks, light/c/b, vertex and track-origin truth). Output is the real
datasets' branch schema, written as the canonical HDF5 store or as a ROOT TTree.
"""

from __future__ import annotations

from jetbench.generate.api import generate_branches, generate_file, metadata
from jetbench.generate.detector import DetectorModel
from jetbench.generate.processes import GENERATOR_VERSION, PROFILES

__all__ = ["GENERATOR_VERSION", "PROFILES", "DetectorModel", "generate_branches",
           "generate_file", "metadata"]
