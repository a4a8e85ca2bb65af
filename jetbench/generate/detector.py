"""A parametric detector model: particle level -> reconstructed tracks and calorimeter objects.

Everything is array-at-a-time over the particles of many events. The parameters are ATLAS/CMS-
like round numbers (documented per field) and are written into every output's metadata.

- Tracker: charged particles with |eta| < `track_eta_max`, pT > `track_pt_min` and a production
  point inside the tracking volume (radius `track_r_max`, |z| < `track_z_max`) are found with a
  pT-dependent efficiency. Found tracks get a smeared pT (sigma/pT = a (+) b pT) and measured
  impact parameters d0/z0 = true + N(0, sigma), sigma = a (+) b / pT; sigma is stored.
- Calorimeters (|eta| < `calo_eta_max`): photons and neutral hadrons, plus charged particles the
  tracker missed (electrons in the ECAL, hadrons in the HCAL; muons are lost), deposit their
  energy in eta x phi cells (ECAL 0.02, HCAL 0.087, CMS-like); each cell's energy is smeared
  (sigma/E = s/sqrt(E) (+) c) and a cell above threshold becomes one massless object along its
  energy-weighted direction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from jetbench.data.kinematics import longitudinal_z0, transverse_d0

_SLOTS = 10_000  # > number of cells along eta or phi
# reconstructed object kinds
PHOTON, NEUTRAL_HADRON, CHARGED_HADRON, ELECTRON, MUON = range(5)


@dataclass(frozen=True)
class DetectorModel:
    """Detector parameters (GeV, mm). Frozen: the metadata of a file must describe its data."""

    track_eta_max: float = 2.5
    track_pt_min: float = 0.5
    track_eff_soft: float = 0.90  # track_pt_min < pT < track_eff_pt_split
    track_eff_hard: float = 0.95  # pT >= track_eff_pt_split
    track_eff_pt_split: float = 1.0
    track_r_max: float = 100.0  # mm, production radius: the track needs hits in the pixel layers
    track_z_max: float = 700.0  # mm
    track_d0_max: float = 3.5  # mm, on the measured |d0| (flavour-tagging track selection)
    track_pt_res_const: float = 0.005  # sigma(pT)/pT = a (+) b*pT
    track_pt_res_slope: float = 1.5e-4  # 1/GeV
    d0_res_const: float = 0.010  # mm   sigma(d0) = 10 um (+) 100 um GeV / pT
    d0_res_pt: float = 0.100  # mm GeV
    z0_res_const: float = 0.020  # mm   sigma(z0) = 20 um (+) 150 um GeV / pT
    z0_res_pt: float = 0.150  # mm GeV
    calo_eta_max: float = 3.0
    ecal_cell: float = 0.02  # eta x phi cell size: neutral deposits in one cell merge
    hcal_cell: float = 0.087
    ecal_stochastic: float = 0.07  # sqrt(GeV)
    ecal_constant: float = 0.01
    ecal_e_min: float = 1.0
    hcal_stochastic: float = 1.0  # sqrt(GeV)
    hcal_constant: float = 0.05
    hcal_e_min: float = 1.0

    def params(self) -> dict[str, float]:
        return asdict(self)

    def d0_sigma(self, pt: np.ndarray) -> np.ndarray:
        return np.hypot(self.d0_res_const, self.d0_res_pt / pt)

    def z0_sigma(self, pt: np.ndarray) -> np.ndarray:
        return np.hypot(self.z0_res_const, self.z0_res_pt / pt)

    def apply(self, p4: np.ndarray, vertex: np.ndarray, pid: np.ndarray, charge: np.ndarray,
              event: np.ndarray, rng: np.random.Generator) -> Reco:
        """Reconstruct the particles of many events (flat arrays, `event` sorted ascending)."""
        n = len(pid)
        # a fixed number of draws per particle, in a fixed order: reproducible for equal inputs
        u_eff, g_pt, g_d0, g_z0 = rng.random(n), *rng.standard_normal((3, n))
        px, py, pz, e = p4.T
        pt = np.hypot(px, py)
        p = np.sqrt(pt**2 + pz**2)
        eta = np.arcsinh(np.divide(pz, pt, out=np.full(n, 1e9), where=pt > 0))
        phi = np.arctan2(py, px)
        apid = np.abs(pid)
        eff = np.where(pt >= self.track_eff_pt_split, self.track_eff_hard, self.track_eff_soft)
        vx, vy, vz = vertex.T
        pt_safe = np.maximum(pt, 1e-9)
        d0_err, z0_err = self.d0_sigma(pt_safe), self.z0_sigma(pt_safe)
        d0 = transverse_d0(vx, vy, phi) + d0_err * g_d0
        z0 = longitudinal_z0(vx, vy, vz, phi, pt_safe, pz) + z0_err * g_z0
        tracked = ((charge != 0) & (np.abs(eta) < self.track_eta_max) & (pt > self.track_pt_min)
                   & (np.hypot(vx, vy) < self.track_r_max) & (np.abs(vz) < self.track_z_max)
                   & (np.abs(d0) < self.track_d0_max) & (u_eff < eff))
        in_calo = np.abs(eta) < self.calo_eta_max
        ecal = in_calo & ~tracked & ((apid == 22) | (apid == 11))
        invisible = (apid == 12) | (apid == 14) | (apid == 16)
        hcal = in_calo & ~tracked & ~ecal & (apid != 13) & ~invisible

        # tracks: pT smeared along the true direction, mass kept
        trk = np.flatnonzero(tracked)
        t_pt = pt[trk]
        sig_pt = np.hypot(self.track_pt_res_const, self.track_pt_res_slope * t_pt)
        scale = np.clip(1.0 + sig_pt * g_pt[trk], 0.05, None)
        mass2 = np.clip(e[trk] ** 2 - p[trk] ** 2, 0.0, None)
        t_mom = p4[trk, :3] * scale[:, None]
        t_e = np.sqrt((t_mom**2).sum(axis=1) + mass2)
        d0, z0, d0_err, z0_err = d0[trk], z0[trk], d0_err[trk], z0_err[trk]
        t_kind = np.select([apid[trk] == 11, apid[trk] == 13], [ELECTRON, MUON], CHARGED_HADRON)

        cells = self._calorimeter(p4, eta, phi, event, ecal, hcal, rng)
        zeros = np.zeros(len(cells["event"]))
        ev = np.concatenate([event[trk], cells["event"]])
        order = np.argsort(ev, kind="stable")  # objects grouped by event, tracks first
        return Reco(
            p4=np.concatenate([np.column_stack([t_mom, t_e]), cells["p4"]])[order],
            kind=np.concatenate([t_kind, cells["kind"]]).astype(np.int8)[order],
            charge=np.concatenate([charge[trk], zeros])[order],
            d0=np.concatenate([d0, zeros])[order],
            d0_err=np.concatenate([d0_err, zeros])[order],
            z0=np.concatenate([z0, zeros])[order],
            z0_err=np.concatenate([z0_err, zeros])[order],
            source=np.concatenate([trk, cells["source"]])[order],
            event=ev[order],
        )

    def _calorimeter(self, p4, eta, phi, event, ecal, hcal, rng) -> dict[str, np.ndarray]:
        """Sum ECAL/HCAL deposits per cell, smear each cell's energy, apply the thresholds."""
        dep = np.flatnonzero(ecal | hcal)
        is_e = ecal[dep]
        size = np.where(is_e, self.ecal_cell, self.hcal_cell)
        ieta = np.floor((eta[dep] + self.calo_eta_max) / size).astype(np.int64)
        iphi = np.floor((phi[dep] + np.pi) / size).astype(np.int64)
        # one integer per (event, calorimeter, cell); sorted keys keep events in order
        key = ((event[dep] * 2 + is_e) * _SLOTS + ieta) * _SLOTS + iphi
        uniq, inv = np.unique(key, return_inverse=True)
        sums = np.column_stack([np.bincount(inv, weights=p4[dep, k], minlength=len(uniq))
                                for k in range(4)]).reshape(-1, 4)
        energy_true = sums[:, 3]
        # the most energetic particle of a cell stands for it (truth link)
        lead = np.lexsort((-p4[dep, 3], inv))
        first = np.ones(len(lead), bool)
        first[1:] = inv[lead][1:] != inv[lead][:-1]
        source = dep[lead[first]]
        system = uniq // (_SLOTS * _SLOTS)
        cell_e = system % 2 == 1
        stoch = np.where(cell_e, self.ecal_stochastic, self.hcal_stochastic)
        const = np.where(cell_e, self.ecal_constant, self.hcal_constant)
        sigma = np.hypot(stoch / np.sqrt(np.maximum(energy_true, 1e-9)), const)
        energy = energy_true * (1.0 + sigma * rng.standard_normal(len(uniq)))
        keep = energy > np.where(cell_e, self.ecal_e_min, self.hcal_e_min)
        direction = sums[:, :3] / np.maximum(np.linalg.norm(sums[:, :3], axis=1), 1e-12)[:, None]
        return {
            "p4": np.column_stack([direction * energy[:, None], energy])[keep],
            "kind": np.where(cell_e, PHOTON, NEUTRAL_HADRON)[keep],
            "source": source[keep],
            "event": (system // 2)[keep],
        }


@dataclass
class Reco:
    """Reconstructed objects (tracks and calorimeter objects) as flat arrays."""

    p4: np.ndarray  # float64 [m, 4]
    kind: np.ndarray  # int8 [m]: PHOTON .. MUON
    charge: np.ndarray  # float64 [m], 0 for calorimeter objects
    d0: np.ndarray  # mm, measured, signed (kinematics.transverse_d0 convention)
    d0_err: np.ndarray
    z0: np.ndarray
    z0_err: np.ndarray
    source: np.ndarray  # int64 [m]: particle each object came from (a cell: its leading one)
    event: np.ndarray  # int64 [m], ascending

    @property
    def is_track(self) -> np.ndarray:
        return self.kind >= CHARGED_HADRON
