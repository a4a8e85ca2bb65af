"""`jetbench validate-encoder`: does an encoder keep the contract every task relies on?

The heads and protocols assume (docs/design.md, 'Encoders'): complete metadata; `encode(batch)` returns
(jet [B, D] float32, tokens [B, P, D] float32, mask [B, P] bool) with D = `embed_dim`; finite
outputs; tokens permutation-equivariant and the jet embedding permutation-invariant; extra padded
slots change nothing; in eval mode a jet's embedding does not depend on the other jets in its batch,
and the same input gives the same output. A violation shows up downstream only as a quietly bad
score, so each property is measured here on random jets, one line per check with the deviation.

A named encoder is also built twice from different global random states: `jetbench run` builds a
plug-in that needs no pretraining afresh for every cell, so an unseeded factory would give each
run other weights (a new revision) and finished results would be silently redone with other
numbers (issue 13).
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from jetbench.core.errors import JetbenchError
from jetbench.data.format import JetBatch
from jetbench.encoders import Encoder, PretrainableEncoder, create_encoder, load_encoder
from jetbench.encoders.identity import weights_hash

META_FIELDS = ("name", "revision", "n_params", "embed_dim", "pretraining_data", "license")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class ValidationReport:
    encoder: str
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def format(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"validate-encoder: {self.encoder}"]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"{'PASS' if c.passed else 'FAIL'}  {c.name:<{width}}  {c.detail}"
                  for c in self.checks]
        n_ok = sum(c.passed for c in self.checks)
        lines.append(f"{n_ok}/{len(self.checks)} checks passed"
                     + ("" if self.passed else " - the encoder does not keep the contract"))
        return "\n".join(lines)


def synthetic_jets(n: int, n_slots: int, seed: int) -> JetBatch:
    """Random jets in the canonical format and units (pT-sorted, padded), lengths 1..n_slots.

    Physics does not matter here, only that the values are in the ranges real inputs have, so
    an encoder's own input transform sees plausible numbers.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n_slots + 1, size=n)
    counts[: min(n, 2)] = (n_slots, 1)[: min(n, 2)]  # always a full and a one-particle jet
    mask = np.arange(n_slots)[None] < counts[:, None]
    ids = rng.integers(0, 8, size=(n, n_slots))
    csts = np.zeros((n, n_slots, 7), np.float32)
    csts[..., 0] = -np.sort(-rng.exponential(15.0, size=(n, n_slots)), axis=1) + 0.5
    csts[..., 1:3] = rng.normal(0.0, 0.15, size=(n, n_slots, 2))
    csts[..., 3] = rng.normal(0.0, 0.05, size=(n, n_slots))  # d0 [mm]
    csts[..., 4] = rng.uniform(0.005, 0.05, size=(n, n_slots))
    csts[..., 5] = rng.normal(0.0, 0.08, size=(n, n_slots))  # z0 [mm]
    csts[..., 6] = rng.uniform(0.01, 0.08, size=(n, n_slots))
    neutral = (ids == 0) | (ids == 2)
    csts[..., 3:][neutral] = 0.0
    csts[~mask] = 0.0
    jets = np.stack([csts[..., 0].sum(1), rng.normal(0, 1, n), rng.uniform(-3, 3, n),
                     rng.uniform(10, 200, n), counts], axis=1).astype(np.float32)
    return JetBatch(csts=csts, csts_id=np.where(mask, ids, 0).astype(np.int8), mask=mask,
                    jets=jets, labels=np.zeros(n, np.int16))


def to_tensors(b: JetBatch) -> dict[str, Tensor]:
    """The encoder's tensor batch (docs/design.md, 'Encoders'): float32 csts, int64 ids, bool
    mask."""
    return {"csts": torch.from_numpy(b.csts.copy()),
            "csts_id": torch.from_numpy(b.csts_id.astype(np.int64)),
            "mask": torch.from_numpy(b.mask.copy())}


def load_model(spec: str, scale: str) -> nn.Module:
    """A registered name, an entry point, a 'module:factory' spec, or a checkpoint folder."""
    if Path(spec).is_dir():
        return load_encoder(spec)
    return create_encoder(spec, scale=scale)


