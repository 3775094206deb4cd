"""The CMU benchmark: plain MixSTE vs HoT vs H2OT (strategy pairs) trained with one configuration.

    h2ot data mocap --src ../shared/data/cmu/daz --out runs/data/cmu_h36m.npz            # once
    python benchmarks/cmu_accuracy.py train  [--device cuda] [--epochs N | --budget-s S] [--only a,b]
    python benchmarks/cmu_accuracy.py report [--repeats 10] [--table]   # params, FLOPs, CPU latency -> tables

``train`` trains every variant of ``VARIANTS`` on ``configs/cmu_mixste128.yaml`` (same data, epochs, seed,
optimiser; only the tokenizer differs) into ``runs/cmu/<name>``. With ``--budget-s`` the plain backbone
trains first and its time per epoch fixes the epoch count for every variant (the same for all).
``report`` reads each run's final-epoch test metrics (``last.pt``: no selection on the test set),
measures parameters, FLOPs in both conventions and the CPU latency of all variants interleaved in one
process, and writes ``benchmarks/results/cmu_accuracy.{md,json}`` (with ``--table``, the table also to
``docs/tables/cmu.md``, which the docs include).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import h2ot  # noqa: E402
from h2ot.config import load_config  # noqa: E402
from benchmarks.doc_tables import add_table_argument, publish  # noqa: E402

BASE = ROOT / "configs" / "cmu_mixste128.yaml"
RESULTS = ROOT / "benchmarks" / "results"

# name: (label, overrides)
VARIANTS = {
    "plain": ("MixSTE (plain)", {}),
    "hot_tpc_tra_3-81": ("HoT: cluster + attention, 3:81", dict(schedule="3:81", pruning="cluster",
                                                                recovery="attention")),
    "h2ot_tps_tri_1-121_3-81_5-27": ("H2OT: sampler + interpolation, 1:121,3:81,5:27",
                                     dict(schedule="1:121,3:81,5:27", pruning="sampler", recovery="interpolation")),
    "h2ot_tps_tri_1-121_3-81": ("H2OT: sampler + interpolation, 1:121,3:81",
                                dict(schedule="1:121,3:81", pruning="sampler", recovery="interpolation")),
    "h2ot_tpc_tra_1-121_3-81_5-27": ("H2OT: cluster + attention, 1:121,3:81,5:27",
                                     dict(schedule="1:121,3:81,5:27", pruning="cluster", recovery="attention")),
    "h2ot_tpc_tri_1-121_3-81_5-27": ("H2OT: cluster + interpolation, 1:121,3:81,5:27",
                                     dict(schedule="1:121,3:81,5:27", pruning="cluster", recovery="interpolation")),
    "h2ot_tps_tra_1-121_3-81_5-27": ("H2OT: sampler + attention, 1:121,3:81,5:27",
                                     dict(schedule="1:121,3:81,5:27", pruning="sampler", recovery="attention")),
    "h2ot_tpmo_tri_1-121_3-81_5-27": ("H2OT: motion + interpolation, 1:121,3:81,5:27",
                                      dict(schedule="1:121,3:81,5:27", pruning="motion", recovery="interpolation")),
    "h2ot_tpa_tri_1-121_3-81_5-27": ("H2OT: attention + interpolation, 1:121,3:81,5:27",
                                     dict(schedule="1:121,3:81,5:27", pruning="attention", recovery="interpolation")),
}


def variant_overrides(name: str, args) -> list[str]:
    sets = [f"model.{k}={v}" for k, v in VARIANTS[name][1].items()]
    sets += [f"out={args.runs}/{name}", f"device={args.device}", f"data.train=[{args.data}]",
             f"data.num_workers={args.workers}", f"threads={args.threads}"]
    if args.epochs:
        sets.append(f"optim.epochs={args.epochs}")
    return sets + list(args.set)


def run_train(args) -> int:
    from h2ot.train import train

    names = args.only.split(",") if args.only else list(VARIANTS)
    for n in names:
        if n not in VARIANTS:
            raise SystemExit(f"unknown variant {n!r}; expected some of {list(VARIANTS)}")
    if args.budget_s and "plain" in names:
        names.remove("plain")
        names.insert(0, "plain")
    epochs = args.epochs
    for name in names:
        out = Path(args.runs) / name
        if out.exists() and args.fresh:
            shutil.rmtree(out)
        if (out / "summary.json").exists():
            print(f"{name}: already trained ({out}/summary.json), skipping", file=sys.stderr)
            continue
        if args.budget_s and not epochs:
            # one epoch of the plain model fixes the epoch count for every variant
            cfg = load_config(BASE, variant_overrides(name, args) + ["optim.epochs=1", f"out={out}_probe"])
            shutil.rmtree(cfg.out, ignore_errors=True)
            per_epoch = train(cfg)["times"]["train_s"]
            shutil.rmtree(cfg.out, ignore_errors=True)
            epochs = max(1, int(args.budget_s / per_epoch))
            args.epochs = epochs
            print(f"budget {args.budget_s:.0f}s per run, {per_epoch:.1f}s per epoch -> {epochs} epochs",
                  file=sys.stderr)
        cfg = load_config(BASE, variant_overrides(name, args))
        t0 = time.perf_counter()
        try:
            summary = train(cfg, resume=(out / "last.pt").exists())
        except Exception as err:  # keep going: one failed variant must not lose the others
            print(f"{name}: FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        summary["wall_s"] = time.perf_counter() - t0
        summary["device"] = (torch.cuda.get_device_name() if cfg.device.startswith("cuda") else
                             platform.processor() or platform.machine())
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        final = summary["final"]
        print(f"{name}: MPJPE {final.get('test_mpjpe', float('nan')):.1f} mm, P-MPJPE "
              f"{final.get('test_p-mpjpe', float('nan')):.1f} mm, train {summary['times']['train_s']:.0f}s",
              file=sys.stderr, flush=True)
    return 0


def run_pretrained(args) -> int:
    """Train the default pretrained model (configs/pretrained_cmu.yaml). With ``--budget-s`` the epochs
    follow from the plain benchmark run's time per epoch; with ``--pick`` the tokenizer is the benchmark's
    most accurate H2OT variant that saves at least half of the plain model's paper FLOPs."""
    from h2ot.profile import count_flops_paper, example_input
    from h2ot.train import train

    sets = [f"device={args.device}", f"data.num_workers={args.workers}", f"threads={args.threads}",
            f"out={args.out}"]
    plain = Path(args.runs) / "plain" / "summary.json"
    if args.pick and plain.exists():
        base = json.loads(plain.read_text())
        x = example_input(h2ot.create_model(base["model_name"], **base["model_kwargs"]), 1)
        base_flops = count_flops_paper(h2ot.create_model(base["model_name"], **base["model_kwargs"]), x)
        best = None
        for name, (_, over) in VARIANTS.items():
            path = Path(args.runs) / name / "summary.json"
            if name == "plain" or not name.startswith("h2ot") or not path.exists():
                continue
            summ = json.loads(path.read_text())
            flops = count_flops_paper(h2ot.create_model(summ["model_name"], **summ["model_kwargs"]), x)
            mpjpe = summ["final"].get("test_mpjpe", math.inf)
            if flops <= 0.5 * base_flops and (best is None or mpjpe < best[0]):
                best = (mpjpe, name, over)
        if best is not None:
            print(f"pretrained: picked {best[1]} ({best[0]:.1f} mm)", file=sys.stderr)
            sets += [f"model.{k}={v}" for k, v in best[2].items()]
    cfg = load_config(ROOT / "configs" / "pretrained_cmu.yaml", sets + list(args.set))
    if args.budget_s and plain.exists():
        summ = json.loads(plain.read_text())
        per_epoch = summ["times"]["train_s"] / max(summ["epochs"], 1)
        ratio = len(cfg.data.train) * 2.0  # 8 random cameras vs the benchmark's 4
        epochs = max(1, int(args.budget_s / (per_epoch * ratio * 0.75)))
        cfg = load_config(ROOT / "configs" / "pretrained_cmu.yaml", sets + list(args.set) + [f"optim.epochs={epochs}"])
        print(f"pretrained: {per_epoch:.1f}s per plain epoch -> {epochs} epochs", file=sys.stderr)
    if Path(cfg.out).exists() and args.fresh:
        shutil.rmtree(cfg.out)
    summary = train(cfg, resume=(Path(cfg.out) / "last.pt").exists())
    print(json.dumps(summary["final"]), file=sys.stderr)
    return 0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_report(args) -> int:
    from h2ot.pretrained import load_checkpoint_model
    from h2ot.profile import count_flops, count_flops_paper, count_params, example_input, median, time_models
    from h2ot.threads import use_threads

    use_threads(args.threads)  # not torch.set_num_threads at the same count: it slows every model (h2ot.threads)
    rows, models = [], {}
    for name, (label, _) in VARIANTS.items():
        run = Path(args.runs) / name
        if not (run / "summary.json").exists():
            print(f"{name}: not trained ({run}), skipped", file=sys.stderr)
            continue
        summary = json.loads((run / "summary.json").read_text())
        if (run / "last.pt").exists():
            model = load_checkpoint_model(run / "last.pt").eval()
        else:  # only the logs came back (trained elsewhere): the architecture is all we measure here
            model = h2ot.create_model(summary["model_name"], **summary["model_kwargs"]).eval()
        x = example_input(model, 1)
        rows.append({"name": name, "label": label, "mpjpe": summary["final"].get("test_mpjpe"),
                     "p_mpjpe": summary["final"].get("test_p-mpjpe"), "epochs": summary["epochs"],
                     "params": count_params(model), "flops": count_flops(model, x),
                     "flops_paper": count_flops_paper(model, x), "train_s": summary["times"]["train_s"],
                     "train_device": summary.get("device", "?")})
        models[name] = model
    if not rows:
        raise SystemExit("no trained runs found; run `python benchmarks/cmu_accuracy.py train` first")
    x = example_input(next(iter(models.values())), args.batch)
    times, state = time_models(models, x, warmup=2, repeats=args.repeats)
    for row in rows:
        row["latency_ms"] = median(times[row["name"]])
    base = next((r for r in rows if r["name"] == "plain"), None)
    lines = [
        f"CMU test subjects S02 S09 S10 S12 (4 cameras, detector-noise model on), final epoch "
        f"({rows[0]['epochs']} epochs), flip TTA. MixSTE 243 frames, 8 x 128 channels (configs/cmu_mixste128.yaml). "
        f"Trained on {rows[0]['train_device']}; FLOPs per 243-frame clip; CPU latency: {cpu_name()}, "
        f"{args.threads} threads, batch {args.batch}, median of {args.repeats} interleaved runs ({state.describe()}); "
        f"torch {torch.__version__}; {time.strftime('%Y-%m-%d')}.",
        "",
        "| model | MPJPE (mm) | P-MPJPE (mm) | ΔMPJPE vs plain | params (M) | GFLOPs (all ops) | GFLOPs (paper) "
        "| FLOPs saved (paper) | CPU latency (ms) | speedup | train time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        d = f"{100 * (r['mpjpe'] / base['mpjpe'] - 1):+.1f}%" if base else "-"
        saved = f"{100 * (1 - r['flops_paper'] / base['flops_paper']):.0f}%" if base else "-"
        speed = f"{base['latency_ms'] / r['latency_ms']:.2f}×" if base else "-"
        lines.append(f"| {r['label']} | {r['mpjpe']:.1f} | {r['p_mpjpe']:.1f} | {d} | {r['params'] / 1e6:.3f} | "
                     f"{r['flops'] / 1e9:.2f} | {r['flops_paper'] / 1e9:.2f} | {saved} | {r['latency_ms']:.1f} | "
                     f"{speed} | {r['train_s']:.0f} |")
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cmu_accuracy.md").write_text(table)
    (RESULTS / "cmu_accuracy.json").write_text(json.dumps({"rows": rows, "cpu": cpu_name(),
                                                           "torch": torch.__version__}, indent=2) + "\n")
    publish(table, args.table)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--device", default="auto")
    t.add_argument("--data", default="runs/data/cmu_h36m.npz")
    t.add_argument("--runs", default="runs/cmu")
    t.add_argument("--epochs", type=int, default=0, help="override optim.epochs for every variant")
    t.add_argument("--budget-s", type=float, default=0, help="seconds per run; fixes the epochs from the plain model")
    t.add_argument("--only", default="", help="comma list of variant names")
    t.add_argument("--workers", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--fresh", action="store_true", help="delete existing runs first")
    t.add_argument("--set", action="append", default=[], help="extra config overrides for every run")
    r = sub.add_parser("report")
    r.add_argument("--runs", default="runs/cmu")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--batch", type=int, default=1)
    r.add_argument("--repeats", type=int, default=10)
    add_table_argument(r, "cmu")
    q = sub.add_parser("pretrained")
    q.add_argument("--device", default="auto")
    q.add_argument("--runs", default="runs/cmu")
    q.add_argument("--out", default="runs/pretrained")
    q.add_argument("--budget-s", type=float, default=0)
    q.add_argument("--pick", action="store_true")
    q.add_argument("--workers", type=int, default=0)
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--fresh", action="store_true")
    q.add_argument("--set", action="append", default=[])
    args = p.parse_args(argv)
    return {"train": run_train, "report": run_report, "pretrained": run_pretrained}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
