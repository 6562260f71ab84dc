"""What a trained run leaves beside its generator: the export, one report per evaluation
protocol, the finished `run.json`, and the lines that say where they are. `tfinpaint train`
calls these after `tfinpaint.training.run.train`."""

from __future__ import annotations

import os
import time

from tfinpaint.config import ExperimentConfig
from tfinpaint.training.run import data_splits
from tfinpaint.training.rundir import write_json


def export_generator(config: ExperimentConfig, generator_path: str, export_root: str, log) -> str:
    """The run's generator exported as `config.export_name` under `export_root`; returns its folder."""
    from tfinpaint.export import export

    tflite = tuple(v for v in config.train.tflite.split(",") if v)
    exported = export(generator_path, name=config.export_name, out_root=export_root, tflite=tflite)
    log(f"exported {exported}")
    return exported


def report_dir(run_dir: str, protocol: str) -> str:
    """The folder of a run's end-of-run report for one protocol (`center`, `random`, ...)."""
    return os.path.join(run_dir, f"report-{protocol}")


def evaluate_generator(generator, config: ExperimentConfig, run_dir: str, log) -> dict:
    """Protocol -> report: the generator beside the classical baselines on the test split, once
    per protocol of `report_protocols` (the papers score centre and random holes apart)."""
    from tfinpaint.evaluation.evaluate import evaluate, report_protocols
    from tfinpaint.inference import KerasInpainter
    from tfinpaint.inference.baselines import CORE_BASELINES

    data = config.data
    inpainters = [KerasInpainter(generator, name=config.name), *CORE_BASELINES]
    source, split = data_splits(data)["test"]
    reports = {}
    for protocol, masks in report_protocols(data.masks).items():
        reports[protocol] = evaluate(
            inpainters,
            source,
            root=data.root,
            split=split,
            split_ratio=data.split_ratio,
            masks=masks,
            hole_fraction=data.hole_fraction,
            image_size=data.image_size,
            limit=config.train.eval_images or None,
            upscale_small=data.upscale_small,
            seed=config.train.seed,
            out_dir=report_dir(run_dir, protocol),
            overwrite=True,
            progress=False,
        )
        log(f"test split, {protocol} holes (masks {masks}):")
        for row in reports[protocol]["rows"]:
            if row["bucket"] is None:
                log(
                    f"  {row['model']:>16}: PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}  "
                    f"L1 {row['l1']:.4f}  ({row['n']} images)"
                )
    return reports


def record_finished(config: ExperimentConfig, summary: dict, started: float, log) -> dict:
    """Mark the run finished in its `run.json` (a rerun then refuses it) with `summary` and the
    wall time since `started`; say where its results are. Returns the summary written."""
    run_dir = summary["run_dir"]
    summary = {**summary, "seconds": round(time.time() - started, 1)}
    write_json(os.path.join(run_dir, "run.json"), {"state": "finished", **summary})
    log(f"finished {config.name} in {summary['seconds']:.0f} s: {run_dir}")
    for line in _next_steps(summary, run_dir):
        log(line)
    return summary


def _next_steps(summary: dict, run_dir: str) -> list:
    """Where the run's results are, and the command that uses its model."""
    lines = []
    for protocol in summary.get("report", {}):
        folder = report_dir(run_dir, protocol)
        lines.append(
            f"report ({protocol}): {os.path.join(folder, 'report.md')}, "
            f"examples: {os.path.join(folder, 'examples.png')}"
        )
    if summary.get("unreadable"):
        lines.append(f"{len(summary['unreadable'])} unreadable image(s) skipped; listed in run.json")
    lines.append(f"inpaint with it: tfinpaint inpaint PHOTO.jpg --mask MASK.png --model {run_dir}")
    return lines