def _build_seeded(spec: str, scale: str, seed: int) -> tuple[nn.Module, str]:
    """Build `spec` with torch, numpy and `random` seeded by `seed`; return it and its weights
    hash. The caller's random states are restored afterwards."""
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            model = load_model(spec, scale)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return model, weights_hash(model)


def build_twice(spec: str, scale: str, seed: int) -> tuple[nn.Module, Check]:
    """The encoder `spec` built once, and the 'reproducible' check: a second build from another
    global random state must have the same weights, or the factory is not seeded."""
    if Path(spec).is_dir():
        return load_model(spec, scale), Check("reproducible", True,
                                              "weights read from the checkpoint folder")
    model, first = _build_seeded(spec, scale, seed)
    again, second = _build_seeded(spec, scale, seed + 7919)
    del again
    if first == second:
        return model, Check("reproducible", True, f"two builds from different random states have "
                                                  f"the same weights (sha256 {first[:12]})")
    if isinstance(model, PretrainableEncoder):  # run uses its checkpoint, pretrained seeded
        return model, Check("reproducible", True, "initial weights differ between builds; "
                            "jetbench pretrains it with a fixed seed and runs the checkpoint")
    return model, Check("reproducible", False, (
        f"two builds of '{spec}' have different weights (sha256 {first[:12]} vs {second[:12]}): "
        "the factory is not seeded, so every run would get other weights and redo finished "
        "results with other numbers; seed it, e.g. torch.manual_seed(0) in the factory before "
        "building the model, or load fixed weights from a file"))


def _maxdev(a: Tensor, b: Tensor) -> float:
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


