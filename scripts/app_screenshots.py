"""Screenshots of the browser page for the docs: open a photo, paint strokes, run, save both views.

Start a server first (`tfinpaint serve --max-pixels 100000000`), then, for docs/images/app.png
and app-result.png:

    python scripts/app_screenshots.py --photo picosdeeuropa_by_Aitzol_Berasategi.jpg \
        --stroke 1610,1610:1655,1640@120 --stroke 2520,2200:2600,2210:2540,2290:2610,2300@130

Strokes are in image pixels (`x,y:x,y…@brush size`). Drives Debian's chromium through Playwright,
as the browser tests do; screenshots are reduced to 256 colours to keep the files small.
"""

from __future__ import annotations

import argparse
import os

from PIL import Image
from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def parse_stroke(text: str) -> tuple[list[tuple[float, float]], int]:
    points, _, size = text.partition("@")
    return [tuple(float(v) for v in point.split(",")) for point in points.split(":")], int(size)


def save_small(png: bytes, path: str) -> None:
    import io

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        path, optimize=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501/")
    parser.add_argument("--photo", required=True)
    parser.add_argument("--stroke", action="append", type=parse_stroke, required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default="docs/images", help="folder for app.png and app-result.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(args.url)
        page.wait_for_function("document.getElementById('model-select').value !== ''", timeout=300_000)
        page.set_input_files("#image-input", args.photo)
        name = os.path.basename(args.photo)
        page.wait_for_function(
            "(n) => document.getElementById('status-text').innerText.startsWith(n)", arg=name
        )
        box = page.locator("#mask-canvas").bounding_box()
        width, height = page.evaluate(
            "[document.getElementById('mask-canvas').width, document.getElementById('mask-canvas').height]"
        )
        to_page = lambda x, y: (box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height)
        for points, size in args.stroke:
            page.locator("#brush-size").fill(str(size))
            page.mouse.move(*to_page(*points[0]))
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*to_page(*point), steps=8)
            page.mouse.up()
        page.select_option("#model-select", args.model)
        page.evaluate("document.activeElement.blur()")
        save_small(page.screenshot(), os.path.join(args.out, "app.png"))
        page.click("#run")
        page.wait_for_function(
            "!document.getElementById('result-image').hidden || !document.getElementById('error').hidden",
            timeout=600_000,
        )
        page.mouse.move(5, 895)
        save_small(page.screenshot(), os.path.join(args.out, "app-result.png"))
        print(page.inner_text("#status-text"), page.inner_text("#error"))
        browser.close()


if __name__ == "__main__":
    main()
