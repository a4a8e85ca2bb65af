"""Branch lists of the real datasets' ROOT files (docs/design.md, 'Datasets') — the contract between the generator
(which writes them) and the readers (which turn them into the canonical format).

Units: momenta/energies in GeV, lengths in mm. Per-constituent branches are jagged (one list per
jet). `part_d0val`/`trk_d0` are *signed* transverse impact parameters in the convention of
`jetbench.data.kinematics.transverse_d0`; readers lifetime-sign them w.r.t. the jet axis.
"""

from __future__ import annotations

JETCLASS_TREE = "tree"
JETCLASS_PARTICLE_BRANCHES = (
    "part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi",
    "part_d0val", "part_d0err", "part_dzval", "part_dzerr", "part_charge",
    "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon",
)
JETCLASS_LABEL_BRANCHES = (
    "label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q",
    "label_Hqql", "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl",
)
JETCLASS_JET_BRANCHES = (
    "jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles", "jet_sdmass",
    "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4",
)
# branches a reader needs (aux_* and jet_sdmass/tau are written but not required)
JETCLASS_REQUIRED = JETCLASS_PARTICLE_BRANCHES + JETCLASS_LABEL_BRANCHES + (
    "jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles")

BTAG_TREE = "tree"
BTAG_TRACK_BRANCHES = (
    "trk_pt", "trk_eta", "trk_phi", "trk_d0", "trk_d0err", "trk_z0", "trk_z0err", "trk_charge",
    "trk_vtx_index", "trk_pdg_id", "trk_prod_z",
)
BTAG_HADRON_BRANCHES = ("hadron_pdgid", "hadron_z")  # weakly decaying b/c hadrons: decay-vertex z
BTAG_VERTEX_BRANCHES = ("true_vtx_x", "true_vtx_y", "true_vtx_z", "true_vtx_L3D")
BTAG_JET_BRANCHES = ("jet_pt", "jet_eta", "jet_phi", "jet_M", "n_trks", "jet_flav")  # flav 0/4/5
BTAG_REQUIRED = BTAG_TRACK_BRANCHES + BTAG_HADRON_BRANCHES + BTAG_JET_BRANCHES
