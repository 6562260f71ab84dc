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
    python scripts/paper_comparisons.py grid MODEL [MODEL ...] --data FOLDER [--blur-after ROW]
        where a paper-2 generator's block grid is made: for each row of Table 1, the spectral
        peak of its activations in centre holes (16 photos at the generator's training size) at
        the period that is 8 px at 128 px, over the spectrum's mean (1 = no peak;
        docs/PAPER_COMPARISONS.md, "Resize-convs under feature matching"). `--blur-after ROW`
        blurs that row's activations ([1, 2, 1] binomial) on the way, as
        `model.generator_antialias` does after row 10.
    python scripts/paper_comparisons.py colour MODEL [MODEL ...]
        the colour probe: how far a generator's fill of flat fields is from their colour.
    python scripts/paper_comparisons.py chroma MODEL [MODEL ...] --data FOLDER
        how closely the fill's colour follows the photo's, in luma and the two colour
        differences, over the first 100 photos (`colour_follow`).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

KL_TERMS = ("kl_rec", "kl_gen", "l1_rec", "l1_gen", "generator_loss")
BASELINES = ("telea", "ns", "biharmonic")  # the classical fills an end-of-run report scores


def _json(run: str, name: str) -> dict:
    path = os.path.join(run, name)
    if not os.path.isfile(path):
        raise SystemExit(
            f"{path}: not found; expected a finished `tfinpaint train` run directory "
            "(config.json, run.json and its end-of-run report-<protocol>/report.json)"
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _training_protocol(masks: str) -> str:
    """The end-of-run report (`report-<protocol>/`) scored with the masks a run trained on."""
    from tfinpaint.evaluation.evaluate import report_protocols

    return next(name for name, spec in report_protocols(masks).items() if spec == masks)


def _texture(row: dict) -> str:
    """The hole's SWD x1e3 and gradient ratio cells of a report row."""
    swd, ratio = row.get("swd"), row.get("grad_ratio")
    return f"{'–' if swd is None else f'{swd:.0f}'} | {'–' if ratio is None else f'{ratio:.2f}'}"


def end_of_run_rows(run: str) -> list:
    """The whole-set rows of a run's end-of-run report (the one scored with the masks the run
    trained on): the run's generator, then the classical baselines."""
    protocol = _training_protocol(_json(run, "config.json")["data"]["masks"])
    return [r for r in _json(run, f"report-{protocol}/report.json")["rows"] if r["bucket"] is None]


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
        name = os.path.basename(os.path.normpath(run))
        for row in end_of_run_rows(run):
            if row["model"] in BASELINES:
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
    """Per run: each term at the first and the last log step (unweighted, batch means), the
    spread of two samples, and the end-of-run scores (PSNR / SSIM, the hole's SWD x1e3 and
    gradient ratio)."""
    lines = [
        "| run | kl_reduction | steps logged | "
        + " | ".join(KL_TERMS)
        + " | sample seeds 1 vs 2: mean abs diff in the hole (outside), 8-bit levels"
        + " | PSNR / SSIM | hole SWD x1e3 | grad ratio |",
        "|---|---|---|" + "---:|" * len(KL_TERMS) + "---|---|---:|---:|",
    ]
    for run in runs:
        config = _json(run, "config.json")
        scalars = logged_scalars(run)
        steps = sorted({step for points in scalars.values() for step, _ in points})
        spread = sample_spread(run)
        score = next(r for r in end_of_run_rows(run) if r["model"] not in BASELINES)
        terms = " | ".join(
            f"{scalars[k][0][1]:.3g} → {scalars[k][-1][1]:.3g}" if k in scalars else "-" for k in KL_TERMS
        )
        lines.append(
            f"| {os.path.basename(os.path.normpath(run))} | {config['model']['kl_reduction']} | "
            f"{steps[0]} → {steps[-1]} | {terms} | {spread['inside']:.2f} ({spread['outside']:.2f}), "
            f"{spread['images']} images | {score['psnr']:.2f} / {score['ssim']:.3f} | {_texture(score)} |"
        )
    return "\n".join(lines)


def spectral_peak(holes, period: int) -> float:
    """Mean over channels of the row and column spectra's magnitude at `period` pixels over the
    spectrum's mean, for activations [B, N, N, C] of a square region (1 = no peak)."""
    import numpy as np

    holes = np.asarray(holes, np.float64)
    holes = holes - holes.mean(axis=(1, 2), keepdims=True)
    rows, columns = np.abs(np.fft.rfft(holes, axis=2)), np.abs(np.fft.rfft(holes, axis=1))
    spectrum = rows.mean((0, 1)) + columns.mean((0, 2))
    mean = spectrum[1:].mean(axis=0)
    live = mean > 1e-6  # channels a ReLU left at zero in the hole have no spectrum
    return float((spectrum[holes.shape[1] // period] / np.where(live, mean, 1))[live].mean())


def photo_squares(data: str, size: int, photos: int):
    """The first `photos` photos of folder `data` by name, their centre squares resized to `size`:
    float [N, size, size, 3] in 0..255."""
    import numpy as np
    import tensorflow as tf

    from tfinpaint.imagefiles import read_image

    def square(name):
        rgb = read_image(os.path.join(data, name)).rgb
        side = min(rgb.shape[:2])
        top, left = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
        return tf.image.resize(rgb[top : top + side, left : left + side], (size, size), "bicubic")

    names = sorted(f for f in os.listdir(data) if f.lower().endswith((".jpg", ".jpeg", ".png")))[:photos]
    if not names:
        raise SystemExit(f"{data}: no .jpg, .jpeg or .png photos in this folder; expected at least one")
    return np.clip(np.stack([square(name) for name in names]), 0, 255)


def grid_peaks(model: str, data: str, photos: int = 16, blur_after: int | None = None) -> dict:
    """Row of Table 1 -> `spectral_peak` of its activations in centre holes at the period of the
    fills' grid (8 px at 128 px, 1/16 of the training size), on the first `photos` photos of
    `data` (centre squares resized to the generator's training size); rows where that period is
    under 2 px are left out. With `blur_after`, that row's activations are blurred on the way."""
    import numpy as np
    import tensorflow as tf

    from tfinpaint.inference import load_generator
    from tfinpaint.layers.convolution import BinomialBlur2D

    generator = load_generator(model)
    size = generator.train_size
    images = photo_squares(data, size, photos)
    mask = np.zeros(images.shape[:3] + (1,), np.float32)
    mask[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    x, peaks = tf.concat([images / 255.0 * (1.0 - mask), mask], axis=-1), {}
    for layer in generator.network.layers:
        x = layer(x, training=False)
        if layer.name == f"relu{blur_after}":
            x = BinomialBlur2D()(x)
        if not (layer.name.startswith("relu") or layer is generator.network.layers[-1]):
            continue
        stride = size // x.shape[1]
        period = size // 16 // stride
        if period >= 2:
            a, b = size // 4 // stride, 3 * size // 4 // stride
            peaks[layer.name.lstrip("abcdefghijklmnopqrstuvwxyz")] = spectral_peak(x[:, a:b, a:b], period)
    return peaks


def grid_table(models: list, data: str, blur_after: int | None = None) -> str:
    rows = {model: grid_peaks(model, data, blur_after=blur_after) for model in models}
    names = list(dict.fromkeys(n for peaks in rows.values() for n in peaks))
    lines = ["| model | " + " | ".join(f"row {n}" for n in names) + " |", "|---|" + "---:|" * len(names)]
    for model, peaks in rows.items():
        lines.append(
            f"| {model} | " + " | ".join(f"{peaks[n]:.2f}" if n in peaks else "–" for n in names) + " |"
        )
    return "\n".join(lines)


# Flat fields the colour probe fills: colours photos are full of (grass, foliage, sky) and the
# ends of the range.
FLAT_COLOURS = {
    "grass": (60, 140, 40),
    "foliage": (30, 90, 20),
    "sky": (80, 140, 230),
    "red": (200, 30, 30),
    "yellow": (230, 200, 30),
    "grey": (128, 128, 128),
    "black": (20, 20, 20),
}


def colour_errors(model: str) -> dict:
    """(colour, "raw" | "poisson") -> the hole's mean |fill - colour| in 8-bit levels, over
    centre holes of 1/8, 1/4 and 1/2 of the generator's training size in a flat field."""
    import numpy as np

    from tfinpaint.convention import to_uint8
    from tfinpaint.inference import load_generator
    from tfinpaint.postprocess import apply_blend

    generator = load_generator(model)
    size = generator.train_size
    errors = {}
    for name, rgb in FLAT_COLOURS.items():
        field = np.zeros((size, size, 3), np.uint8) + np.array(rgb, np.uint8)
        raw, blended = [], []
        for side in (size // 8, size // 4, size // 2):
            hole = np.zeros((size, size), bool)
            a = (size - side) // 2
            hole[a : a + side, a : a + side] = True
            mask = hole[None, ..., None].astype(np.float32)
            completed = generator({"image": field[None] / np.float32(255), "mask": mask}, training=False)
            completed = to_uint8(np.asarray(completed)[0])
            for out, kept in ((completed, raw), (apply_blend("poisson", field, completed, hole), blended)):
                kept.append(np.abs(out[hole].astype(int) - rgb).mean())
        errors[name, "raw"], errors[name, "poisson"] = np.mean(raw), np.mean(blended)
    return errors


def colour_table(models: list) -> str:
    lines = [
        "| model | " + " | ".join(FLAT_COLOURS) + " |",
        "|---|" + "---:|" * len(FLAT_COLOURS),
    ]
    for model in models:
        errors = colour_errors(model)
        cells = [f"{errors[c, 'raw']:.0f} / {errors[c, 'poisson']:.0f}" for c in FLAT_COLOURS]
        lines.append(f"| {model} (raw / poisson) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# JPEG's YCbCr (BT.601): luma, and the blue-yellow and red-green colour differences.
YCBCR = {"Y": (0.299, 0.587, 0.114), "Cb": (-0.168736, -0.331264, 0.5), "Cr": (0.5, -0.418688, -0.081312)}


def colour_follow(real, fill) -> dict:
    """Channel of `YCBCR` -> (slope, bias): least-squares slope of the fills' hole means on the
    photos' across photos (1 = a fill follows the photo's colour, 0 = it ignores it; below 1 it
    is pulled to the average) and the mean of fill - real. `real`, `fill`: [N, 3] RGB means."""
    import numpy as np

    out = {}
    for name, weights in YCBCR.items():
        r, f = np.asarray(real, np.float64) @ weights, np.asarray(fill, np.float64) @ weights
        dr = r - r.mean()
        out[name] = (float(dr @ (f - f.mean()) / (dr @ dr)), float((f - r).mean()))
    return out


def chroma_table(models: list, data: str, photos: int = 100) -> str:
    """For centre holes of 1/16 and 1/4 of each generator's training size in the first `photos`
    photos of `data` (centre squares at that size), `colour_follow` of the raw fill's hole means."""
    import numpy as np

    from tfinpaint.inference import load_generator

    lines = [
        "| model | hole | " + " | ".join(f"{c} slope / bias" for c in YCBCR) + " |",
        "|---|---:|" + "---|" * 3,
    ]
    for model in models:
        generator = load_generator(model)
        size = generator.train_size
        images = photo_squares(data, size, photos) / 255.0
        for side in (size // 16, size // 4):
            a = (size - side) // 2
            mask = np.zeros(images.shape[:3] + (1,), np.float32)
            mask[:, a : a + side, a : a + side] = 1.0
            fill = np.concatenate(
                [
                    generator({"image": images[i : i + 20], "mask": mask[i : i + 20]})
                    for i in range(0, len(images), 20)
                ]
            )
            means = [255 * x[:, a : a + side, a : a + side].mean(axis=(1, 2)) for x in (images, fill)]
            cells = [f"{slope:.2f} / {bias:+.1f}" for slope, bias in colour_follow(*means).values()]
            lines.append(f"| {model} | {side} px | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("critics", "kl", "grid", "colour", "chroma"))
    parser.add_argument(
        "runs",
        nargs="+",
        help="finished run directories (grid, colour, chroma: generators, as --model takes them)",
    )
    parser.add_argument(
        "--data", help="grid, chroma: a folder of photos (the first 16 / 100 by name are used)"
    )
    parser.add_argument("--blur-after", type=int, metavar="ROW", help="grid: blur this row's activations")
    args = parser.parse_args(argv)
    if args.table in ("grid", "chroma") and (not args.data or not os.path.isdir(args.data)):
        parser.error(f"{args.table} needs --data FOLDER of photos; got {args.data!r}")
    if args.table == "grid":
        from tfinpaint.models.paper2 import GENERATOR_TABLE

        # Rows 1 to the last but one end in a ReLU; the output row has none to blur after.
        if args.blur_after is not None and not 1 <= args.blur_after < len(GENERATOR_TABLE):
            parser.error(
                f"--blur-after {args.blur_after}: expected a row of Table 1, 1 to {len(GENERATOR_TABLE) - 1}"
            )
        print(grid_table(args.runs, args.data, args.blur_after))
    elif args.table == "colour":
        print(colour_table(args.runs))
    elif args.table == "chroma":
        print(chroma_table(args.runs, args.data))
    else:
        print(critics_table(args.runs) if args.table == "critics" else kl_table(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
