"""Dataset definitions are YAML shipped in the package: the facts they carry, checks of a bad
file (one line naming it), extra folders via JETBENCH_DATASETS, and download manifests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from jetbench.core.errors import JetbenchError
from jetbench.data import definitions
from jetbench.data.definitions import DATASETS, load_file, parse_definition
from jetbench.data.download import MANIFEST, RECORDS


def test_shipped_definitions():
    assert DATASETS["jetclass"].labels == ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq",
                                           "Tbqq", "Tbl")
    assert (DATASETS["jetclass"].n_slots, DATASETS["btag"].n_slots) == (128, 15)
    assert DATASETS["btag"].labels == ("light", "c", "b") and DATASETS["btag"].has_tracks
    assert not DATASETS["jetclass"].has_tracks
    top, qg = DATASETS["toptag"], DATASETS["quarkgluon"]
    assert top.labels == ("QCD", "top") and top.features_present == ("pt", "deta", "dphi")
    assert qg.labels == ("gluon", "quark") and "id" in qg.features_present
    assert "d0" not in qg.features_present
    assert RECORDS == {"jetclass": 6619768, "btag": 13350327, "toptag": 2603256,
                       "quarkgluon": 3164691}
    names = {f.name: f for f in MANIFEST["toptag"]}
    assert names["train.h5"].md5 == "45663819f47c13724f67eb0fd80bfa5c"
    qg_files = [f.name for f in MANIFEST["quarkgluon"]]
    assert qg_files[:3] == ["QG_jets.npz", "QG_jets_1.npz", "QG_jets_2.npz"]
    assert len(qg_files) == 40 and all(f.md5 and f.sha256 for f in MANIFEST["quarkgluon"])
    assert len(MANIFEST["jetclass"]) == 12 and all(f.md5 for f in MANIFEST["jetclass"])
    for info in DATASETS.values():
        assert info.generator_profile == info.name


GOOD = {"name": "mine", "slots": 20, "labels": ["a", "b"], "features": ["pt", "deta", "dphi"]}


@pytest.mark.parametrize("change,match", [
    ({"colour": "red"}, "unknown keys ['colour']"),
    ({"slots": 0}, "'slots' must be an integer"),
    ({"labels": ["a"]}, "'labels' must list at least two"),
    ({"features": ["pt", "deta"]}, "'features' must include dphi"),
    ({"features": ["pt", "deta", "dphi", "spin"]}, "'features' must be a subset"),
    ({"extra_fields": ["vtx_id"]}, "'extra_fields' must be []"),
    ({"files": {"list": [{"name": "../x.h5"}]}}, "must be a plain file name"),
    ({"files": {"list": [{"name": "x.h5", "md5": "abc"}]}}, "md5 must be 32 hex digits"),
])
def test_bad_definition_is_one_line_naming_the_file(change, match):
    with pytest.raises(JetbenchError, match=re.escape(match)) as err:
        parse_definition({**GOOD, **change}, "/defs/mine.yaml")
    assert str(err.value).startswith("/defs/mine.yaml: ")


def test_extra_folder_adds_a_dataset_without_code(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text("name: mine\nslots: 20\nlabels: [a, b]\n"
                                        "features: [pt, deta, dphi]\n")
    monkeypatch.setenv(definitions.ENV_DIRS, str(tmp_path))
    defs = definitions.load_definitions()
    assert defs["mine"].labels == ("a", "b") and "jetclass" in defs
    (tmp_path / "other.yaml").write_text("name: mine2\nslots: 20\nlabels: [a, b]\n")
    with pytest.raises(JetbenchError, match="'name' is 'mine2' but the file is named 'other.yaml'"):
        definitions.load_definitions()
    (tmp_path / "other.yaml").unlink()
    (tmp_path / "jetclass.yaml").write_text("name: jetclass\nslots: 20\nlabels: [a, b]\n")
    assert load_file(tmp_path / "jetclass.yaml").n_slots == 20  # valid on its own
    with pytest.raises(JetbenchError, match="dataset 'jetclass' is already defined"):
        definitions.load_definitions()


def test_definitions_ship_in_the_package_data():
    root = Path(__file__).resolve().parents[1]
    text = (root / "pyproject.toml").read_text()
    assert "data/datasets/*.yaml" in text
    # importable and complete from a fresh interpreter in another directory
    out = subprocess.run([sys.executable, "-c", "from jetbench.data.format import DATASETS; "
                          "print(sorted(DATASETS))"], capture_output=True, text=True, cwd="/",
                         env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.strip() == "['btag', 'jetclass', 'quarkgluon', 'toptag']"
