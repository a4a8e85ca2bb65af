"""`frozen` and `linear` on splits too large to hold (forced with a tiny JETBENCH_MAX_IN_MEMORY_GB):
the encoder only ever sees one chunk, the fitted head's scores equal the in-memory path's, the
on-disk embeddings are gone after the fit, and a damaged store fails with one clear line."""

from __future__ import annotations

import numpy as np
import pytest

from jetbench.core.errors import JetbenchError
from jetbench.data.store import write_store
from jetbench.protocols import Split, get_protocol
from jetbench.protocols import embedding_store as stream
from jetbench.protocols.data import EmbeddingSource
from tests.test_protocols import TASKS, ToyEncoder, _learnable

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHUNK = 64  # rows per encoder pass when streaming; the splits hold 3-4 chunks
SIZES = {"train": 230, "val": 60, "test": 150}


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    out = {}
    for i, (name, n) in enumerate(SIZES.items()):
        write_store(root / f"{name}.h5", _learnable(n, seed=40 + i), "btag")
        out[name] = root / f"{name}.h5"
    return out


class MaxPoolToy(ToyEncoder):
    """The toy encoder with a max-pooled jet embedding: a max does not depend on how a batch is
    padded or reduced (a mean does, by an ulp), so in-memory and streamed runs see the same bits."""

    def encode(self, batch):
        _, x, mask = super().encode(batch)
        jet = x.masked_fill(~mask[..., None].bool(), -2.0).amax(1).clamp(min=-1.0)  # tanh > -1
        return jet, x, mask


def _split(paths, name):
    return Split.from_store(name, paths[name])  # fresh: nothing loaded or cached on the object


def _run(protocol, kind, paths, steps=12):
    proto = get_protocol(protocol, "smoke", max_steps=steps)
    proto.settings["predict_batch"] = 32  # several prediction batches per streamed chunk
    proto.use_cache = False
    enc = MaxPoolToy(seed=5)
    proto.fit(enc, TASKS[kind], _split(paths, "train"), _split(paths, "val"), seed=0,
              progress=False)
    return proto.score(_split(paths, "test")), proto, enc


@pytest.fixture
def streaming(monkeypatch):
    """Force every store-backed split to stream; record the rows of every read and encoder pass."""
    seen = {"compute": [], "load": []}
    compute, load_rows = stream.compute, Split.load_rows

    def spy_compute(encoder, split, rows, *args, **kwargs):
        seen["compute"].append(len(rows))
        return compute(encoder, split, rows, *args, **kwargs)

    def spy_load(self, rows=None):
        seen["load"].append(len(self) if rows is None else len(rows))
        return load_rows(self, rows)

    monkeypatch.setattr(stream, "compute", spy_compute)
    monkeypatch.setattr(Split, "load_rows", spy_load)
    monkeypatch.setattr(stream, "CHUNK", CHUNK)
    monkeypatch.setenv("JETBENCH_MAX_IN_MEMORY_GB", "1e-6")
    return seen


@pytest.mark.parametrize("protocol,kind", [("frozen", "jet_class"), ("linear", "jet_class"),
                                           ("frozen", "track_class")])
def test_streamed_fit_and_score_match_the_in_memory_path(splits, streaming, monkeypatch,
                                                         protocol, kind):
    with monkeypatch.context() as m:  # the in-memory reference: nothing streams
        m.setenv("JETBENCH_MAX_IN_MEMORY_GB", "4")
        ref, ref_proto, _ = _run(protocol, kind, splits)
    streaming["compute"].clear()
    streaming["load"].clear()
    assert Split.from_store("train", splits["train"]).streams()
    got, proto, enc = _run(protocol, kind, splits)
    # The encoder's batches differ (grouped by length within a 64-row chunk, not the whole
    # split). This encoder's tokens do not depend on the batch and its jet embedding is a max, so
    # every head trains and scores bit for bit alike. (With a mean-pooled jet the streamed
    # embedding moves by an ulp, and the linear probe solved to convergence carries that to
    # 5e-6 .. 5e-4 in the probabilities, depending on the CPU's kernels.)
    np.testing.assert_array_equal(got, ref)
    if protocol == "frozen":
        assert proto.history.val_loss == ref_proto.history.val_loss
    else:
        assert proto.fit_info == ref_proto.fit_info  # chosen L2 and every validation loss
    # never more than one chunk embedded or read at once (the 60-jet validation split is read
    # whole: a streamed validation split is sampled down to `val_max` jets and held)
    assert max(streaming["compute"]) <= CHUNK and max(streaming["load"]) <= CHUNK
    assert sum(streaming["compute"]) == SIZES["train"] + SIZES["test"]
    assert enc.jets_seen == sum(SIZES.values())  # each jet through the encoder once
    assert not any(stream.stream_root().glob("*"))  # the fit's on-disk embeddings are gone


def test_store_reads_back_what_was_written_and_reports_damage(splits, streaming, tmp_path):
    enc = ToyEncoder(seed=1)
    split = _split(splits, "train")
    store = stream.stream_embeddings(enc, split, lambda b: b.track_type.astype(np.int64),
                                     progress=False)
    chunks = list(stream.embedded_chunks(enc, split, lambda b: b.track_type.astype(np.int64),
                                         progress=False, chunk=1000))
    (whole, y), = chunks
    idx = np.array([7, 3, 199, 0, 3])
    expect = EmbeddingSource(whole.jet, whole.tokens, whole.offsets, y).get(idx, "cpu")
    got = store.get(idx, "cpu")
    for key, t in expect[0].items():
        assert (got[0][key] == t).all(), key
    assert (got[1] == expect[1]).all() and len(store) == SIZES["train"]
    (store.folder / "tokens.bin").write_bytes(b"\0" * 10)
    with pytest.raises(JetbenchError, match="tokens.bin: 10 bytes, expected"):
        stream.EmbeddingStore(store.folder)
    store.remove()
    with pytest.raises(JetbenchError, match="streamed embeddings missing or incomplete"):
        stream.EmbeddingStore(store.folder)


def test_paper_scale_streams_a_split_whose_embeddings_outgrow_the_limit(splits, monkeypatch):
    """230 btag jets are 119 kB as jets but up to 1 MB as D=128 embeddings: with a 0.5 MB limit
    the split loads whole, and only the paper scale embeds it chunk by chunk."""
    monkeypatch.setenv("JETBENCH_MAX_IN_MEMORY_GB", str(0.5e6 / 1024**3))
    split = _split(splits, "train")
    assert not split.streams() and stream.embedded_bytes(split, 128) > 0.5e6
    for scale, expect in (("smoke", False), ("cpu", False), ("paper", True)):
        proto = get_protocol("frozen", scale)
        proto.encoder = ToyEncoder(128)
        assert proto.streams_embeddings(split) is expect, scale
