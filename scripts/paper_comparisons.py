#!/usr/bin/env python
"""Tables of docs/PAPER_COMPARISONS.md from finished training runs (run the `tfinpaint train`
commands listed there first).

    python scripts/paper_comparisons.py critics runs/A runs/B ...
        paper 2's critic comparison: the critics, steps and the end-of-run scores of each run
        (the report of the protocol the run trained on: its test split, its masks), the
        classical baselines once.
    python scripts/paper_comparisons.py kl runs/A [runs/B ...]
        paper 1's KL reduction: the kl_* and l1_* terms of each run at its first and last log
        step (TensorBoard), and how far two `sample` seeds differ inside and outside the hole on
        test images with centre holes.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

KL_TERMS = ("kl_rec", "kl_gen", "l1_rec", "l1_gen", "generator_loss")


def _json(run: str, name: str) -> dict:
    with open(os.path.join(run, name), encoding="utf-8") as f:
        return json.load(f)


def _training_protocol(masks: str) -> str:
    """The end-of-run report (`report-<protocol>/`) scored with the masks a run trained on."""
    from tfinpaint.evaluation.evaluate import report_protocols

    return next(name for name, spec in report_protocols(masks).items() if spec == masks)


def _texture(row: dict) -> str:
    """The hole's SWD x1e3 and gradient ratio cells of a report row."""
    swd, ratio = row.get("swd"), row.get("grad_ratio")
    return f"{'–' if swd is None else f'{swd:.0f}'} | {'–' if ratio is None else f'{ratio:.2f}'}"


def critics_table(runs: list) -> str:
    """Markdown rows: run, critics, steps, train minutes, PSNR / SSIM / L1, hole PSNR and the
    hole's texture (SWD x1e3, gradient ratio; "–" in reports written before they existed)."""
    lines = [
        "| model | critics | steps | train min | PSNR dB | SSIM | L1 | hole PSNR dB | hole SWD x1e3 "
        "| grad ratio | images |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    baselines = {}
    for run in runs:
        config, state = _json(run, "config.json"), _json(run, "run.json")
        protocol = _training_protocol(config["data"]["masks"])
        rows = [r for r in _json(run, f"report-{protocol}/report.json")["rows"] if r["bucket"] is None]
        name = os.path.basename(os.path.normpath(run))
        for row in rows:
            if row["model"] in ("telea", "ns", "biharmonic"):
                baselines.setdefault(row["model"], row)
                continue
            lines.append(
                f"| {name} | {config['model']['critics']} | {state['steps']} | "
                f"{state['train_seconds'] / 60:.1f} | {row['psnr']:.2f} | {row['ssim']:.4f} | "
                f"{row['l1']:.4f} | {row['psnr_hole']:.2f} | {_texture(row)} | {row['n']} |"
            )
    for model, row in baselines.items():
        lines.append(
            f"| {model} (classical) | - | - | - | {row['psnr']:.2f} | {row['ssim']:.4f} | "
            f"{row['l1']:.4f} | {row['psnr_hole']:.2f} | {_texture(row)} | {row['n']} |"
        )
    return "\n".join(lines)


def logged_scalars(run: str, names=KL_TERMS) -> dict:
    """Name -> [(step, value), ...] of the training scalars in `names` (TensorBoard event files)."""
    import tensorflow as tf

    values = {name: [] for name in names}
    for path in sorted(glob.glob(os.path.join(run, "logs", "train", "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag in values:
                    values[value.tag].append((event.step, float(tf.make_ndarray(value.tensor))))
    return {name: sorted(points) for name, points in values.items() if points}


def sample_spread(run: str, images: int = 32) -> dict:
    """Mean |sample(seed 1) - sample(seed 2)| in 8-bit levels, inside and outside the hole."""
    import numpy as np

    from tfinpaint.config import ExperimentConfig
    from tfinpaint.data import build_dataset
    from tfinpaint.inference import load_generator

    config = ExperimentConfig.from_dict(_json(run, "config.json"))
    data = config.data
    batch = next(
        iter(
            build_dataset(
                data.source,
                root=data.root,
                image_size=data.image_size,
                batch_size=images,
                split="test",
                split_ratio=data.split_ratio,
                masks="center",
                training=False,
            )
        )
    )
    generator = load_generator(os.path.join(run, "generator.keras"))
    inputs = {"image": batch["image"], "mask": batch["mask"]}
    first = np.asarray(generator.sample(inputs, 1))
    second = np.asarray(generator.sample(inputs, 2))
    hole = np.asarray(batch["mask"])[..., 0] == 1
    diff = np.abs(first - second) * 255.0
    return {"inside": float(diff[hole].mean()), "outside": float(diff[~hole].mean()), "images": len(hole)}


def kl_table(runs: list) -> str:
    """Per run: each term at the first and the last log step (unweighted, batch means), and the
    spread of two samples."""
    lines = [
        "| run | kl_reduction | steps logged | "
        + " | ".join(KL_TERMS)
        + " | sample seeds 1 vs 2: mean abs diff in the hole (outside), 8-bit levels |",
        "|---|---|---|" + "---:|" * len(KL_TERMS) + "---|",
    ]
    for run in runs:
        config = _json(run, "config.json")
        scalars = logged_scalars(run)
        steps = sorted({step for points in scalars.values() for step, _ in points})
        spread = sample_spread(run)
        terms = " | ".join(
            f"{scalars[k][0][1]:.3g} → {scalars[k][-1][1]:.3g}" if k in scalars else "-" for k in KL_TERMS
        )
        lines.append(
            f"| {os.path.basename(os.path.normpath(run))} | {config['model']['kl_reduction']} | "
            f"{steps[0]} → {steps[-1]} | {terms} | {spread['inside']:.2f} ({spread['outside']:.2f}), "
            f"{spread['images']} images |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("critics", "kl"))
    parser.add_argument("runs", nargs="+", help="finished run directories")
    args = parser.parse_args(argv)
    print(critics_table(args.runs) if args.table == "critics" else kl_table(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
