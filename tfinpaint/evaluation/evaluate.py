"""Score inpainters the papers' way (PSNR / SSIM / L1 on 8-bit images) and by the hole's texture,
and write the report.

`evaluate` runs every inpainter on every image of a source with the image's fixed mask, scores
whole image and hole only (`scoring`), and writes into `out_dir`:
- `report.json`: `dataset`, `masks`, `image_size`, `split`, `blend` and `rows`: one row per
  model (`"bucket": null`), then one per model and hole-ratio bucket; a row holds `model`,
  `bucket`, `n`, the averages of `scoring.METRIC_KEYS`, `swd_levels`, with `metrics=` `lpips`
  and `fid` (whole-set rows; null in bucket rows), and `ms_per_image`;
- `report.md`: the same as the papers' table;
- `examples.png`: a grid of examples spread over the set (masked input | each model | real image).

Scoring conventions:
- The reference is the evaluation image quantised to 8 bits, and the inpainters get exactly
  that image as input, so pixels outside the hole agree bit for bit; outputs are quantised to
  8 bits like a saved image. PSNR uses MAX = 255; L1 is the mean |error| / 255.
- PSNR and SSIM are per-image values averaged over images. An image with an empty hole has no
  hole-only values and is left out of those averages (null when no image has a hole).
- `ms_per_image` is the median over batches of (batch time / batch size), so one-off costs
  such as graph tracing on the first call do not count; bucket rows repeat the model's figure.
- The texture scores (`swd`, `swd_levels` x 1e3, `grad_ratio`; docs/EVALUATION.md) are seeded
  per image by (`seed`, image index), so every model is measured on the same patches.
- `blend="poisson"` or `"patches"` (`tfinpaint.postprocess`) scores learned models twice, side
  by side: the raw composite as `<name>` and the blended one as `<name>+poisson` /
  `<name>+patches` (its `ms_per_image` includes the blend). The classical baselines, which
  already continue the surrounding pixels, are never blended.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence

import numpy as np

from tfinpaint import metrics
from tfinpaint.convention import to_uint8
from tfinpaint.evaluation import scoring
from tfinpaint.evaluation.features import FeatureScorer
from tfinpaint.evaluation.grid import inpainting_grid
from tfinpaint.imagefiles import write_bytes_atomic, write_image
from tfinpaint.inference.inpainters import Inpainter
from tfinpaint.inference.loading import load_inpainter
from tfinpaint.postprocess import BLENDS, apply_blend

# The papers score centre holes and random holes as two protocols, never one mix (paper 1
# Table I; paper 2's centre and random holes): "random" is irregular strokes and rectangles.
PAPER_PROTOCOLS = {"center": "center", "random": "mixed:free_form=0.5,random_rect=0.5"}
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
GRID_PNG = "examples.png"


def _resolve(inpainters: Iterable[Inpainter | str]) -> list[tuple[str, Inpainter]]:
    """(unique report name, inpainter) pairs; names or paths are loaded."""
    if isinstance(inpainters, (str, os.PathLike, Inpainter)):
        inpainters = [inpainters]
    resolved, seen = [], {}
    for item in inpainters:
        inpainter = load_inpainter(item) if isinstance(item, (str, os.PathLike)) else item
        if not isinstance(inpainter, Inpainter):
            raise TypeError(
                f"evaluate: expected an Inpainter, a baseline name or a model path, "
                f"got {type(item).__name__}."
            )
        name = str(inpainter.name)
        seen[name] = seen.get(name, 0) + 1
        resolved.append((name if seen[name] == 1 else f"{name}#{seen[name]}", inpainter))
    if not resolved:
        raise ValueError("evaluate: no model given (expected at least one --model).")
    return resolved


def _outputs(out_dir: str) -> dict[str, str]:
    return {key: os.path.join(out_dir, key) for key in (REPORT_JSON, REPORT_MD, GRID_PNG)}


def _check_out_dir(out_dir: str, overwrite: bool) -> None:
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"--out {out_dir}: exists and is not a folder.")
    existing = [p for p in _outputs(out_dir).values() if os.path.exists(p)]
    if existing and not overwrite:
        names = ", ".join(os.path.basename(p) for p in existing)
        raise FileExistsError(
            f"--out {out_dir}: already holds {names}; "
            "pass --overwrite (overwrite=True) or choose another folder."
        )


def _rows(names, scores, ratios, ms_per_image, set_scores) -> list[dict]:
    """Report rows: per model the whole set, then each hole-ratio bucket in ratio order.
    `set_scores(name)` (FID) is a whole-set figure: bucket rows hold None."""
    from tfinpaint.data.masks import HOLE_RATIO_BUCKETS, hole_ratio_bucket

    buckets = np.array([hole_ratio_bucket(float(r)) for r in ratios], dtype=object)
    order = [b for b in HOLE_RATIO_BUCKETS if (buckets == b).any()]
    rows = []
    for name in names:
        for bucket in [None, *order]:
            keep = np.ones(len(ratios), bool) if bucket is None else buckets == bucket
            rows.append(
                {
                    "model": name,
                    "bucket": bucket,
                    "n": int(keep.sum()),
                    **scoring.averages(scores[name], keep),
                    **{k: v if bucket is None else None for k, v in set_scores(name).items()},
                    "ms_per_image": ms_per_image[name],
                }
            )
    return rows


def _fmt(value, digits):
    return "–" if value is None else f"{value:.{digits}f}"


# (header, row key, decimals) of the table's value columns; FID and LPIPS when scored.
_COLUMNS = (
    ("PSNR (dB)", "psnr", 2),
    ("SSIM", "ssim", 4),
    ("L1", "l1", 4),
    ("PSNR hole (dB)", "psnr_hole", 2),
    ("SSIM hole", "ssim_hole", 4),
    ("SWD hole (x1e3)", "swd", 0),
    ("grad ratio", "grad_ratio", 2),
    ("FID", "fid", 2),
    ("LPIPS (baseline)", "lpips", 4),
    ("ms/image", "ms_per_image", 1),
)


def format_table(report: dict) -> str:
    """The papers' table in Markdown: whole set first, then per hole-ratio bucket."""
    columns = [c for c in _COLUMNS if report["rows"] and c[1] in report["rows"][0]]
    lines = [
        "| model | hole ratio | n | " + " | ".join(header for header, _, _ in columns) + " |",
        "|---|---|---:|" + "---:|" * len(columns),
    ]
    for r in sorted(report["rows"], key=lambda r: r["bucket"] is not None):
        values = " | ".join(_fmt(r[key], digits) for _, key, digits in columns)
        lines.append(f"| {r['model']} | {r['bucket'] or 'all'} | {r['n']} | {values} |")
    return "\n".join(lines)


