"""Fuzzing the command line (hypothesis): random bytes and random delimited text as rating
files, random grid files and random flag values. Every input ends in exit status 0 or 2 with
at most a one-line error, never a traceback or a signal, and JSON output parses strictly."""
from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastpoison.cli import main

FAST = settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def strict_json(path) -> object:
    """The JSON at ``path``, failing on NaN or Infinity (not JSON)."""
    return json.loads(path.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def outcome(argv: list[str], capsys) -> int:
    status = main(argv)
    err = capsys.readouterr().err
    assert status in (0, 2), (argv, status, err)
    assert "Traceback" not in err and (status == 0 or err.strip().count("\n") <= 1 + err.count("warning")), err
    return status


@FAST
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".tsv", ".csv", ".data", ".txt", ".rating"]))
def test_random_bytes_as_a_rating_file(tmp_path_factory, capsys, content, suffix):
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / f"ratings{suffix}"
    path.write_bytes(content)
    if outcome(["data", "info", str(path), "--quiet", "--json", str(folder / "i.json")], capsys) == 0:
        strict_json(folder / "i.json")


TOKENS = st.one_of(st.integers(-5, 10**13), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.sampled_from(["", "x", "1e8", "nan", "-", "4.5", " ", "\"1\"", "0x10"]))


@FAST
@given(rows=st.lists(st.lists(TOKENS, min_size=0, max_size=5), max_size=40), sep=st.sampled_from([",", "\t", ";"]),
       header=st.booleans())
def test_random_delimited_text(tmp_path_factory, capsys, rows, sep, header):
    folder = tmp_path_factory.mktemp("text")
    path = folder / ("r.csv" if sep == "," else "r.tsv")
    lines = (["user,item,rating"] if header else []) + [sep.join(str(t) for t in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    if outcome(["data", "info", str(path), "--quiet", "--json", str(folder / "i.json")], capsys) == 0:
        strict_json(folder / "i.json")


KEYS = ["dataset", "model", "attack", "defense", "targets", "knowledge", "attack_size", "hr_k", "seeds", "n_targets",
        "n_filler", "bogus"]
VALUES = st.one_of(
    st.sampled_from(['"synthetic:filmtrust"', '"ml-100k"', '"nope"', '"mf"', '"pop"', '"rvd[k=3]"', '"rvd[k=x]"',
                     '"tcd"', '"ltsmf+rvd"', '"pga[steps=2]"', '"random"', '"unpopular"', '"none"', 'true', '[]',
                     '["mf", "nsvd"]', '{a = 1}']),
    st.integers(-3, 10**6).map(str), st.floats(-2, 2, allow_nan=False).map(lambda f: repr(f) if math.isfinite(f) else "0"))


@FAST
@given(entries=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), options=st.booleans())
def test_random_grid_files(tmp_path_factory, capsys, entries, options):
    folder = tmp_path_factory.mktemp("grid")
    body = "\n".join(f"{k} = {v}" for k, v in entries.items())
    extra = "\n[model_options]\nepochs = 1\nfactors = 4\n" if options else ""
    (folder / "g.toml").write_text(f"[grid]\n{body}\n{extra}")
    if outcome(["grid", str(folder / "g.toml"), "--check", "--quiet", "--json", str(folder / "g.json")], capsys) == 0:
        strict_json(folder / "g.json")


FLAG_VALUES = st.sampled_from(["-1", "0", "1", "2.5", "1e9", "nan", "x", "", "100000", "0.0001", "random", "5,7"])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(flags=st.dictionaries(st.sampled_from(["--hr-k", "--threads", "--knowledge", "--size", "--seeds", "--targets",
                                              "--n-targets", "--filler", "--seed"]), FLAG_VALUES, max_size=3))
def test_random_flag_values(tmp_path_factory, capsys, flags):
    folder = tmp_path_factory.mktemp("flags")
    argv = ["run", "--dataset", "synthetic:filmtrust", "--attack", "random", "--epochs", "1", "--factors", "2",
            "--quiet", "--json", str(folder / "r.json")]
    for flag, value in flags.items():
        argv += [flag, value]
    if outcome(argv, capsys) == 0:
        strict_json(folder / "r.json")
