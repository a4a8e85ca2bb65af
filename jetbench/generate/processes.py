"""Pythia 8 configuration of every event source the generator profiles draw from.

A *source* is one Pythia set-up (hard process + forced decays). A *class* of a profile draws its
shards from one or more sources in turn (shard k uses sources[k % len]), e.g. H -> WW* -> l nu qq
alternates between "W+ leptonic" and "W- leptonic" so both charge assignments are generated
without throwing events away.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# bump whenever generated output for a given (profile, n, seed, classes) can change
GENERATOR_VERSION = "1.0"

# Settings shared by every source: 13 TeV pp, quiet, production vertices on, and Pythia doing
# the decays of everything with c*tau0 < 1000 mm (so K0S, Lambda, hyperons decay in the tracker,
# while pi+-, K+-, K0L, mu, n are stable).
COMMON_SETTINGS = (
    "Beams:eCM = 13000.",
    "Print:quiet = on",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showProcesses = off",
    "Init:showMultipartonInteractions = off",
    "Next:numberCount = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowEvent = 0",
    "Fragmentation:setVertices = on",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 1000.",
    "Random:setSeed = on",
)

_Z_TO_NUNU = ("23:onMode = off", "23:onIfAny = 12 14 16")
_ZH = ("HiggsSM:ffbar2HZ = on", *_Z_TO_NUNU)
_W_TO_QQ = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_W_TO_LNU = ("24:onMode = off", "24:onIfAny = 11 13")  # e, mu (tau excluded, as for Tbl)
_TTBAR = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on")
_BOOSTED = ("PhaseSpace:pTHatMin = 450.",)
_14TEV = "Beams:eCM = 14000."  # read after COMMON_SETTINGS' 13 TeV, so it wins
_QG_PTHAT = ("PhaseSpace:pTHatMin = 470.", "PhaseSpace:pTHatMax = 620.")

SOURCES: dict[str, tuple[str, ...]] = {
    # jetclass profile (boosted, pTHat > 450 GeV)
    "qcd_boosted": ("HardQCD:all = on", *_BOOSTED),
    "zh_bb": (*_ZH, "25:onMode = off", "25:onIfMatch = 5 -5", *_BOOSTED),
    "zh_cc": (*_ZH, "25:onMode = off", "25:onIfMatch = 4 -4", *_BOOSTED),
    "zh_gg": (*_ZH, "25:onMode = off", "25:onIfMatch = 21 21", *_BOOSTED),
    "zh_ww4q": (*_ZH, "25:onMode = off", "25:onIfMatch = 24 -24", *_W_TO_QQ, *_BOOSTED),
    "zh_wwlnuqq_plus": (*_ZH, "25:onMode = off", "25:onIfMatch = 24 -24", "24:onMode = off",
                        "24:onPosIfAny = 11 13", "24:onNegIfAny = 1 2 3 4 5", *_BOOSTED),
    "zh_wwlnuqq_minus": (*_ZH, "25:onMode = off", "25:onIfMatch = 24 -24", "24:onMode = off",
                         "24:onNegIfAny = 11 13", "24:onPosIfAny = 1 2 3 4 5", *_BOOSTED),
    "z_parton": ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                 "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 1 2 3 4 5", *_BOOSTED),
    "w_parton": ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
                 *_W_TO_QQ, *_BOOSTED),
    "tt_hadronic": (*_TTBAR, *_W_TO_QQ, *_BOOSTED),
    "tt_leptonic": (*_TTBAR, *_W_TO_LNU, *_BOOSTED),
    # btag profile (resolved jets, pT > 20 GeV)
    "tt_inclusive": _TTBAR,
    "qcd_low": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 30."),
    "qcd_low_ccbar": ("HardQCD:hardccbar = on", "PhaseSpace:pTHatMin = 30."),
    "qcd_low_bbbar": ("HardQCD:hardbbbar = on", "PhaseSpace:pTHatMin = 30."),
    # toptag profile (14 TeV like the Top Tagging Landscape; jets 550-650 GeV)
    "toptag_qcd": (_14TEV, "HardQCD:all = on", "PhaseSpace:pTHatMin = 500."),
    "toptag_tt": (_14TEV, *_TTBAR, *_W_TO_QQ, "PhaseSpace:pTHatMin = 500."),
    # quarkgluon profile (14 TeV, Z -> nu nu + jet; jets 500-550 GeV). The jet recoils against
    # the Z, so its pT follows pTHat up to radiation out of the R = 0.4 cone; a 470-620 GeV
    # pTHat range keeps the events that can land in the window and loses only jets that gained
    # > 30 or lost > 70 GeV (a few per cent), at ~2x the rate of an open-ended range
    "zg_nunu": (_14TEV, "WeakBosonAndParton:qqbar2gmZg = on", "WeakZ0:gmZmode = 2",
                *_Z_TO_NUNU, *_QG_PTHAT),
    "zq_nunu": (_14TEV, "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
                *_Z_TO_NUNU, *_QG_PTHAT),
}


@dataclass(frozen=True)
class Profile:
    """What a profile generates: its dataset, classes and the sources of each class."""

    name: str
    dataset: str
    class_sources: dict[str, tuple[str, ...]]
    shard_jets: int  # jets per shard (the unit of work and of seeding)
    chunk_events: int  # events generated and clustered together


PROFILES: dict[str, Profile] = {
    "jetclass": Profile(
        "jetclass", "jetclass",
        {
            "QCD": ("qcd_boosted",), "Hbb": ("zh_bb",), "Hcc": ("zh_cc",), "Hgg": ("zh_gg",),
            "H4q": ("zh_ww4q",), "Hqql": ("zh_wwlnuqq_plus", "zh_wwlnuqq_minus"),
            "Zqq": ("z_parton",), "Wqq": ("w_parton",), "Tbqq": ("tt_hadronic",),
            "Tbl": ("tt_leptonic",),
        },
        shard_jets=50, chunk_events=8,
    ),
    # every class alternates ttbar and low-pT QCD shards (QCD with c/b-quark pair production
    # for the c/b classes), so the three classes share similar jet kinematics
    "btag": Profile(
        "btag", "btag",
        {"light": ("tt_inclusive", "qcd_low"), "c": ("tt_inclusive", "qcd_low_ccbar"),
         "b": ("tt_inclusive", "qcd_low_bbbar")},
        shard_jets=200, chunk_events=16,
    ),
    "toptag": Profile("toptag", "toptag", {"QCD": ("toptag_qcd",), "top": ("toptag_tt",)},
                      shard_jets=50, chunk_events=8),
    "quarkgluon": Profile("quarkgluon", "quarkgluon", {"gluon": ("zg_nunu",), "quark": ("zq_nunu",)},
                          shard_jets=100, chunk_events=16),
}


def pythia_settings(source: str) -> tuple[str, ...]:
    return COMMON_SETTINGS + SOURCES[source]


def derive_seed(*parts: object) -> int:
    """A Pythia seed in [1, 900_000_000] from any tuple of values (stable across runs/platforms)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") % 900_000_000 + 1
