"""The model card's side-by-side figure: the default model beside Telea and PatchMatch on photos
of about 1 MP, at 100 % crops, for an object-sized hole and for thin strokes.

    python scripts/side_by_side.py PHOTO.jpg [PHOTO.jpg ...] --out docs/images/side-by-side.png

Each photo is resized to 1280 px wide (about 1 MP). Two masks per photo: an object-sized ellipse
(220 x 160 px) and two 11-px strokes crossing the photo. Columns: the masked input, the default
model (its default blend: patches), the default model with `--blend poisson`, Telea, PatchMatch (needs
`pip install 'tfinpaint[patchmatch]'`) and the real photo; each a 320 x 240 crop at 100 %, around
the hole's centre or the strokes' crossing. Prints each fill's hole PSNR and texture (SWD x1e3,
the scores of `tfinpaint evaluate`).
"""

from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

WIDTH = 1280
CROP = (240, 320)  # height, width at 100 %
LABEL_BAR = 22


def masks_for(height: int, width: int) -> dict:
    strokes = np.zeros((height, width), np.uint8)
    cv2.line(strokes, (100, height // 4), (width - 150, 3 * height // 4), 255, 11)
    cv2.line(strokes, (width // 4, height - 60), (3 * width // 4, 60), 255, 11)
    obj = np.zeros((height, width), np.uint8)
    cv2.ellipse(obj, (width // 2, height // 2), (110, 80), 20, 0, 360, 255, -1)
    return {"object": obj > 0, "strokes": strokes > 0}


def crop_at(image: np.ndarray, centre: tuple[int, int]) -> np.ndarray:
    (cy, cx), (h, w) = centre, CROP
    y0 = int(np.clip(cy - h // 2, 0, image.shape[0] - h))
    x0 = int(np.clip(cx - w // 2, 0, image.shape[1] - w))
    return image[y0 : y0 + h, x0 : x0 + w]


def labelled(tile: np.ndarray, text: str) -> np.ndarray:
    out = np.pad(tile, ((LABEL_BAR, 2), (1, 1), (0, 0)), constant_values=255)
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--out", required=True, help="the figure (.png or .jpg); refused if it exists")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    if os.path.exists(args.out) and not args.overwrite:
        parser.error(f"--out {args.out} exists; add --overwrite to replace it")

    from tfinpaint.evaluation.scoring import score_batch
    from tfinpaint.imagefiles import read_image, write_image
    from tfinpaint.inference import inpaint

    fills = {
        "default": {},
        "default --blend poisson": {"blend": "poisson"},
        "telea": {"model": "telea"},
        "patchmatch": {"model": "patchmatch"},
    }
    rows = []
    for path in args.photos:
        photo = read_image(path).rgb
        height = int(photo.shape[0] * WIDTH / photo.shape[1]) // 8 * 8
        photo = cv2.resize(photo, (WIDTH, height), interpolation=cv2.INTER_AREA)
        for kind, hole in masks_for(height, WIDTH).items():
            ys, xs = np.nonzero(hole)
            centre = (int(ys.mean()), int(xs.mean())) if kind == "object" else (height // 2, WIDTH // 2)
            masked = photo.copy()
            masked[hole] = 255
            tiles = [labelled(crop_at(masked, centre), f"{os.path.basename(path)}, {kind}")]
            for label, options in fills.items():
                filled = inpaint(photo, hole, **options)
                scores = score_batch(photo[None], filled[None], hole[None, ..., None].astype(np.float32), [0])
                psnr, swd = float(scores["psnr_hole"][0]), float(scores["swd"][0])  # SWD already x1e3
                print(
                    f"{os.path.basename(path)} {kind:>7} {label:>24}: hole PSNR {psnr:.2f} dB, SWD {swd:.0f}"
                )
                tiles.append(labelled(crop_at(filled, centre), f"{label} ({psnr:.1f} dB, SWD {swd:.0f})"))
            tiles.append(labelled(crop_at(photo, centre), "real"))
            rows.append(np.concatenate(tiles, axis=1))
    write_image(args.out, np.concatenate(rows, axis=0), overwrite=args.overwrite)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
