"""Task YAMLs: the shipped ones load; malformed ones fail with one line naming file and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from jetbench.core.errors import JetbenchError
from jetbench.tasks import SCALES, get_task, list_tasks
from jetbench.tasks.registry import load_registry

SHIPPED = {"jetclass", "cwola", "btag", "vertexing", "trackid"}


def base_task(name: str = "tiny", seed0: int = 9000) -> dict:
    """A valid small btag task with its data written inline (seeds unused by the shipped YAMLs)."""
    data = {"dataset": "btag", "profile": "btag", "scales": {
        s: {"train": {"n": 60, "seed": seed0 + 10 * i},
            "val": {"n": 30, "seed": seed0 + 10 * i + 1},
            "test": {"n": 30, "seed": seed0 + 10 * i + 2}} for i, s in enumerate(SCALES)}}
    return {
        "name": name, "version": 1, "description": "tiny test task", "data": data,
        "head": "jet_class", "loss": {"name": "cross_entropy"},
        "metrics": ["accuracy", "macro_auc"], "main_score": "accuracy", "class_balanced": True,
        "scales": {s: {"budgets": [30, 60], "default_budget": 30, "seeds": [0, 1],
                       "default_seeds": [0], "training": {"max_epochs": 1, "batch_size": 16}}
                   for s in SCALES},
    }


def write(tmp_path, task: dict, name: str | None = None):
    path = tmp_path / f"{name or task['name']}.yaml"
    path.write_text(yaml.safe_dump(task))
    return path


def load_error(tmp_path, task: dict) -> str:
    path = write(tmp_path, task)
    with pytest.raises(JetbenchError) as err:
        load_registry([tmp_path])
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def test_shipped_tasks_load_with_contract_properties():
    tasks = {t.name: t for t in list_tasks()}
    assert set(tasks) >= SHIPPED
    jc = tasks["jetclass"]
    assert jc.dataset == "jetclass" and jc.n_classes == 10 and jc.head == "jet_class"
    assert jc.budgets["cpu"] == [100, 1000, 10000] and jc.default_budget("cpu") == 1000
    assert jc.seeds["cpu"] == [0, 1, 2] and jc.default_seeds("cpu") == [0]
    assert tasks["cwola"].labels == ("QCD", "Tbqq") and tasks["cwola"].main_score == "auc"
    assert tasks["cwola"].training("cpu").checkpoint == "last"
    assert tasks["trackid"].loss.class_weights == (0.3868, 1.4342, 3.3482, 2.3896)
    assert tasks["vertexing"].loss.name == "focal" and tasks["vertexing"].loss.gamma == 3.0
    assert tasks["vertexing"].budgets["cpu"] == [tasks["vertexing"].data.split_size("cpu", "train")]
    assert get_task("btag").hash() == get_task("btag").hash()
    assert len({t.hash() for t in tasks.values()}) == len(tasks)


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(JetbenchError, match=r"unknown task 'vertexin' \(did you mean 'vertexing'"
                                            r"\?\); known: btag, cwola, jetclass, quarkgluon, "
                                            r"toptag, trackid"):
        get_task("vertexin")


def test_extra_dir_and_env_var_add_tasks(tmp_path, monkeypatch):
    write(tmp_path, base_task())
    assert get_task("tiny", [tmp_path]).n_classes == 3
    monkeypatch.setenv("JETBENCH_TASKS", str(tmp_path))
    assert "tiny" in {t.name for t in list_tasks()}


def test_hash_ignores_description_but_not_budgets(tmp_path):
    t = base_task()
    write(tmp_path, t)
    h1 = get_task("tiny", [tmp_path]).hash()
    t["description"] = "other words"
    write(tmp_path, t)
    assert get_task("tiny", [tmp_path]).hash() == h1
    t["scales"]["cpu"]["budgets"] = [20, 60]
    t["scales"]["cpu"]["default_budget"] = 20
    write(tmp_path, t)
    assert get_task("tiny", [tmp_path]).hash() != h1


def test_missing_field(tmp_path):
    t = base_task()
    del t["main_score"]
    assert "field 'main_score': Field required" in load_error(tmp_path, t)


def test_unknown_metric(tmp_path):
    t = base_task()
    t["metrics"] = ["accuracy", "acuracy"]
    msg = load_error(tmp_path, t)
    assert "field 'metrics.1'" in msg and "unknown metric 'acuracy'" in msg


@pytest.mark.parametrize("budgets, field, text", [
    ([30, 61], "scales.cpu.budgets", "budget 61 exceeds the 60 jets"),
    ([0, 30], "scales.cpu.budgets.0", "greater than 0"),
    ([60, 30], "scales.cpu.budgets", "increasing"),
])
def test_bad_budget(tmp_path, budgets, field, text):
    t = base_task()
    t["scales"]["cpu"]["budgets"] = budgets
    msg = load_error(tmp_path, t)
    assert f"field '{field}'" in msg and text in msg


@pytest.mark.parametrize("mutate, field, text", [
    (lambda t: t.update(main_score="macro"), "main_score", "not one of the task's metrics"),
    (lambda t: t.update(metrics=["accuracy", "ari"]), "metrics.1", "needs a vertex task"),
    (lambda t: t.update(scales={}), "scales", "define at least one scale"),
    (lambda t: t["scales"]["smoke"].update(default_budget=45), "scales.smoke.default_budget",
     "not one of the budgets"),
    (lambda t: t.update(loss={"name": "cross_entropy", "class_weights": [1, 2]}),
     "loss.class_weights", "2 weights for 3 classes"),
    (lambda t: t.update(loss={"name": "focal"}), "loss.gamma", "needs gamma"),
    (lambda t: t.update(head="vertex_pair", metrics=["ari"], main_score="ari"), "loss.name",
     "focal"),
    (lambda t: t["data"]["scales"]["cpu"].pop("val"), "data.scales.cpu.val", "split missing"),
    (lambda t: t["data"]["scales"]["cpu"]["train"].update(classes=["bottom"]),
     "data.scales.cpu.train.0.classes", "unknown class 'bottom'"),
    (lambda t: t.update(data="nonexistent"), "data", "unknown dataset definition"),
    (lambda t: t.update(metrics=["accuracy", {"btag_rejection": {"b_eff": 1.5}}]),
     "metrics.1.b_eff", "less than 1"),
    (lambda t: t.update(binned=[{"metric": "auc_b", "by": "n_tracks"}]), "binned.0.metric",
     "not one of the metrics"),
    (lambda t: t.update(extra_field=1), "extra_field", "Extra inputs are not permitted"),
])
def test_malformed_task_names_file_and_field(tmp_path, mutate, field, text):
    t = copy.deepcopy(base_task())
    mutate(t)
    msg = load_error(tmp_path, t)
    assert f"field '{field}'" in msg and text in msg, msg


def test_file_name_must_match_task_name(tmp_path):
    write(tmp_path, base_task(), name="other")
    with pytest.raises(JetbenchError, match=r"other\.yaml: field 'name': task 'tiny' must live"):
        load_registry([tmp_path])


def test_reused_generator_seed_is_rejected(tmp_path):
    t = base_task()
    t["data"]["scales"]["cpu"]["val"]["seed"] = 2201  # the shipped btag cpu train seed
    msg = load_error(tmp_path, t)
    assert "seed 2201 of profile 'btag' is also used by btag.scales.cpu.train.0" in msg


def test_invalid_yaml_and_bad_shared_definitions(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(JetbenchError, match=r"broken\.yaml: not valid YAML"):
        load_registry([tmp_path])
    (tmp_path / "broken.yaml").unlink()
    (tmp_path / "_more.yaml").write_text(yaml.safe_dump({"mydata": {"dataset": "btag", "scales": {
        "cpu": {"train": {"n": 10, "seed": 9999}, "val": {"n": 10, "seed": 9998},
                "test": {"n": 10, "seed": 9997}}}}}))
    with pytest.raises(JetbenchError, match=r"_more\.yaml: field 'mydata\.scales\.cpu\.\w+\.0': "
                                            r"generated parts need a 'profile'"):
        load_registry([tmp_path])