class _Validator:
    """Holds the model, the test jets and the reference outputs the checks compare against."""

    def __init__(self, model: nn.Module, jets: JetBatch, atol: float) -> None:
        self.model, self.jets, self.atol = model, jets, atol
        self.batch = to_tensors(jets)
        self._ref: tuple[Tensor, Tensor, Tensor] | None = None

    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        with torch.no_grad():
            out = self.model.encode(batch)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise JetbenchError(f"encode() returned {type(out).__name__}, expected a tuple "
                                f"(jet, tokens, mask)")
        return tuple(out)  # type: ignore[return-value]

    @property
    def ref(self) -> tuple[Tensor, Tensor, Tensor]:
        if self._ref is None:
            self._ref = self.encode(self.batch)
        return self._ref

    def tol(self, *refs: Tensor) -> float:
        scale = max([1.0] + [float(r.abs().max()) for r in refs if r.numel()])
        return self.atol * scale

    def verdict(self, devs: dict[str, float], tol: float, what: str) -> tuple[bool, str]:
        ok = all(np.isfinite(d) and d <= tol for d in devs.values())
        text = ", ".join(f"max|Δ{k}| {v:.2e}" for k, v in devs.items()) + f" (tol {tol:.1e})"
        return ok, text if ok else f"{what}: {text}"

    # -- the checks: each returns (passed, detail) ----------------------------------------------
    def interface(self) -> tuple[bool, str]:
        m = self.model
        problems = []
        if not isinstance(m, Encoder):
            problems.append(f"{type(m).__name__} is not a jetbench.encoders.Encoder")
        if not callable(getattr(m, "encode", None)):
            problems.append("no encode() method")
        d = getattr(m, "embed_dim", None)
        if not isinstance(d, int) or d <= 0:
            problems.append(f"embed_dim is {d!r}, expected a positive int")
        if problems:
            return False, "; ".join(problems)
        return True, f"{type(m).__name__} with encode() and embed_dim={d}"

    def meta(self) -> tuple[bool, str]:
        meta = self.model.meta
        missing = [f for f in META_FIELDS if getattr(meta, f, None) in (None, "")]
        if missing:
            return False, f"meta is missing {', '.join(missing)}"
        counted = sum(p.numel() for p in self.model.parameters())
        problems = []
        if not isinstance(meta.n_params, int) or not 0 < meta.n_params <= counted:
            problems.append(f"meta.n_params {meta.n_params} not in 1..{counted} "
                            f"(the module's parameter count)")
        if meta.embed_dim != self.model.embed_dim:
            problems.append(f"meta.embed_dim {meta.embed_dim} != embed_dim {self.model.embed_dim}")
        if problems:
            return False, "; ".join(problems)
        return True, (f"name {meta.name}, revision {str(meta.revision)[:12]}, n_params "
                      f"{meta.n_params:,} (module {counted:,}), license {meta.license}, "
                      f"pretraining_data {list(meta.pretraining_data)}")

    def shapes(self) -> tuple[bool, str]:
        jet, tokens, mask = self.ref
        B, P = self.batch["mask"].shape
        D = self.model.embed_dim
        problems = []
        for name, t, shape, dtype in (("jet embedding", jet, (B, D), torch.float32),
                                      ("tokens", tokens, (B, P, D), torch.float32),
                                      ("mask", mask, (B, P), torch.bool)):
            if not isinstance(t, Tensor):
                problems.append(f"{name} is {type(t).__name__}, not a Tensor")
                continue
            if tuple(t.shape) != shape:
                problems.append(f"{name} has shape {tuple(t.shape)}, expected {shape}")
            if t.dtype != dtype:
                problems.append(f"{name} has dtype {t.dtype}, expected {dtype}")
        if not problems and not torch.equal(mask, self.batch["mask"]):
            problems.append("returned mask differs from the input mask")
        if problems:
            return False, "; ".join(problems)
        return True, f"jet [{B}, {D}] float32, tokens [{B}, {P}, {D}] float32, mask [{B}, {P}] bool"

    def finite(self) -> tuple[bool, str]:
        jet, tokens, _ = self.ref
        bad_j, bad_t = int((~torch.isfinite(jet)).sum()), int((~torch.isfinite(tokens)).sum())
        if bad_j or bad_t:
            return False, (f"non-finite outputs: {bad_j} value(s) in the jet embedding, "
                           f"{bad_t} in the tokens")
        return True, f"all {jet.numel() + tokens.numel():,} output values finite"

    def permutation(self) -> tuple[bool, str]:
        jet, tokens, _ = self.ref
        mask = self.batch["mask"]
        g = torch.Generator().manual_seed(1234)
        perm = torch.arange(mask.shape[1]).repeat(mask.shape[0], 1)
        for i, n in enumerate(mask.sum(1).tolist()):  # shuffle the real slots, padding stays put
            perm[i, :n] = torch.randperm(n, generator=g)
        idx3 = perm.unsqueeze(-1)
        shuffled = {"csts": torch.gather(self.batch["csts"], 1, idx3.expand(-1, -1, 7)),
                    "csts_id": torch.gather(self.batch["csts_id"], 1, perm),
                    "mask": torch.gather(mask, 1, perm)}
        pj, pt, _ = self.encode(shuffled)
        expect = torch.gather(tokens, 1, idx3.expand(-1, -1, tokens.shape[-1]))
        devs = {"tokens": _maxdev(pt[mask], expect[mask]), "jet": _maxdev(pj, jet)}
        return self.verdict(devs, self.tol(jet, tokens),
                            "not permutation-equivariant (tokens) / invariant (jet)")

    def padding(self, extra: int = 8) -> tuple[bool, str]:
        jet, tokens, _ = self.ref
        m = self.batch["mask"]
        padded = {k: torch.cat([v, v.new_zeros(len(v), extra, *v.shape[2:])], 1)
                  for k, v in self.batch.items()}  # canonical padding: zeros, mask False
        pj, pt, _ = self.encode(padded)
        devs = {"tokens": _maxdev(pt[:, : m.shape[1]][m], tokens[m]), "jet": _maxdev(pj, jet)}
        return self.verdict(devs, self.tol(jet, tokens),
                            f"{extra} extra padded slots change the output")

    def batch_size(self) -> tuple[bool, str]:
        jet, tokens, _ = self.ref
        m = self.batch["mask"]
        B = len(m)
        bounds = [0, 1, min(4, B), B]  # a single jet, a small batch, the rest
        pieces = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
        dj, dt = 0.0, 0.0
        for lo, hi in pieces:
            sj, st, _ = self.encode({k: v[lo:hi] for k, v in self.batch.items()})
            dj = max(dj, _maxdev(sj, jet[lo:hi]))
            dt = max(dt, _maxdev(st[m[lo:hi]], tokens[lo:hi][m[lo:hi]]))
        sizes = "/".join(str(hi - lo) for lo, hi in pieces)
        ok, text = self.verdict({"tokens": dt, "jet": dj}, self.tol(jet, tokens),
                                "outputs depend on the other jets in the batch (eval mode)")
        return ok, f"{text}, batches of {sizes} vs {B}" if ok else text

    def determinism(self) -> tuple[bool, str]:
        jet, tokens, _ = self.ref
        j2, t2, _ = self.encode(self.batch)
        return self.verdict({"tokens": _maxdev(t2, tokens), "jet": _maxdev(j2, jet)},
                            self.tol(jet, tokens), "same input twice gives different outputs")

    def gradients(self) -> tuple[bool, str]:
        """Fine-tuning needs gradients to reach the encoder's weights through encode()."""
        was = self.model.training
        self.model.train()
        try:
            self.model.zero_grad(set_to_none=True)
            jet, tokens, mask = self.model.encode(self.batch)
            (jet.float().square().mean() + tokens[mask].float().square().mean()).backward()
        finally:
            self.model.train(was)
        params = [p for p in self.model.parameters() if p.requires_grad]
        got = [p for p in params if p.grad is not None and bool(torch.isfinite(p.grad).all())
               and bool(p.grad.abs().sum() > 0)]
        self.model.zero_grad(set_to_none=True)
        if not params:
            return False, "the encoder has no trainable parameters"
        if not got:
            return False, "no encoder parameter receives a finite non-zero gradient from encode()"
        return True, f"{len(got)}/{len(params)} parameter tensors receive gradients"