def report_protocols(training_masks: str) -> dict[str, str]:
    """Protocol name -> mask spec an end-of-run report scores: the papers' two protocols, and
    the training masks as `training` when they are neither (e.g. `mixed`)."""
    protocols = dict(PAPER_PROTOCOLS)
    if training_masks not in protocols.values():
        protocols["training"] = training_masks
    return protocols


def _split_text(split: str) -> str:
    return "all images" if split == "all" else f"`{split}` (hash split of the files)"


def format_markdown(report: dict) -> str:
    scored = (
        f"raw composite, and through blend `{report['blend']}` for learned models "
        f"(`<model>+{report['blend']}` rows; classical baselines raw only)"
        if report["blend"] != "none"
        else "raw composite (no blending)"
    )
    return "\n".join(
        [
            "# Inpainting evaluation",
            "",
            "| protocol | |",
            "|---|---|",
            f"| data | `{report['dataset']}`, split: {_split_text(report.get('split', 'all'))} |",
            f"| mask source | `{report['masks']}` |",
            f"| image size | {report['image_size']}x{report['image_size']} (centre crops) |",
            f"| blending | {scored} |",
            "",
            "- PSNR (MAX 255) and SSIM (Gaussian 11, sigma 1.5) on 8-bit images, per-image values "
            "averaged over images; L1 = mean |error| / 255; hole = hole pixels only; "
            f"PSNR capped at {metrics.PSNR_CAP_DB:g} dB.",
            "- SWD hole: sliced Wasserstein distance x 1e3 between 7x7 Laplacian-pyramid patches "
            "(3 levels, centred in the hole) of the fill and of the real image, both normalised by "
            "the real patches' statistics; 0 = real, lower is better; per level in `report.json` "
            "(`swd_levels`, finest first). grad ratio: the hole's mean squared luminance gradient, "
            "fill / real (1 = as much detail as real, a blur < 1). docs/EVALUATION.md.",
            *(
                [
                    "- FID: InceptionV3 pool features, whole set only; LPIPS (baseline): unit-normalised "
                    "VGG16 features without the learned linear heads."
                ]
                if "fid" in report["rows"][0] or "lpips" in report["rows"][0]
                else []
            ),
            "",
            format_table(report),
            "",
            f"Examples: `{GRID_PNG}` (masked input | each model | real image).",
            "",
        ]
    )


