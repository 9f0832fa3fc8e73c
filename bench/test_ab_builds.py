"""bench/ab_propagation.py loads each build it compares as a module of its own; bench/ab_rvd.py serves the same users with each."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from fastpoison import _core

_spec = importlib.util.spec_from_file_location("_ab_propagation", Path(__file__).with_name("ab_propagation.py"))
_ab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ab)


def test_two_builds_load_as_two_modules(tmp_path):
    paths = []
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        paths.append(shutil.copy(_core.__file__, tmp_path / name / Path(_core.__file__).name))
    old, new = (_ab.load_build(path, slot) for slot, path in enumerate(paths))
    assert old is not new and old.__file__ != new.__file__
    assert old.lightgcn_propagate is not new.lightgcn_propagate


def test_rvd_ab_serves_the_same_users_with_each_build(tmp_path, monkeypatch, capsys):
    paths = []
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        paths.append(str(shutil.copy(_core.__file__, tmp_path / name / Path(_core.__file__).name)))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # ab_rvd imports _data and ab_propagation
    spec = importlib.util.spec_from_file_location("_ab_rvd", Path(__file__).with_name("ab_rvd.py"))
    ab_rvd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ab_rvd)
    monkeypatch.setattr("sys.argv", ["ab_rvd.py", *paths, "--dataset", "synthetic:ml-100k", "--epochs", "1",
                                     "--k", "10", "--users", "3", "--rounds", "1"])
    ab_rvd.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("identical to the first build's" in line for line in lines)
