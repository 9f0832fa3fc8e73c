"""The ``fastpoison`` command. It only parses and prints; the work is the API's.

Exit status: 0 success, 2 bad usage or bad input (one line on stderr), 1 internal error.
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from .attacks import ATTACKS, attack_name, get_attack
from .attacks.profiles_io import describe_fakes, read_fakes, write_fakes
from .data.datasets import dataset_info, load_dataset
from .data.fetch import fetch
from .data.loaders import write_ncf
from .data.paths import data_roots
from .data.registry import paper_hr_k
from .data.targets import choose_targets
from .defenses import DEFENSES, with_settings
from .errors import FastPoisonError, one_line_warning
from .jsonio import dumps
from .eval.bench import STANDARD_ATTACKS, STANDARD_DEFENSES, accuracy_table, protocol, standard_grid, timing_table
from .eval.experiment import DEFAULT_KS, STAGE_METRICS, STAGES, ExperimentSpec, run_experiment
from .eval import backfire, reproduce
from .eval.grid import load_grid
from .eval.paper_tables import PAPER_TABLES
from .eval.plots import PLOTS, plot
from .eval.report import FORMATS, Cell, backfired, collect, costly, malformed, render
from .eval.runner import run_grid
from .eval.store import ResultStore
from .eval.serving import Server, dense_users
from .models import MODELS, load_model, make_model
from .options import parse_options, split_top_level
from .plugins import load_plugins


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit itself
        raise UsageError(message)


def _say(args: argparse.Namespace, text: str) -> None:
    """Human-readable output: stdout, or stderr when stdout carries the JSON (``--json -``)."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr if getattr(args, "json", None) == "-" else sys.stdout)


def _write_json(path: str | None, obj: Any) -> None:
    if path:
        text = dumps(obj, indent=2) + "\n"
        if path == "-":
            sys.stdout.write(text)
        else:
            Path(path).write_text(text)


def _load(args: argparse.Namespace, name: str):
    return load_dataset(name, args.data_dir, require_real=args.require_real)


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {"threads": args.threads}
    for key in ("epochs", "patience", "factors", "hidden", "lr", "reg", "optimizer", "item_reg"):
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
    if getattr(args, "bias", False):
        opts["bias"] = True
    return opts


def _attack(args: argparse.Namespace) -> str | None:
    """``--attack`` with the ``--attack-option`` settings in its brackets."""
    options = parse_options(getattr(args, "attack_option", None) or ())
    if args.attack is None:
        if options:
            raise UsageError("--attack-option needs --attack")
        return None
    return attack_name(args.attack, options)


def _defense(args: argparse.Namespace) -> str | None:
    """``--defense`` with the ``--defense-option`` settings (and ``--rvd-k`` as RVD's k) in the
    brackets of the part that has each."""
    options = parse_options(getattr(args, "defense_option", None) or ())
    if getattr(args, "rvd_k", None) is not None:
        options["k"] = args.rvd_k
    defense = getattr(args, "defense", None)
    if defense is None:
        if options:
            raise UsageError("--defense-option and --rvd-k need --defense")
        return None
    return with_settings(defense, options)


