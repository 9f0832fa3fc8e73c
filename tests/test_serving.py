"""`fastpoison recommend`: a saved model serves the same lists as the model `run` fits, with
and without RVD, in the dataset's own ids, whatever the batching; bad input is one error."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fastpoison.cli import main
from fastpoison.data import load_dataset
from fastpoison.defenses import get_defense
from fastpoison.models import make_model

OPTIONS = {"epochs": 3, "factors": 8}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "mf.npz"
    assert main(["train", "--dataset", "synthetic:filmtrust", "--model", "mf", "--epochs", "3", "--factors", "8",
                 "--quiet", "--out", str(path)]) == 0
    return path


def served_lines(tmp_path, saved, *extra: str) -> dict[int, dict]:
    out = tmp_path / "lists.jsonl"
    assert main(["recommend", "--model-file", str(saved), "--dataset", "synthetic:filmtrust", "--n", "20",
                 "--quiet", "--out", str(out), *extra]) == 0
    return {line["user"]: line for line in map(json.loads, out.read_text().splitlines())}


@pytest.mark.parametrize("defense", [None, "rvd[k=5]", "rvd[k=5,step=sgd]"])
def test_recommend_serves_what_run_serves(tmp_path, saved, defense):
    ds = load_dataset("synthetic:filmtrust")
    train = ds.split.train
    model = make_model("mf", ds.name, **OPTIONS).fit(train, seed=0)  # as run fits its victim
    recommend = model.top_k
    if defense is not None:
        recommend = get_defense(defense, dataset=ds.name, model="mf", data=train).serving.serve(model, seed=0)
    users = np.arange(train.n_real_users, dtype=np.int32)
    want = recommend(users, 20)
    got = served_lines(tmp_path, saved, "--batch", "97", *(["--defense", defense] if defense else []))
    labels, item_labels = train.user_labels(), train.item_labels()
    assert sorted(got) == labels[users].tolist()
    for row, user in enumerate(labels[users].tolist()):
        assert got[user]["items"] == item_labels[want.items[row]].tolist()
        assert np.allclose(got[user]["scores"], want.scores[row], atol=1e-6)


def test_recommend_takes_ids_from_a_list_and_a_file_and_writes_tsv(tmp_path, saved, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("7\n\n3\n")
    out = tmp_path / "lists.tsv"
    assert main(["recommend", "--model-file", str(saved), "--dataset", "synthetic:filmtrust", "--users", "11",
                 "--users-file", str(ids), "--n", "4", "--format", "tsv", "--out", str(out)]) == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0] == ["user", "rank", "item", "score"]
    assert [(r[0], r[1]) for r in rows[1:]] == [(u, str(k)) for u in ("11", "7", "3") for k in range(1, 5)]
    assert "ms per user" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--users", "1,99999"], "not in filmtrust: 99999"),
    (["--users", "x"], "user ids must be integers"),
    (["--defense", "tcd"], "serving defense only"),
    (["--json", "-"], "write them with --out"),
])
def test_recommend_bad_input_is_one_error(saved, capsys, argv, message):
    assert main(["recommend", "--model-file", str(saved), "--dataset", "synthetic:filmtrust", *argv]) == 2
    assert message in capsys.readouterr().err


def test_recommend_refuses_a_model_of_other_data(saved, capsys):
    assert main(["recommend", "--model-file", str(saved), "--dataset", "synthetic:ml-100k", "--users", "1"]) == 2
    assert "was not trained on the training ratings" in capsys.readouterr().err
