"""`jetbench list encoders` reads cards: no model is built, torch is not imported, it is fast."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import pytest

from jetbench.cli import main
from jetbench.encoders import cards


def _listed(capsys, *args: str) -> list[dict]:
    assert main(["list", "encoders", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_cards_are_exactly_the_registered_builtins():
    from jetbench.encoders.registry import _REGISTRY, ENTRY_POINT_GROUP, list_encoders

    list_encoders()  # loads the built-in modules
    assert sorted(cards.builtin_names()) == sorted(_REGISTRY)
    assert cards.ENTRY_POINT_GROUP == ENTRY_POINT_GROUP


def test_list_encoders_builds_no_model(capsys, monkeypatch):
    import jetbench.encoders
    import jetbench.encoders.registry
    from jetbench.encoders.base import Encoder
    from jetbench.encoders.model import SetEncoder

    def refuse(*args, **kwargs):
        raise AssertionError("list encoders built a model")

    for cls in (Encoder, SetEncoder):
        monkeypatch.setattr(cls, "__init__", refuse)
    for module in (jetbench.encoders, jetbench.encoders.registry):  # the factory, by either path
        monkeypatch.setattr(module, "create_encoder", refuse)
    rows = {r["name"]: r for r in _listed(capsys)}
    assert list(rows) == cards.builtin_names()  # every built-in, the ordering variants included
    assert rows["mpmv1_kmeans_none"]["targets"] == ["k-means index"]
    assert "ordering" in rows["mpmv1_vqvae_none"]["about"]
    assert rows["mpm_flow"]["family"] == "MPMv2" and "arXiv:2409.12589" in rows["mpm_flow"]["paper"]
    assert rows["mpm_flow"]["targets"] == ["particle class",
                                           "features (conditional normalising flow)"]
    assert rows["mpm_flow"]["checkpoint"] == "ships"  # the cpu reference checkpoints ship
    assert rows["scratch"]["targets"] == []
    smoke = {r["name"]: r for r in _listed(capsys, "--scale", "smoke")}  # nothing ships there
    assert smoke["mpm_flow"]["checkpoint"] == "made on first use"
    assert smoke["scratch"]["checkpoint"] == "not needed"
    assert rows["mpmv1_kmeans"]["paper"].startswith("Golling et al. 2024")
    with pytest.raises(AssertionError, match="built a model"):  # the patch does bite
        main(["--debug", "list", "encoders", "--sizes", "--scale", "smoke"])


def test_shipped_checkpoint_and_plugins_are_shown(capsys, monkeypatch, tmp_path):
    (tmp_path / "mpm_flow" / "cpu").mkdir(parents=True)
    monkeypatch.setattr(cards, "SHIPPED_DIR", tmp_path)

    class EntryPoint:
        name, value = "mymodel", "mypkg.models:make_encoder"

        def load(self):
            raise AssertionError("a plug-in was imported")

    monkeypatch.setattr(cards.importlib.metadata, "entry_points", lambda group: [EntryPoint()])
    rows = {r["name"]: r for r in _listed(capsys)}
    assert rows["mpm_flow"]["checkpoint"] == "ships"
    assert rows["mpm_kmeans"]["checkpoint"] == "made on first use"
    assert rows["mymodel"]["family"] == "plug-in"
    assert rows["mymodel"]["source"] == "mypkg.models:make_encoder"
    assert _listed(capsys, "--scale", "smoke")[0]["checkpoint"] != "ships"  # cpu only shipped
    assert main(["list", "encoders", "--scale", "big"]) == 2
    assert "unknown scale 'big'" in capsys.readouterr().err


def test_list_encoders_answers_fast_without_torch():
    """Under 2 s of CPU time in a fresh process (CPU, not wall time: the test machine is shared),
    and torch never imported. Building every model took ~14 s."""
    code = ("import sys; from jetbench.cli import main; rc = main(['list', 'encoders']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert out.returncode == 0, out.stderr
    assert "mpm_flow" in out.stdout and "arXiv:2401.13537" in out.stdout
    assert cpu < 2.0, f"{cpu:.2f} s CPU ({wall:.2f} s wall)"


def test_list_tasks_says_what_each_task_asks(capsys):
    from jetbench.tasks import get_task

    assert main(["list", "tasks", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert all(r["summary"] for r in rows.values())  # every shipped task has its one line
    assert rows["vertexing"]["main_score"] == "ari" and rows["vertexing"]["data"] == "btag"
    assert main(["list", "tasks", "--scale", "smoke"]) == 0
    table = capsys.readouterr().out
    assert "which pairs of a jet's tracks come from the same vertex" in table
    assert "budgets smoke" in table and "50,150*" in table
    spec = get_task("btag")
    assert spec.model_copy(update={"summary": "changed"}).hash() == spec.hash()  # free text