# ----------------------------------------------------------------------------- commands
def cmd_data_info(args: argparse.Namespace) -> int:
    ds = _load(args, args.dataset)
    info = dataset_info(ds)
    if args.fakes:
        fakes = read_fakes(args.fakes, ds.split.train)
        poisoned = ds.split.train.with_fake_users(fakes)
        info.update(describe_fakes(fakes), fakes_file=args.fakes, poisoned_n_users=poisoned.n_users,
                    poisoned_train_ratings=poisoned.n_ratings)
    _write_json(args.json, info)
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif value is None:
            value = "-"
        _say(args, f"{key:<{width}}  {value}")
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    name = args.dataset.removeprefix("synthetic:")
    ds = load_dataset(f"synthetic:{name}", seed=args.seed)
    files = write_ncf(ds.split, args.out, name, seed=args.seed)
    for f in files:
        _say(args, str(f))
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    folder = fetch(args.dataset, data_roots(args.data_dir)[0], url=args.url, sha256=args.sha256,
                   progress=not args.quiet, force=args.force)
    _say(args, str(folder))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    ds = _load(args, args.dataset)
    model = make_model(args.model, ds.name, **_model_options(args))
    start = time.perf_counter()
    model.fit(ds.split.train, seed=args.seed, progress=not args.quiet)
    elapsed = time.perf_counter() - start
    out = model.save(args.out)
    result = {"dataset": args.dataset, "model": args.model, "data_source": ds.data_source, "files": ds.files,
              "seed": args.seed, "best_epoch": model.best_epoch, "epochs_run": model.epochs_run,
              "history": model.history, "fit_s": elapsed, "out": out}
    _write_json(args.json, result)
    stopped = " (early stopping)" if model.epochs_run < model.config.epochs else ""
    _say(args, f"trained {args.model} on {ds.name} ({ds.data_source}) in {elapsed:.2f}s, "
               f"kept epoch {model.best_epoch + 1} of {model.epochs_run} run{stopped}; saved {out}")
    return 0


def _user_ids(args: argparse.Namespace) -> list[int] | None:
    """``--users`` and the ids of ``--users-file`` (one per line, blank lines skipped), in
    order; None (every real user) when neither is given."""
    texts = [] if args.users is None else args.users.split(",")
    if args.users_file is not None:
        texts += Path(args.users_file).read_text(encoding="utf-8").split()
    if args.users is None and args.users_file is None:
        return None
    try:
        return [int(t) for t in texts if t.strip()]
    except ValueError:
        raise UsageError("user ids must be integers (the dataset's own ids)") from None


