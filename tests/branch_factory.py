"""Random real-schema branch dicts (JetClass / BTag ROOT layout) for reader and converter tests.

Not physics: just valid values of the right types, fast to build for any number of jets, so IO
tests and benchmarks do not need the generator.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from jetbench.data import schemas


def _jag(rng, counts, fn):
    return ak.unflatten(fn(rng, int(counts.sum())), counts)


def _sorted_pt(rng, counts, scale: float, floor: float, sort: bool) -> np.ndarray:
    """Flat pT values, decreasing within each jet if `sort` (as the real files and generator)."""
    pt = rng.exponential(scale, int(counts.sum())) + floor
    if sort:
        pt = ak.to_numpy(ak.flatten(ak.sort(ak.unflatten(pt, counts), axis=1, ascending=False)))
    return pt


def jetclass_branches(n: int, seed: int = 0, mean_parts: int = 40, sort: bool = True) -> dict:
    """JetClass branches with float64 particle features (like a generator would hand over)."""
    rng = np.random.default_rng(seed)
    counts = np.clip(rng.poisson(mean_parts, n), 1, 160)
    total = int(counts.sum())
    pt = _sorted_pt(rng, counts, 10.0, 0.5, sort)
    phi = rng.uniform(-np.pi, np.pi, total)
    deta = rng.normal(0, 0.3, total)
    charge = rng.choice([-1.0, 0.0, 1.0], total)
    kind = rng.integers(0, 5, total)  # 0 photon 1 neutral hadron 2 charged hadron 3 e 4 mu
    kind = np.where(charge == 0, np.where(kind % 2 == 0, 0, 1), np.where(kind < 3, 2, kind))
    d0err = np.where(charge != 0, rng.uniform(0.01, 0.05, total), 0.0)
    b = {
        "part_px": pt * np.cos(phi), "part_py": pt * np.sin(phi),
        "part_pz": pt * np.sinh(deta), "part_energy": pt * np.cosh(deta),
        "part_deta": deta, "part_dphi": rng.normal(0, 0.3, total),
        "part_d0val": np.where(charge != 0, rng.normal(0, 0.1, total), 0.0), "part_d0err": d0err,
        "part_dzval": np.where(charge != 0, rng.normal(0, 0.1, total), 0.0), "part_dzerr": d0err,
        "part_charge": charge,
        "part_isChargedHadron": (kind == 2) * 1.0, "part_isNeutralHadron": (kind == 1) * 1.0,
        "part_isPhoton": (kind == 0) * 1.0, "part_isElectron": (kind == 3) * 1.0,
        "part_isMuon": (kind == 4) * 1.0,
    }
    out = {k: ak.unflatten(v, counts) for k, v in b.items()}
    jet_pt = rng.uniform(500, 1000, n)
    jet_eta = rng.uniform(-2, 2, n)
    mass = rng.uniform(10, 200, n)
    out.update(jet_pt=jet_pt, jet_eta=jet_eta, jet_phi=rng.uniform(-np.pi, np.pi, n),
               jet_energy=np.sqrt((jet_pt * np.cosh(jet_eta)) ** 2 + mass**2),
               jet_nparticles=counts.astype(np.float64), jet_sdmass=mass,
               **{f"jet_tau{i}": rng.uniform(0, 1, n) for i in range(1, 5)})
    label = rng.integers(0, 10, n)
    for i, name in enumerate(schemas.JETCLASS_LABEL_BRANCHES):
        out[name] = label == i
    return out


def btag_branches(n: int, seed: int = 0, sort: bool = True) -> dict:
    """BTag branches; some tracks come from the jet's b/c hadrons (exact z match)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 20, n)  # some jets above 15 tracks: exercises truncation
    total = int(counts.sum())
    n_had = rng.integers(0, 3, n)
    hz = ak.unflatten(rng.uniform(0.5, 20, int(n_had.sum())), n_had)
    hpdg = ak.unflatten(rng.choice([521, -511, 5122, 421, -411, 4122], int(n_had.sum())), n_had)
    jet_of = np.repeat(np.arange(n), counts)
    origin = rng.integers(0, 3, total)  # 0 primary, 1 from a hadron, 2 elsewhere
    hz_pad = ak.to_numpy(ak.fill_none(ak.pad_none(hz, 2, clip=True), 7.7))
    prod_z = np.select([origin == 0, origin == 1], [0.0, hz_pad[jet_of, 0]],
                       rng.uniform(0.1, 30, total))
    jet_eta = rng.uniform(-2.5, 2.5, n)
    jet_phi = rng.uniform(-np.pi, np.pi, n)
    charge = rng.choice([-1, 1], total)
    pdg = rng.choice([211, 321, 2212, 11, 13], total) * -charge
    b = {
        "trk_pt": _sorted_pt(rng, counts, 5.0, 1.0, sort),
        "trk_eta": jet_eta[jet_of] + rng.normal(0, 0.1, total),
        "trk_phi": np.mod(jet_phi[jet_of] + rng.normal(0, 0.1, total) + np.pi, 2 * np.pi) - np.pi,
        "trk_d0": rng.normal(0, 0.2, total), "trk_d0err": rng.uniform(0.01, 0.05, total),
        "trk_z0": rng.normal(0, 0.2, total), "trk_z0err": rng.uniform(0.01, 0.05, total),
        "trk_charge": charge.astype(np.int64), "trk_vtx_index": np.where(origin == 0, 0, 1),
        "trk_pdg_id": pdg.astype(np.int64), "trk_prod_z": prod_z,
    }
    out = {k: ak.unflatten(v, counts) for k, v in b.items()}
    out.update(hadron_pdgid=hpdg, hadron_z=hz)
    for name in schemas.BTAG_VERTEX_BRANCHES:
        out[name] = ak.unflatten(rng.uniform(0, 5, int(n_had.sum())), n_had)
    out.update(jet_pt=rng.uniform(20, 200, n), jet_eta=jet_eta, jet_phi=jet_phi,
               jet_M=rng.uniform(1, 30, n), n_trks=counts.astype(np.int64),
               jet_flav=rng.choice([0, 4, 5], n).astype(np.int64))
    return out