def _blend(blend, real_uint8, completed_uint8, masks):
    return np.stack(
        [apply_blend(blend, real, done, mask) for real, done, mask in zip(real_uint8, completed_uint8, masks)]
    )


def _run(name, inpainter, real8, hole_masks, blend) -> dict:
    """One inpainter on one batch: report name -> (completed uint8 [B, H, W, 3], ms per image);
    learned models under a `blend` other than "none" give the raw and the blended composite."""
    start = time.perf_counter()
    completed = inpainter.inpaint_batch(real8.astype(np.float32) / 255.0, hole_masks)
    ms = 1000.0 * (time.perf_counter() - start) / real8.shape[0]
    completed8 = to_uint8(np.asarray(completed))
    runs = {name: (completed8, ms)}
    if blend != "none" and not inpainter.classical:
        start = time.perf_counter()
        blended = _blend(blend, real8, completed8, hole_masks)
        runs[f"{name}+{blend}"] = (blended, ms + 1000.0 * (time.perf_counter() - start) / real8.shape[0])
    return runs


class _SpreadSample:
    """Keeps about `n` items spread evenly over a stream of unknown length, in bounded memory.

    Sorted file names put the crops of one photo together, so the first few images of a set
    make a dull grid. Items are kept at multiples of a stride that doubles whenever more than
    2n are held; `items()` picks n evenly spaced ones among them.
    """

    def __init__(self, n: int):
        self.n, self.stride, self.kept = n, 1, []

    def offer(self, index: int, make_item) -> None:
        if index % self.stride:
            return
        self.kept.append((index, make_item()))
        if len(self.kept) > 2 * self.n:
            self.stride *= 2
            self.kept = [(i, item) for i, item in self.kept if i % self.stride == 0]

    def items(self) -> list:
        if not self.kept:
            return []
        picks = np.linspace(0, len(self.kept) - 1, min(self.n, len(self.kept))).round().astype(int)
        return [self.kept[p][1] for p in picks]


def _examples_grid(examples):
    """examples: (real uint8 [H, W, 3], mask [H, W, 1], name -> output) -> the papers' grid."""
    real, masks, outputs = zip(*examples)
    names = outputs[0].keys()
    return inpainting_grid(
        np.stack(real), np.stack(masks), {n: np.stack([o[n] for o in outputs]) for n in names}
    )


