"""Regenerate the bundled demo images (tfinpaint/data/demo) from a folder of licence-clean photos.

Every crop is a deterministic function of the source file: the photo is resized (Lanczos) so
its shorter side is one of a few fixed lengths, then cut into a centred grid of 256x256 tiles;
nearly flat tiles (plain sky, blur) are dropped because they teach an inpainter nothing. Only
sources whose licence allows shipping inside an Apache-2.0 package are used: the GPL-2+
mate-backgrounds wallpapers, the OpenCV samples (no per-image provenance) and the Middlebury
motorcycle pair (no stated licence) are left out. `CREDITS` is written beside the images.
`--source` is a folder holding the `SOURCES` paths below (Debian wallpapers, scikit-image and
scikit-learn sample images).

    python scripts/make_demo_data.py --source PHOTOS_DIR [--overwrite]
"""

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image

TILE = 256
QUALITY = 90
MIN_STD = 12.0  # grey-level standard deviation below which a tile is "flat"

# (relative path, author, licence, shorter-side lengths to tile at). The lengths set how many
# crops a photo gives: the outdoor photos with grass, trees, water and sky get the large ones
# (many crops), the warm indoor and close-up ones (wine, brushes, fur, coffee, a retina) a small
# one (one to six crops), so a model trained on the demo sees about as much vegetation green as
# red-orange (`content_shares`; 17 % green, 15 % blue, 17 % red-orange pixels, where tiling every
# photo at 512 and 768 gave 8 %, 14 % and 27 %).
SOURCES = [
    (
        "debian-wallpapers/aitzgorri_by_Aitzol_Berasategi.jpg",
        "Aitzol Berasategi, 2018",
        "CC-BY-4.0",
        (768, 1024, 1280),
    ),
    (
        "debian-wallpapers/Bridge_by_Sander_Klootwijk.jpg",
        "Sander Klootwijk, 2018",
        "CC-BY-SA-4.0",
        (512, 768),
    ),
    ("debian-wallpapers/Dragonfly_by_Bolly.jpg", '"Bolly", 2018', "CC-BY-SA-4.0", (768, 1024)),
    ("debian-wallpapers/free_by_Peter_Nerlich.jpg", "Peter Nerlich, 2018", "CC-BY-SA-4.0", (512,)),
    ("debian-wallpapers/friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0", (384,)),
    ("debian-wallpapers/life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0", (768, 1280)),
    (
        "debian-wallpapers/picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "Aitzol Berasategi, 2018",
        "CC-BY-4.0",
        (512, 768),
    ),
    ("debian-wallpapers/Picture_0B_by_freespace.jpg", 'Trevor "Freespace", 2018', "CC-BY-4.0", (256,)),
    ("debian-wallpapers/Picture_1A_by_freespace.jpg", 'Trevor "Freespace", 2018', "CC-BY-4.0", (512,)),
    ("debian-wallpapers/seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt, 2018", "CC0-1.0", (768,)),
    ("debian-wallpapers/sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0", (512,)),
    ("debian-wallpapers/Wine_by_Jakkub_Mede.jpg", "Jakub Mede, 2018", "CC-BY-4.0", (256,)),
    ("debian-wallpapers/Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus, 2021", "CC-BY-SA-3.0", (512, 768)),
    ("scikit-image/astronaut.png", "NASA (Eileen Collins), via scikit-image", "Public domain", (384,)),
    ("scikit-image/chelsea.png", "Stefan van der Walt, via scikit-image", "CC0-1.0", (256,)),
    ("scikit-image/coffee.png", "Rachel Michetti (Pikolo Espresso Bar), via scikit-image", "CC0-1.0", (256,)),
    ("scikit-image/hubble_deep_field.jpg", "NASA / Hubble, via scikit-image", "Public domain", (512,)),
    ("scikit-image/retina.jpg", "Mikael Haggstrom, via scikit-image", "CC0-1.0", (256,)),
    ("scikit-image/rocket.jpg", "SpaceX, via scikit-image", "Public domain", (256, 427)),
    ("scikit-learn/china.jpg", "danielbuechele (Flickr), via scikit-learn", "CC-BY-2.0", (256, 427)),
    ("scikit-learn/flower.jpg", "vultilion (Flickr), via scikit-learn", "CC-BY-2.0", (256, 427)),
]

LICENCE_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-2.0": "https://creativecommons.org/licenses/by/2.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "Public domain": "no known copyright restrictions",
}


