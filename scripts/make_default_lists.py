"""Write the default model's training list, tfinpaint/data/default_train.txt.

The list names, relative to the datasets folder (`research-train/` and `permissive/` side by
side; `$TFINPAINT_DATASETS`, docs/TRAINING.md), every image the `--preset default` run
trains on: the ImageNet sample, BSDS500 train, the CelebA faces but the last 200, and the
permissive photos. Held out for evaluation and never listed: BSDS500 test, the last 200 CelebA
faces (written to tfinpaint/data/default_test_faces.txt for `tfinpaint evaluate`) and the
NVIDIA masks' hash-chosen fifth (`files:DIR@test`). Only paths are written, never images.

    python scripts/make_default_lists.py [--datasets DIR]    (default: $TFINPAINT_DATASETS)
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tfinpaint", "data")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
TRAIN_FOLDERS = (
    "research-train/objects_imagenet_sample",
    "research-train/scenes_bsds500_train",
    "permissive/debian-wallpapers",
    "permissive/opencv-samples",
    "permissive/scikit-image",
    "permissive/scikit-learn",
)
FACES = "research-train/faces_celeba_89x109"
HELD_OUT_FACES = 200


def images(datasets: str, folder: str) -> list[str]:
    root = os.path.join(datasets, folder)
    if not os.path.isdir(root):
        sys.exit(f"{root}: no such folder; expected the datasets folder with research-train/ and permissive/")
    found = [
        os.path.relpath(os.path.join(d, f), datasets)
        for d, _, files in os.walk(root)
        for f in files
        if f.lower().endswith(IMAGE_EXTENSIONS) and "_LICENSES" not in d
    ]
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets",
        default=os.environ.get("TFINPAINT_DATASETS"),
        help="the datasets folder (default: $TFINPAINT_DATASETS)",
    )
    args = parser.parse_args()
    if not args.datasets:
        parser.error("name the datasets folder: --datasets DIR or TFINPAINT_DATASETS=DIR")
    faces = images(args.datasets, FACES)
    train = [p for folder in TRAIN_FOLDERS for p in images(args.datasets, folder)] + faces[:-HELD_OUT_FACES]
    for name, entries in (("default_train.txt", train), ("default_test_faces.txt", faces[-HELD_OUT_FACES:])):
        path = os.path.join(OUT, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(f"{e}\n" for e in entries))
        os.replace(tmp, path)
        print(f"{path}: {len(entries)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