def evaluate(
    inpainters: Sequence[Inpainter | str],
    source=None,
    *,
    masks: str = "center",
    image_size: int = 256,
    limit: int | None = None,
    seed: int = 0,
    out_dir: str,
    blend: str = "none",
    overwrite: bool = False,
    progress: bool = True,
    batch_size: int = 8,
    grid_examples: int = 4,
    split: str = "all",
    split_ratio: float = 0.8,
    hole_fraction: float = 0.5,
    root: str | None = None,
    upscale_small: bool = False,
    metrics: Sequence[str] | str = (),
    weights_dir: str | None = None,
    backbones: dict | None = None,
) -> dict:
    """Score `inpainters` on every image of `source` with its fixed mask and write the report.

    Args:
        inpainters: `Inpainter` objects, baseline names or model paths (`load_inpainter`).
        source: a data source `tfinpaint.data.build_dataset` accepts; None = bundled demo images.
        masks: the mask kind ("center", "random_rect", "free_form", "files:DIR").
        image_size: side of the centre-cropped evaluation images.
        limit: score only the first `limit` images (sorted order); None = all.
        seed: mask and texture seed; the same seed gives every image the same mask and texture
            patches on every run.
        out_dir: folder for report.json, report.md and examples.png (created if missing).
        blend: "none", or "poisson" / "patches" (`tfinpaint.postprocess.BLENDS`) to score learned
            models raw and blended, side by side.
        overwrite: replace an existing report in `out_dir`.
        progress: show a tqdm progress bar.
        split, split_ratio: which part of `source` to score ("all" for `tfinpaint evaluate`; the
            end of a training run scores its held-out "test" split).
        hole_fraction: side of the `center` hole as a fraction of the image side.
        root: the folder a file list's paths are relative to.
        upscale_small: upscale images smaller than `image_size` instead of skipping them.
        batch_size: images per inpainter call.
        grid_examples: rows of the example grid.
        metrics: optional learned-feature metrics, "fid" and/or "lpips" (`features`): FID in the
            whole-set rows, LPIPS (baseline variant) in every row.
        weights_dir: the folder of their keras.applications weight files (default: Keras' cache);
            never downloaded: a missing file is a FileNotFoundError saying how to get it.
        backbones: metric -> feature function, in place of the keras.applications ones.

    Returns:
        The report dict written to report.json.
    """
    if blend not in BLENDS:
        raise ValueError(f"blend: expected one of {BLENDS}, got {blend!r}.")
    if limit is not None and int(limit) < 1:
        raise ValueError(f"limit: expected a positive number of images, got {limit}.")
    _check_out_dir(out_dir, overwrite)
    features = FeatureScorer(metrics, weights_dir, backbones)
    models = _resolve(inpainters)

    from tqdm import tqdm

    from tfinpaint.data import build_dataset
    from tfinpaint.data.masks import hole_ratio

    dataset = build_dataset(
        source,
        image_size=image_size,
        batch_size=min(batch_size, limit or batch_size),
        split=split,
        split_ratio=split_ratio,
        masks=masks,
        hole_fraction=hole_fraction,
        seed=seed,
        training=False,
        root=root,
        upscale_small=upscale_small,
    )

    scores, per_image_ms = {}, {}
    ratios, examples = [], _SpreadSample(grid_examples)
    bar = tqdm(total=limit, unit="img", disable=not progress, desc="evaluate")
    for batch in dataset:
        take = batch["image"].shape[0] if limit is None else min(batch["image"].shape[0], limit - len(ratios))
        real8 = to_uint8(batch["image"].numpy()[:take])
        hole_masks = (batch["mask"].numpy()[:take] >= 0.5).astype(np.float32)
        first = len(ratios)
        ratios.extend(hole_ratio(hole_masks))
        seeds = [(seed, first + i) for i in range(take)]
        features.real_batch(real8)
        outputs = {}
        for model_name, inpainter in models:
            for name, (completed8, ms) in _run(model_name, inpainter, real8, hole_masks, blend).items():
                outputs[name] = completed8
                per_image_ms.setdefault(name, []).append(ms)
                per_image = scoring.score_batch(real8, completed8, hole_masks, seeds)
                for key, values in {**per_image, **features.score_batch(name, completed8)}.items():
                    scores.setdefault(name, {}).setdefault(key, []).extend(values.tolist())
        for i in range(take):
            examples.offer(
                first + i,
                lambda i=i, real8=real8, holes=hole_masks, outputs=outputs: (
                    real8[i],
                    holes[i],
                    {n: o[i] for n, o in outputs.items()},
                ),
            )
        bar.update(take)
        if limit is not None and len(ratios) >= limit:
            break
    bar.close()
    if not ratios:
        raise ValueError(f"evaluate: the data source {source!r} gave no images.")

    names = list(scores)
    ms_per_image = {name: float(np.median(per_image_ms[name])) for name in names}
    report = {
        "dataset": "demo" if source is None else str(source),
        "masks": masks,
        "image_size": int(image_size),
        "split": split,
        "blend": blend,
        "rows": _rows(names, scores, ratios, ms_per_image, features.set_scores),
    }
    os.makedirs(out_dir, exist_ok=True)
    paths = _outputs(out_dir)
    write_image(paths[GRID_PNG], _examples_grid(examples.items()), overwrite=overwrite)
    write_bytes_atomic(paths[REPORT_MD], format_markdown(report).encode("utf-8"))
    write_bytes_atomic(paths[REPORT_JSON], (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    return report
