"""Names of the canonical features, and what a reader puts where a source has no value.

A dataset definition lists the features its source provides (`features` in its YAML); readers
fill every other one with a fixed neutral value, and `JetBatch.features_present` /
`JetBatch.feature_mask` tell an encoder which columns carry information:

- impact parameters (d0, d0_err, z0, z0_err) missing -> 0.0, the value a neutral particle has in
  the sources that do measure them (JetClass gives photons and neutral hadrons d0 = z0 = 0 with
  zero errors), so a constituent without them looks like a neutral one, never like a displaced
  track;
- particle id missing -> `MISSING_ID` = 2 ("h0", neutral hadron): consistent with the zero impact
  parameters above (charged particles always carry a non-zero d0 error), and the generic
  calorimeter object, not a photon or lepton claim. Encoders embed ids 0..7 only, so a
  separate "unknown" code would change every encoder's input size;
- pT, deta, dphi are required: every dataset has constituent momenta.
"""

from __future__ import annotations

CST_FEATURES = ("pt", "deta", "dphi", "d0", "d0_err", "z0", "z0_err")
JET_FEATURES = ("pt", "eta", "phi", "mass", "n_constituents")
CST_IDS = ("photon", "h-", "h0", "h+", "e-", "e+", "mu-", "mu+")
TRACK_TYPES = ("primary", "c", "b", "other")
# every per-constituent input an encoder reads: the 7 feature columns, then the particle id
FEATURES = (*CST_FEATURES, "id")
REQUIRED_FEATURES = ("pt", "deta", "dphi")
IMPACT_PARAMETERS = ("d0", "d0_err", "z0", "z0_err")
MISSING_ID = CST_IDS.index("h0")
# per-constituent truth a dataset may carry besides the features (track datasets)
EXTRA_FIELDS = ("vtx_id", "track_type")