def tiles(image: Image.Image, short_side: int):
    """Yield (row, col, tile) for a centred grid of TILE crops of `image` resized to `short_side`."""
    w, h = image.size
    scale = short_side / min(w, h)
    size = (max(TILE, round(w * scale)), max(TILE, round(h * scale)))
    resized = image.resize(size, Image.LANCZOS) if size != (w, h) else image
    rows, cols = size[1] // TILE, size[0] // TILE
    top, left = (size[1] - rows * TILE) // 2, (size[0] - cols * TILE) // 2
    for r in range(rows):
        for c in range(cols):
            box = (left + c * TILE, top + r * TILE, left + (c + 1) * TILE, top + (r + 1) * TILE)
            yield r, c, resized.crop(box)


def content_shares(tile: Image.Image) -> np.ndarray:
    """Shares of a tile's pixels that are vegetation green, sky / water blue and red-orange.

    Coloured pixels only (HSV saturation > 0.2, value > 0.12); hue bands in degrees: green
    55-170 (yellow-green grass to teal leaves), blue 170-260, red-orange below 40 or from 330.
    """
    hsv = np.asarray(tile.convert("HSV"), np.float32)
    hue, sat, val = hsv[..., 0] * (360.0 / 256.0), hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    coloured = (sat > 0.2) & (val > 0.12)
    green = coloured & (hue >= 55) & (hue < 170)
    blue = coloured & (hue >= 170) & (hue < 260)
    warm = coloured & ((hue < 40) | (hue >= 330))
    return np.array([green.mean(), blue.mean(), warm.mean()])


def stem_of(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0].split("_by_")[0].lower().replace("-", "")


def build(source_root: str, out_dir: str) -> list:
    """Write the crops into `out_dir`; return CREDITS lines (and print the content balance)."""
    credits = [
        "tfinpaint bundled demo images",
        "==============================",
        "",
        f"{TILE}x{TILE} JPEG crops (quality {QUALITY}) regenerated by scripts/make_demo_data.py from the",
        "licence-clean photos listed below. The images keep their own licences (below), which",
        "differ from the package's Apache-2.0 code licence. Crops of CC-BY-SA photos",
        "are adaptations shared under the same licence. Crop names: <source>_s<shorter side after",
        "resizing>_r<row>c<column>.jpg.",
        "",
    ]
    total, shares = 0, []
    for rel, author, licence, sides in SOURCES:
        path = os.path.join(source_root, rel)
        with Image.open(path) as im:
            image = im.convert("RGB")
        names = []
        for side in sides:
            for r, c, tile in tiles(image, side):
                if float(np.asarray(tile.convert("L"), np.float32).std()) < MIN_STD:
                    continue
                name = f"{stem_of(rel)}_s{side}_r{r}c{c}.jpg"
                tile.save(os.path.join(out_dir, name), "JPEG", quality=QUALITY)
                names.append(name)
                shares.append(content_shares(tile))
        total += len(names)
        credits += [
            f"Source: {rel} (from {os.path.dirname(rel)})",
            f"Author: {author}",
            f"Licence: {licence} ({LICENCE_URLS[licence]})",
            f"Crops ({len(names)}): {', '.join(names)}",
            "",
        ]
    credits.append(f"Total: {total} images.")
    green, blue, warm = 100.0 * np.mean(shares, axis=0)
    print(f"pixels: {green:.1f}% green (vegetation), {blue:.1f}% blue (sky, water), {warm:.1f}% red-orange")
    return credits


def main(argv=None) -> int:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", required=True, help="folder holding the SOURCES paths (debian-wallpapers/, …)"
    )
    parser.add_argument("--out", default=os.path.join(here, "tfinpaint", "data", "demo"))
    parser.add_argument("--overwrite", action="store_true", help="replace an existing demo folder")
    args = parser.parse_args(argv)
    missing = [rel for rel, *_ in SOURCES if not os.path.isfile(os.path.join(args.source, rel))]
    if missing:
        print(
            f"error: --source {args.source}: no {missing[0]} (and {len(missing) - 1} more)", file=sys.stderr
        )
        return 1
    if os.path.exists(args.out) and os.listdir(args.out) and not args.overwrite:
        print(f"error: {args.out} exists and is not empty; pass --overwrite to replace it", file=sys.stderr)
        return 1
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    # Build beside the target and swap at the end, so a failure never leaves a half folder.
    staging = tempfile.mkdtemp(prefix=".demo-", dir=parent)
    try:
        credits = build(args.source, staging)
        with open(os.path.join(staging, "CREDITS"), "w", encoding="utf-8") as f:
            f.write("\n".join(credits) + "\n")
        if os.path.exists(args.out):
            shutil.rmtree(args.out)
        os.replace(staging, args.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(credits[-1], "->", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