def cmd_recommend(args: argparse.Namespace) -> int:
    ds = _load(args, args.dataset)
    if args.json == "-" and args.out in (None, "-"):
        raise UsageError("the lists go to stdout: write them with --out FILE to have --json - there")
    model = load_model(args.model_file)
    model.config.threads = args.threads
    started = time.perf_counter()
    server = Server(model, ds, defense=_defense(args), seed=args.seed)
    ready = time.perf_counter() - started
    users = dense_users(ds, _user_ids(args))
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8")
    served_s = 0.0
    try:
        if args.format == "tsv":
            out.write("user\trank\titem\tscore\n")
        for part in tqdm(server.batches(users, args.n, args.batch), total=-(-len(users) // args.batch),
                         desc="recommend", unit="batch", disable=args.quiet or len(users) <= args.batch,
                         file=sys.stderr):
            served_s += part.seconds
            for user, items, scores in zip(part.users.tolist(), part.items.tolist(), part.scores.tolist()):
                kept = [(i, s) for i, s in zip(items, scores) if i >= 0]
                if args.format == "tsv":
                    out.writelines(f"{user}\t{r}\t{i}\t{s:.6g}\n" for r, (i, s) in enumerate(kept, start=1))
                else:
                    out.write(dumps({"user": user, "items": [i for i, _ in kept],
                                          "scores": [round(s, 6) for _, s in kept]}) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    per_user_ms = 1000 * served_s / max(1, len(users))
    summary = {"dataset": ds.name, "data_source": ds.data_source, "model": model.name, "defense": server.defense,
               "defense_notes": server.notes or None, "users": len(users), "n": args.n, "setup_s": ready,
               "serve_s": served_s, "ms_per_user": per_user_ms}
    _write_json(args.json, summary)
    note = "" if not server.notes else " (" + ", ".join(f"{k} {v}" for k, v in server.notes.items()) + ")"
    if not args.quiet:
        print(f"fastpoison: served {len(users)} user(s) top-{args.n} from {model.name}"
              f"{' through ' + server.defense if server.defense else ''}{note}: set-up {ready:.2f} s, "
              f"{per_user_ms:.3f} ms per user", file=sys.stderr)
    return 0


def cmd_attack(args: argparse.Namespace) -> int:
    ds = _load(args, args.dataset)
    train = ds.split.train
    targets = choose_targets(train, args.targets, args.n_targets, seed=args.seed)
    attack = _attack(args)
    start = time.perf_counter()
    fakes = get_attack(attack).generate(train, targets, size=args.size, n_filler=args.filler,
                                        knowledge=args.knowledge, seed=args.seed, top_k=paper_hr_k(args.dataset))
    elapsed = time.perf_counter() - start
    write_fakes(args.out, fakes.ratings, train)
    t = fakes.threat
    result = {"dataset": args.dataset, "data_source": ds.data_source, "files": ds.files, "attack": attack,
              "targets": train.item_labels()[t.targets].tolist(), "n_fake": t.n_fake, "n_filler": t.n_filler,
              "knowledge": t.knowledge, "seed": args.seed, "attack_s": elapsed, "out": args.out}
    _write_json(args.json, result)
    _say(args, f"{attack} on {ds.name} ({ds.data_source}): {t.n_fake} fake users x ({t.n_filler} fillers + "
               f"{t.targets.size} targets {result['targets']}) in {elapsed:.2f}s; wrote {args.out}")
    return 0


def _spec(args: argparse.Namespace, model: str) -> ExperimentSpec:
    return ExperimentSpec(dataset=args.dataset, model=model, attack=_attack(args), defense=_defense(args),
                          targets=args.targets, n_targets=args.n_targets, attack_size=args.size, n_filler=args.filler,
                          knowledge=args.knowledge, hr_k=_hr_k(args), ks=args.k, seeds=args.seeds, seed=args.seed,
                          data_dir=args.data_dir, require_real=args.require_real, model_options=_model_options(args))


def _fmt(summary: dict[str, Any] | None) -> str:
    return "-" if summary is None else f"{summary['mean']:.4f} ± {summary['std']:.4f}"


def _say_at_k(args: argparse.Namespace, at_k: dict[str, dict[str, Any]] | None) -> None:
    """HR and NDCG at each K, per stage, as a small table (precision and recall are in the JSON)."""
    if not at_k:
        return
    ks = sorted({int(name.split("@")[1]) for by_name in at_k.values() for name in by_name})
    _say(args, f"  {'at K (means; --json has precision, recall)':<44}" + "".join(f"{k:>9}" for k in ks))
    for stage, by_name in at_k.items():
        for metric in ("target_hr", "target_ndcg", "test_hr", "test_ndcg"):
            row = [by_name.get(f"{metric}@{k}") for k in ks]
            _say(args, f"  {f'{metric}, {stage}':<44}" + "".join(f"{r['mean']:>9.4f}" if r else f"{'-':>9}" for r in row))


def cmd_run(args: argparse.Namespace) -> int:
    spec = _spec(args, args.model)
    ds = _load(args, args.dataset)
    result = run_experiment(spec, dataset=ds, progress=not args.quiet)
    _write_json(args.json, result)
    _say(args, f"{ds.name} ({ds.data_source}) {args.model}, {args.seeds} seed(s), HR@{_hr_k(args)}; "
               f"hr_*: target HR over users who have not rated the target (RVD paper), *_all_users: over every "
               f"real user (TCD code); test_hr_*: over every test user, *_liked: over test users whose held-out "
               f"rating is liked (RVD paper), *_sampled: against the shipped negatives")
    for key in (key.format(stage) for stage in STAGES for key in STAGE_METRICS.values()):
        if result[key] is not None:
            _say(args, f"  {key:<26} {_fmt(result[key])}")
    _say_at_k(args, result["at_k"])
    if result["ri"] is not None:
        _say(args, f"  {'ri (per seed)':<26} {_fmt(result['ri'])}   p = {result['p_value']:.3g}")
        _say(args, f"  {'ri (of the mean HRs)':<26} {result['ri_of_means']:.4f}")
    for stage, fits in result["epochs"].items():
        if fits:
            _say(args, f"  {'epoch kept, ' + stage:<26} " + ", ".join(
                f"{f['kept_epoch'] + 1} of {f['epochs_run']} run" for f in fits))
    if result["defense_notes"]:
        _say(args, "  what the defense chose or found per seed; valid_hr_*: HR@50 of the liked held-out validation "
                   "ratings (never trained on) that each option reached, by which it chose; canary_hr_*: the canary "
                   "items' HR@50 over up to 300 users without (plain) and with (defended) the defense, canary_lowered "
                   "/ canary_raised: the pairs it took out of / put into the top 50 (the canary check); "
                   "labels_per_rating / lowest_label_share: TCD's pseudo-labels per fitted training rating (the "
                   "ratings outside its validation hold-out) per model and co-training epoch, and their share at "
                   "the scale's lowest rating")
    for seed, notes in enumerate(result["defense_notes"] or [], start=args.seed):
        _say(args, f"  {f'defense chose (seed {seed})':<26} " + ", ".join(
            f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}" for key, value in notes.items()))
    t = result["timings"]
    stages = ", ".join(f"{name} {t[key]:.2f}" for key, name in (("fit", "fit"), ("attack", "attack"),
                                                               ("attacked_fit", "attacked fit"),
                                                               ("defense_fit", "defense set-up"),
                                                               ("evaluate", "evaluation")) if t[key] is not None)
    _say(args, f"  {'seconds per seed':<26} {stages}; {1000 * t['recommend_per_user']:.3f} ms per user served")
    _say(args, f"  {'total':<26} {t['total']:.1f} s wall, {t['cpu_total']:.1f} s CPU, peak RSS "
               f"{t['peak_rss_mb']:.0f} MiB")
    label = f"{spec.defense} against {spec.attack} on {ds.name} ({args.model})"
    if result["backfire"]:
        _say(args, f"  {'backfire ' + backfire.MARK:<26} {'; '.join(result['backfire'])}")
        backfire.warn(label, result["backfire"])
    if result["accuracy_cost"]:
        _say(args, f"  {'accuracy cost ' + backfire.COST_MARK:<26} {'; '.join(result['accuracy_cost'])}")
        backfire.warn(label, result["accuracy_cost"], "cost accuracy")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    ds = _load(args, args.dataset)  # fails early, and says when a synthetic twin stands in
    out = args.out or str(Path("bench-results") / args.dataset.replace(":", "-"))
    if not args.quiet:
        print(f"fastpoison: bench records go to {out}{'' if args.out else ' (the default; --out to change it)'}",
              file=sys.stderr)
    cells = standard_grid(args.dataset, models=_names(args.models), attacks=_names(args.attacks),
                          defenses=_names(args.defenses), targets=args.targets, seeds=args.seeds, seed=args.seed,
                          model_options=_model_options(args))
    cells = [dataclasses.replace(c, data_dir=args.data_dir, require_real=args.require_real, hr_k=_hr_k(args), ks=args.k,
                                 n_targets=args.n_targets, attack_size=args.size, n_filler=args.filler,
                                 knowledge=args.knowledge) for c in cells]
    start = time.perf_counter()
    outcome = run_grid(cells, out, workers=args.workers, resume=args.resume, progress=not args.quiet)
    wall = time.perf_counter() - start
    store = ResultStore(out)
    keys = {c.key() for c in cells}
    records = [r for r in store.records() if r.get("key") in keys]
    peak_mib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    header = protocol(args.targets, args.n_targets)
    _write_json(args.json, {"dataset": args.dataset, "data_source": ds.data_source, "protocol": header,
                            "cells": len(cells), "ran": outcome.ran, "skipped": outcome.skipped, "failed": list(outcome.failed),
                            "wall_s": wall, "peak_rss_mib_per_process": peak_mib, "out": out})
    _say(args, f"{args.dataset} ({ds.data_source}), {header}: {len(cells)} cells ({outcome.skipped} already done) "
               f"in {wall:.0f} s on {args.workers} worker(s); peak RSS {peak_mib:.0f} MiB per process; records in {out}")
    if records:
        cells_done = collect(records)
        _say(args, "\n" + render(cells_done, "md"))
        _say(args, accuracy_table(records))
        _say(args, timing_table(records))
        _warn_backfired(cells_done)
    for key in outcome.failed:
        _say(args, f"  failed {key}: {(store.read(key) or {}).get('error')}")
    return 1 if outcome.failed else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    table = reproduce.resolve(args.table, args.dataset)
    if table.name != args.table.strip().lower():
        _say(args, f"{args.table} has no {args.dataset}; its appendix twin {table.name} has")
    pairs = reproduce.plan(table, args.dataset)
    seeds = 1 if args.quick else args.seeds
    cells = reproduce.cells(pairs, seeds=seeds, data_dir=args.data_dir)
    cells = [dataclasses.replace(c, require_real=args.require_real) for c in cells]
    out = args.out or str(Path("reproduce-results") / f"{table.name}-{args.dataset or 'all'}")
    start = time.perf_counter()
    outcome = run_grid(cells, out, workers=args.workers, resume=args.resume, progress=not args.quiet)
    records = list(ResultStore(out).records())
    rows = reproduce.compare(table, pairs, records)
    _write_json(args.json, {"table": table.name, "dataset": args.dataset, "seeds": seeds, "quick": args.quick,
                            "cells": len(cells), "ran": outcome.ran, "wall_s": time.perf_counter() - start,
                            "rows": rows, "judgement": reproduce.judge(table, rows), "failed": list(outcome.failed)})
    _say(args, reproduce.to_markdown(table, rows))
    _say(args, f"{len(cells)} cells ({outcome.skipped} already done), {seeds} seed(s), "
               f"{time.perf_counter() - start:.0f} s; records in {out}")
    _warn_backfired(collect(records))
    return 1 if outcome.failed else 0


def _hr_k(args: argparse.Namespace) -> int:
    return paper_hr_k(args.dataset) if args.hr_k is None else args.hr_k


def _cut_offs(text: str) -> tuple[int, ...]:
    """``--k``'s comma-separated cut-offs, each an integer >= 1."""
    try:
        ks = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 10,20,50, got {text!r}") from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"cut-offs must be integers >= 1, got {text!r}")
    return ks


def _names(text: str) -> list[str]:
    """Comma-separated names; commas inside brackets belong to a name's settings."""
    names = [n.strip() for n in split_top_level(text, ",") if n.strip()]
    if not names:
        raise UsageError("an empty list of names")
    return names


def cmd_grid(args: argparse.Namespace) -> int:
    cells = load_grid(args.config, args.data_dir)
    if args.check:
        _write_json(args.json, {"cells": len(cells), "keys": [c.key() for c in cells]})
        _say(args, f"{args.config}: {len(cells)} valid cells (nothing run)")
        return 0
    if args.out is None:
        raise UsageError("grid needs --out (a record folder), or --check to validate only")
    outcome = run_grid(cells, args.out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                       progress=not args.quiet)
    _write_json(args.json, {"cells": len(cells), "skipped": outcome.skipped, "ran": outcome.ran,
                            "failed": list(outcome.failed), "out": args.out})
    _say(args, f"{len(cells)} cells: {outcome.skipped} already done, {outcome.ran} run, "
               f"{len(outcome.failed)} failed; records in {args.out}")
    for key in outcome.failed:
        record = ResultStore(args.out).read(key) or {}
        _say(args, f"  failed {key}: {record.get('error')}")
    return 1 if outcome.failed else 0


def _warn_backfired(cells: list[Cell]) -> None:
    """One stderr line per cell whose defense backfired, and per cell it cost accuracy."""
    for label, found in backfired(cells):
        backfire.warn(label, found)
    for label, found in costly(cells):
        backfire.warn(label, found, "cost accuracy")


def cmd_report(args: argparse.Namespace) -> int:
    if not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir} is not a folder of records (report reads the folder a grid wrote)")
    store = ResultStore(args.dir)
    skipped = [(p, "does not parse as a JSON object") for p in store.unreadable()]
    skipped += [(p, why) for p in store.paths() if (r := store.read(p.stem)) is not None and (why := malformed(r))]
    for path, why in skipped:
        print(f"fastpoison: warning: skipped {path}: {why}", file=sys.stderr)
    cells = collect(r for r in store.records() if malformed(r) is None)
    if not cells:
        raise UsageError(f"no finished records in {args.dir}")
    text = render(cells, args.format)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    _warn_backfired(cells)
    if args.plot:
        path = plot(cells, args.plot, args.plot_out or f"{args.plot}.png")
        print(f"fastpoison: wrote {path}", file=sys.stderr)
    return 1 if skipped and args.strict else 0


# ----------------------------------------------------------------------------- parser
def _integer_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``, else a usage error naming the option."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


COUNT = _integer_at_least(1)  # repeats, workers, list lengths, batch sizes
SEED = _integer_at_least(0)  # numpy seeds are non-negative


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding datasets (else $FASTPOISON_DATA, else the user cache)")
    p.add_argument("--require-real", action="store_true", help="fail instead of using a synthetic twin")
    p.add_argument("--threads", type=int, default=1, help="kernel threads (1 = deterministic; 0 = all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or tables")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON ('-' for stdout)")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, help="training epochs (default: the model's)")
    p.add_argument("--patience", type=int,
                   help="stop a fit after this many epochs without a lower validation loss (ours; default "
                        "10 for the factor models MF, NSVD, BPR-MF and LightGCN, 0 for the auto-encoders; 0 "
                        "trains every epoch, as the papers and `reproduce` do)")
    p.add_argument("--factors", type=int,
                   help="factor models: latent dimension (default 128 for MF/NSVD, 64 for BPR-MF/LightGCN)")
    p.add_argument("--hidden", type=int, help="AutoRec/CDAE: hidden units (default 500 / 50)")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--reg", type=float, help="L2 regularisation")
    p.add_argument("--optimizer", choices=["adam", "sgd"],
                   help="default adam (the papers'; BPR-MF and LightGCN train with adam only)")
    p.add_argument("--bias", action="store_true", help="MF/NSVD: add user/item bias terms")
    p.add_argument("--item-reg", type=float, help="NSVD only: strength of the per-item prior on q_i (default 0, the plain model; 16 is ours)")


def _threat_args(p: argparse.ArgumentParser, targets: str = "random") -> None:
    """The threat-model options; ``targets`` is the default of ``--targets``."""
    p.add_argument("--dataset", required=True, help="ml-100k, ml-1m, filmtrust, yelp, synthetic:NAME or a path")
    p.add_argument("--targets", default=targets,
                   help=f"random, unpopular or comma-separated (0-based) item ids (default {targets})")
    p.add_argument("--n-targets", type=int, default=5, help="number of target items (default 5)")
    p.add_argument("--size", type=float, default=0.03, help="fake users as a share of real users (default 0.03)")
    p.add_argument("--filler", type=int, help="filler items per fake user (default: the mean real profile minus the "
                        "targets, as both papers)")
    p.add_argument("--knowledge", type=float, default=0.4,
                   help="share of real ratings the attacker sees, in (0, 1] (default 0.4)")


def _experiment_args(p: argparse.ArgumentParser, targets: str = "random") -> None:
    _threat_args(p, targets)
    p.add_argument("--hr-k", type=int, help="cut-off K of HR@K (default 50; 500 on Yelp, as the RVD paper)")
    p.add_argument("--k", type=_cut_offs, default=DEFAULT_KS, metavar="K,K,...",
                   help="cut-offs of HR, precision, recall and NDCG of the targets and of the test items, "
                        f"all from one top-K pass, under at_k in the JSON (default {','.join(map(str, DEFAULT_KS))})")
    p.add_argument("--seeds", type=COUNT, default=1, help="number of repeated runs")
    p.add_argument("--seed", type=SEED, default=0, help="first seed")
    _model_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastpoison", description="Poisoning attacks and defenses for recommender systems.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = sub.add_parser("data", help="inspect, synthesise or fetch datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    p = dsub.add_parser("info", help="users, items, ratings, sparsity, scale, popularity tail, ids without "
                                     "training ratings, cold test items, id gaps")
    p.add_argument("dataset")
    p.add_argument("--fakes", metavar="FILE", help="fake profiles (TSV from `fastpoison attack`) to describe")
    _common(p)
    p.set_defaults(func=cmd_data_info)
    p = dsub.add_parser("synth", help="write a synthetic twin in the NCF layout")
    p.add_argument("dataset")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data_synth)
    p = dsub.add_parser("fetch", help="download a public dataset into the cache (checksummed)")
    p.add_argument("dataset")
    p.add_argument("--data-dir", help="where to put it (else $FASTPOISON_DATA, else the user cache)")
    p.add_argument("--url", help="mirror URL of the same archive")
    p.add_argument("--sha256", help="expected SHA-256 (overrides the built-in one)")
    p.add_argument("--force", action="store_true", help="download again even if present")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data_fetch)

    p = sub.add_parser("train", help="train a model and save it as .npz")
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--out", required=True, help="model file (.npz)")
    _model_args(p)
    _common(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("attack", help="generate fake profiles and write them as TSV")
    p.add_argument("--attack", required=True,
                   help=f"one of {', '.join(sorted(ATTACKS))}, settings in brackets: pga[steps=50]")
    p.add_argument("--attack-option", action="append", metavar="KEY=VALUE",
                   help="a setting of the attack, e.g. steps=50 for pga (repeatable)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--out", required=True, help="output TSV: user, item, rating in the dataset's ids and scale")
    _threat_args(p)
    _common(p)
    p.set_defaults(func=cmd_attack)

    p = sub.add_parser("run", help="one experiment cell over seeds")
    p.add_argument("--model", default="mf", choices=sorted(MODELS))
    p.add_argument("--attack", help=f"attack name: {', '.join(sorted(ATTACKS))}; settings in brackets: pga[steps=50]")
    p.add_argument("--attack-option", action="append", metavar="KEY=VALUE",
                   help="a setting of the attack, e.g. steps=50 for pga (repeatable)")
    p.add_argument("--defense", help=f"defense: one of {', '.join(sorted(DEFENSES))}, or a training part + a "
                                     f"serving part (ltsmf+rvd); settings in brackets: ltsmf+rvd[k=25]")
    p.add_argument("--defense-option", action="append", metavar="KEY=VALUE",
                   help="a setting of the defense part that has it, e.g. pseudo_budget=1 for tcd (repeatable)")
    p.add_argument("--rvd-k", type=int, help="shorthand for --defense-option k=K: RVD's neighbours per user "
                                             "(default: the RVD paper's Table 2)")
    _experiment_args(p)
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("grid", help="run a grid of experiment cells (TOML) into a folder of records")
    p.add_argument("config", help="grid file (TOML; see fastpoison.eval.grid)")
    p.add_argument("--out", help="record folder (one JSON per cell)")
    p.add_argument("--check", action="store_true", help="validate every cell of the grid and run none")
    p.add_argument("--workers", type=COUNT, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", help="dask scheduler address (needs fastpoison[dask]); workers must see --out")
    p.add_argument("--resume", action="store_true", help="skip cells that already have a record")
    _common(p)
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("recommend", help="serve top-N lists from a saved model, optionally through RVD")
    p.add_argument("--model-file", required=True, help="a model written by `fastpoison train --out`")
    p.add_argument("--dataset", required=True, help="the dataset the model was trained on (as given to train)")
    p.add_argument("--users", help="comma-separated user ids, as in the dataset's files (default: every user)")
    p.add_argument("--users-file", help="a file of user ids, one per line (added to --users)")
    p.add_argument("--n", type=COUNT, default=10, help="items per user (default 10)")
    p.add_argument("--defense", help="a serving defense, e.g. rvd or 'rvd[k=100]' (k defaults as in run)")
    p.add_argument("--defense-option", action="append", metavar="KEY=VALUE", help="a setting of the defense")
    p.add_argument("--rvd-k", type=int, help="RVD's k (neighbours per served user)")
    p.add_argument("--format", choices=("jsonl", "tsv"), default="jsonl",
                   help="jsonl: one {user, items, scores} per line; tsv: user, rank, item, score (default jsonl)")
    p.add_argument("--out", help="write the lists here (default stdout)")
    p.add_argument("--batch", type=COUNT, default=1024, help="users per batch (default 1024)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the defense's random choices (default 0)")
    _common(p)
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("report", help="tables (and figures) from a folder of grid records")
    p.add_argument("dir", help="record folder written by `fastpoison grid`")
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--out", help="write the table here instead of stdout")
    p.add_argument("--plot", choices=PLOTS, help="also draw a figure")
    p.add_argument("--plot-out", help="figure file (PNG; default <plot>.png)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a record file had to be skipped")
    p.set_defaults(func=cmd_report, quiet=False, json=None)

    p = sub.add_parser("reproduce", help="run a paper's table and print our numbers beside the published ones")
    p.add_argument("table", help=f"one of {', '.join(PAPER_TABLES)}")
    p.add_argument("--dataset", help="only this dataset of the table (an RVD table's appendix twin is used if needed)")
    p.add_argument("--seeds", type=COUNT, default=3, help="repeats per cell (default 3; the papers: 30)")
    p.add_argument("--quick", action="store_true",
                   help="one seed (fewer training epochs change the results too much to be a preview)")
    p.add_argument("--out", help="record folder (default reproduce-results/TABLE-DATASET)")
    p.add_argument("--workers", type=COUNT, default=2, help="worker processes (default 2)")
    p.add_argument("--resume", action="store_true", help="skip cells already in --out")
    _common(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("bench", help="the standard grid on one dataset: effect, accuracy and timing tables")
    p.add_argument("--models", default="mf", help=f"comma-separated models of {', '.join(MODELS)} (default mf)")
    p.add_argument("--attacks", default=",".join(STANDARD_ATTACKS),
                   help=f"comma-separated attacks, 'none' for no attack (default {','.join(STANDARD_ATTACKS)})")
    p.add_argument("--defenses", default=",".join(STANDARD_DEFENSES),
                   help=f"comma-separated defenses, 'none' and variants such as tcd[pseudo_budget=1] allowed "
                        f"(default {','.join(STANDARD_DEFENSES)})")
    p.add_argument("--out", help="record folder (default bench-results/DATASET); reruns with --resume reuse it")
    p.add_argument("--workers", type=COUNT, default=2, help="worker processes (default 2)")
    p.add_argument("--resume", action="store_true", help="skip cells already in --out")
    _experiment_args(p, targets="unpopular")  # the papers' protocol
    _common(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastpoison`` command; returns the exit status."""
    warnings.showwarning = one_line_warning  # type: ignore[assignment]
    try:
        load_plugins()
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except UsageError as e:
        print(f"fastpoison: usage error: {e}", file=sys.stderr)
        return 2
    except (FastPoisonError, ValueError, OSError) as e:
        print(f"fastpoison: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastpoison: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