CHECKS: tuple[str, ...] = ("interface", "meta", "shapes", "finite", "permutation", "padding",
                           "batch_size", "determinism", "gradients")


def _maybe_fit_preprocessing(model: nn.Module, report: ValidationReport, seed: int,
                             n_slots: int) -> None:
    """Reference encoders must fit their input transform before encoding; do it on random jets."""
    if not isinstance(model, PretrainableEncoder):
        return
    transform = getattr(model, "transform", None)
    if transform is not None and getattr(transform, "is_fitted", True):
        return
    sample = synthetic_jets(512, n_slots, seed + 1)
    model.fit_preprocessing(sample, seed)
    report.notes.append(f"fitted the encoder's preprocessing on {len(sample)} random jets "
                        f"(no checkpoint given)")


def validate_encoder(encoder: str | nn.Module, scale: str = "smoke", seed: int = 0,
                     n_jets: int = 12, n_slots: int = 24, atol: float = 1e-4) -> ValidationReport:
    """Run every contract check on `encoder` (a spec/name/checkpoint dir, or a model instance).

    Tolerances are absolute, scaled by the largest output magnitude (at least 1). A check that
    raises counts as failed, with the error as its message, so one broken property never hides
    the others. A spec is built twice first ('reproducible'); an instance cannot be rebuilt.
    """
    if isinstance(encoder, str):
        model, built = build_twice(encoder, scale, seed)
        report = ValidationReport(encoder, checks=[built])
    else:
        model = encoder
        report = ValidationReport(type(encoder).__name__, notes=[
            "an instance is not rebuilt: pass 'module:factory' to check that its factory is seeded"])
    torch.manual_seed(seed)
    try:
        _maybe_fit_preprocessing(model, report, seed, n_slots)
    except Exception as err:  # reported like any failed check
        report.checks.append(Check("preprocessing", False, one_line(err)))
    model.eval()
    v = _Validator(model, synthetic_jets(n_jets, n_slots, seed), atol)
    for name in CHECKS:
        fn: Callable[[], tuple[bool, str]] = getattr(v, name)
        try:
            ok, detail = fn()
        except Exception as err:
            ok, detail = False, f"error: {one_line(err)}"
        report.checks.append(Check(name, ok, detail))
    return report


def one_line(err: BaseException) -> str:
    """'Type: message (file:line)', located at the deepest frame outside torch (the user's code)."""
    frames = traceback.extract_tb(err.__traceback__) if err.__traceback__ else []
    torch_dir = str(Path(torch.__file__).parent)
    own = [f for f in frames if not f.filename.startswith(torch_dir)]
    where = (own or frames or [None])[-1]
    loc = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    msg = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {msg}{loc}"
