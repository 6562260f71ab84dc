#!/usr/bin/env python
"""Front door: `python scripts/train.py --paper 2` (same as `tfinpaint train --paper 2`)."""

import sys

from tfinpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
