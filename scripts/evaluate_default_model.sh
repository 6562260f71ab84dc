#!/usr/bin/env bash
# Score models beside the classical fills (Telea, Navier-Stokes, biharmonic, PatchMatch) on the
# default model's four held-out sets (docs/MODEL_CARD.md): BSDS500 test with centre holes,
# BSDS500 test with the held-out fifth of the NVIDIA irregular masks (per hole-ratio bucket), the
# last 200 CelebA faces (upscaled from 89x109 to 128, centre holes), and object removal at 1 MP:
# 1024x1024 centre crops of ten Debian wallpapers with object-silhouette masks. None of the first
# three sets' images or masks is in the training list; the ten wallpapers are held out from the
# next default model's list (the shipped model saw them as 128-px crops).
#
#   scripts/evaluate_default_model.sh OUT_DIR [MODEL ...]      (default MODEL: default)
#
# TFINPAINT_DATASETS names the datasets folder, the one holding research-train/ (docs/TRAINING.md).
# BLEND (default patches: each model is scored raw and through the blend, `<model>+patches` rows,
# the latter what `tfinpaint inpaint` does for the default model; poisson for paper 2's own blend;
# none for the raw composite only; the classical fills are never blended).
set -euo pipefail
out=${1:?usage: scripts/evaluate_default_model.sh OUT_DIR [MODEL ...]}
shift
models=("${@:-default}")
datasets=${TFINPAINT_DATASETS:?set TFINPAINT_DATASETS to the datasets folder (with research-train/; docs/TRAINING.md)}
research=$datasets/research-train
args=()
for m in "${models[@]}"; do args+=(--model "$m"); done
args+=(--model telea --model ns --model biharmonic --model patchmatch --blend "${BLEND:-patches}")

tfinpaint evaluate "${args[@]}" --data "$research/scenes_bsds500_test" --masks center \
  --image-size 256 --out "$out/bsds500-center"
tfinpaint evaluate "${args[@]}" --data "$research/scenes_bsds500_test" \
  --masks "files:$research/masks_nvidia_subset_white_hole@test" --image-size 256 --out "$out/bsds500-nvidia"
tfinpaint evaluate "${args[@]}" --data tfinpaint/data/default_test_faces.txt --data-root "$datasets" \
  --upscale-small --masks center --image-size 128 --out "$out/celeba-center"
tfinpaint evaluate "${args[@]}" --data tfinpaint/data/default_test_photos_1mp.txt --data-root "$datasets" \
  --masks objects --image-size 1024 --out "$out/objects-1mp"
