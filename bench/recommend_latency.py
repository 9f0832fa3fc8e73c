"""`fastpoison recommend` against the same serving in process: per-user latency and equal lists.

Trains the victim (``--model`` with the dataset's defaults, ``--epochs``; the latency does not
depend on how well it is trained) and saves it, then, for ``--users`` random users, ``--repeats``
times each, alternating:

* in process: the model loaded from the file, served through ``--defense`` (RVD at the
  paper's k for the dataset and model unless given) in one call for all the users;
* the command: ``fastpoison recommend --model-file ... --users-file ...`` in a fresh process,
  its own ``ms_per_user`` (serving only; the set-up, index build included, is reported apart).

Prints medians, the ratio command / in process, and whether the lists are equal. One thread.

    PYTHONPATH=src python3 bench/recommend_latency.py --dataset synthetic:yelp --defense rvd [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastpoison.data.datasets import load_dataset
from fastpoison.eval.serving import Server
from fastpoison.models import load_model, make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:yelp")
    ap.add_argument("--model", default="mf")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--defense", default="rvd")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()

    ds = load_dataset(args.dataset)
    train = ds.split.train
    work = Path(tempfile.mkdtemp(prefix="recommend-latency-"))
    path = make_model(args.model, ds.name, epochs=args.epochs, threads=1).fit(train, seed=0).save(work / "model")
    rows = np.sort(np.random.default_rng(0).choice(train.n_real_users, args.users, replace=False)).astype(np.int32)
    labels = train.user_labels()[rows]
    ids = work / "users.txt"
    ids.write_text("\n".join(map(str, labels.tolist())) + "\n")
    command = [sys.executable, "-m", "fastpoison", "recommend", "--model-file", path, "--dataset", args.dataset,
               "--users-file", str(ids), "--n", str(args.n), "--defense", args.defense, "--quiet",
               "--out", str(work / "lists.jsonl"), "--json", str(work / "summary.json")]

    in_process, by_command, setup, equal = [], [], [], True
    for _ in range(args.repeats):
        server = Server(load_model(path), ds, defense=args.defense)
        start = time.perf_counter()
        top = server.top_n(rows, args.n)
        in_process.append(1e3 * (time.perf_counter() - start) / len(rows))
        subprocess.run(command, check=True)
        summary = json.loads((work / "summary.json").read_text())
        by_command.append(summary["ms_per_user"])
        setup.append(summary["setup_s"])
        lines = [json.loads(line) for line in (work / "lists.jsonl").read_text().splitlines()]
        item_labels = train.item_labels()
        equal &= all(line["items"] == item_labels[top.items[k]].tolist() for k, line in enumerate(lines))
    result = {"dataset": args.dataset, "data_source": ds.data_source, "model": args.model, "defense": args.defense,
              "defense_notes": summary["defense_notes"], "users": args.users, "n": args.n, "repeats": args.repeats,
              "in_process_ms_per_user": in_process, "command_ms_per_user": by_command, "command_setup_s": setup,
              "ratio_of_medians": statistics.median(by_command) / statistics.median(in_process),
              "lists_equal": bool(equal)}
    print(f"{args.dataset} ({ds.data_source}), {args.model} through {args.defense}, {args.users} users, "
          f"top-{args.n}, medians of {args.repeats}:")
    print(f"  in process   {statistics.median(in_process):.3f} ms per user")
    print(f"  recommend    {statistics.median(by_command):.3f} ms per user (set-up {statistics.median(setup):.2f} s)")
    print(f"  ratio        {result['ratio_of_medians']:.3f}; lists equal: {equal}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
