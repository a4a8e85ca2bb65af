"""Which CPU and float kernels a result was computed with: its last bits depend on them.

The same torch build gives different bits on CPUs whose BLAS and vectorised kernels differ (seen:
torch 2.13.0 CPU on two x86-64 machines that both report AVX-512 disagree in the last bits of a
training run). `kernel_fingerprint` names the kernels: a short hash of a few float32 results
computed through the operations jetbench leans on (matmul, softmax, layer norm, GELU, exp, log),
so a result, a pinned test or a re-made checkpoint can say which kernels made its numbers.
"""

from __future__ import annotations

import functools
import hashlib
import platform

from jetbench.core.threads import pinned_threads

_PROBE_SEED = 20261202


@functools.lru_cache(maxsize=1)
def cpu_model() -> str | None:
    """The CPU's model name (/proc/cpuinfo on Linux, else what `platform` says; None unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None


@functools.lru_cache(maxsize=1)
def kernel_fingerprint() -> str:
    """12 hex digits naming the float kernels torch uses here, on one thread (the thread count
    changes how sums are split; results pinned or re-made bit for bit run on one thread too)."""
    import torch  # lazy: core is imported by code paths that never touch torch
    import torch.nn.functional as F  # lazy: as torch

    g = torch.Generator().manual_seed(_PROBE_SEED)
    a, w = torch.randn(96, 257, generator=g), torch.randn(130, 257, generator=g)
    q, k = torch.randn(4, 33, 64, generator=g), torch.randn(4, 33, 64, generator=g)
    with pinned_threads(1), torch.no_grad():
        x = F.linear(a, w, torch.linspace(-1, 1, 130))
        outs = [x, torch.softmax(x, -1), F.layer_norm(x, (130,)), F.gelu(x), torch.tanh(x),
                torch.exp(x / 16), torch.log1p(x.abs()), x.sum(0), torch.bmm(q, k.transpose(1, 2))]
    h = hashlib.sha256()
    for t in outs:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:12]
