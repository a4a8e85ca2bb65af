"""Track geometry conventions shared by the generator and every reader (one definition only).

d0 convention (ATLAS-like): for a straight track through production vertex v with azimuth phi,
d0 = -vx sin(phi) + vy cos(phi), i.e. the point of closest approach is (-d0 sin phi, d0 cos phi).
Lifetime sign of d0 (docs/design.md, 'Data format'): sign of (PCA - PV) . jet axis in the transverse plane, which is
sign(d0 * sin(phi_jet - phi_trk)). z0 is lifetime-signed as |z0| sign(z0 (eta_jet - eta_trk)).
"""

from __future__ import annotations

import numpy as np


def wrap_phi(dphi):
    """Map an azimuthal difference into [-pi, pi)."""
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def transverse_d0(vx, vy, phi):
    """Signed transverse impact parameter of a straight track from (vx, vy) with azimuth phi."""
    return -vx * np.sin(phi) + vy * np.cos(phi)


def longitudinal_z0(vx, vy, vz, phi, pt, pz):
    """z of the track at its transverse point of closest approach to the beam line."""
    return vz - (vx * np.cos(phi) + vy * np.sin(phi)) * pz / pt


def lifetime_signed_d0(d0, dphi):
    """|d0| signed positive when the PCA lies on the jet side; dphi = phi_trk - phi_jet."""
    return np.abs(d0) * np.where(d0 * np.sin(-dphi) >= 0, 1.0, -1.0).astype(np.asarray(d0).dtype)


def lifetime_signed_z0(z0, deta):
    """|z0| sign(z0 (eta_jet - eta_trk)); deta = eta_trk - eta_jet (the paper code's rule)."""
    return np.abs(z0) * np.where(z0 * (-deta) >= 0, 1.0, -1.0).astype(np.asarray(z0).dtype)


def pt_eta_phi(px, py, pz):
    """pT, pseudorapidity and azimuth of momenta (pT = 0 gives eta = 0; callers drop those)."""
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pt), where=pt > 0))
    return pt, eta, np.arctan2(py, px)


def sum_per_jet(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-jet sums of flat rows (jets stored one after the other, `counts` rows each)."""
    jet_of = np.repeat(np.arange(len(counts)), counts)
    cols = values.reshape(len(values), -1)
    out = np.stack([np.bincount(jet_of, weights=cols[:, k], minlength=len(counts))
                    for k in range(cols.shape[1])], axis=1)
    return out.reshape((len(counts),) + values.shape[1:])
