"""Train-step throughput (jets/s) of the class-attention head vs its textbook form.

Not a test: prints ratios measured in one run. Both compute the same function (checked here and
in tests/test_heads.py): `ClassAttentionHead` never forms per-token keys and values, the textbook
form (`reference_class_attention`) projects every token to keys and values and calls SDPA. A train
step = forward + backward + Adam step on cached (frozen) token embeddings, the work each cell of a
`frozen` sweep repeats; `--finetune` also back-propagates into the tokens, as fine-tuning does.
Measurements are interleaved (A B A B ...) and the median per-step time is used.

    python bench/bench_head.py [--batch 256] [--particles 47] [--dim 128] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from jetbench.core.threads import auto_threads
from jetbench.tasks.heads import ClassAttentionHead, reference_class_attention


def ragged_tokens(batch: int, slots: int, mean: float, dim: int, seed: int = 0):
    """Random token embeddings with jetclass-like multiplicities (zero-padded at the end)."""
    g = torch.Generator().manual_seed(seed)
    counts = (torch.randn(batch, generator=g) * 15 + mean).clamp(5, slots).long()
    P = int(counts.max())
    mask = torch.arange(P)[None] < counts[:, None]
    return torch.randn(batch, P, dim, generator=g) * mask[..., None], mask


def step_fn(head: ClassAttentionHead, forward: Callable, tokens, labels, grad_tokens: bool):
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3)

    def step() -> None:
        x = tokens.detach().requires_grad_(grad_tokens)
        loss = torch.nn.functional.cross_entropy(forward(x), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--particles", type=float, default=47.0, help="mean real tokens per jet")
    ap.add_argument("--slots", type=int, default=128)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--finetune", action="store_true", help="also back-propagate into the tokens")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    torch.set_num_threads(auto_threads(args.threads))
    tokens, mask = ragged_tokens(args.batch, args.slots, args.particles, args.dim)
    labels = torch.randint(0, args.classes, (args.batch,), generator=torch.Generator().manual_seed(1))

    torch.manual_seed(0)
    fast = ClassAttentionHead(args.dim, args.classes)
    textbook = ClassAttentionHead(args.dim, args.classes)
    textbook.load_state_dict(fast.state_dict())
    with torch.no_grad():
        gap = (fast.eval()(None, tokens, mask) - reference_class_attention(textbook.eval(), tokens,
                                                                           mask)).abs().max()
    fast.train(), textbook.train()
    steps = {
        "ClassAttentionHead": step_fn(fast, lambda x: fast(None, x, mask), tokens, labels,
                                      args.finetune),
        "textbook (k, v per token + SDPA)": step_fn(
            textbook, lambda x: reference_class_attention(textbook, x, mask), tokens, labels,
            args.finetune),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():  # warm-up
        step()
    for _ in range(args.repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"machine: {torch.get_num_threads()} torch thread(s); batch {args.batch}, "
          f"{int(mask.sum())} real tokens ({mask.shape[1]} slots), dim {args.dim}, "
          f"{'fine-tune (grad into tokens)' if args.finetune else 'frozen tokens'}")
    print(f"max |output difference| in eval mode: {float(gap):.2e}")
    base = med["textbook (k, v per token + SDPA)"]
    for name, t in med.items():
        print(f"{name:34s} {args.batch / t:9.0f} jets/s   {t * 1e3:7.1f} ms/step   "
              f"speed-up {base / t:5.2f}x")


if __name__ == "__main__":
    main()
