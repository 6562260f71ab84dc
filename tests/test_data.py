"""Data pipeline: sources, decoding, bad files, splits, determinism, checkpointing, sharding."""

import argparse
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfinpaint.data import DataError, build_dataset, check_source, demo_data_dir, resolve_source, split_files
from tfinpaint.data.sources import IMAGE_FEATURE, Source
from tfinpaint.data.splits import in_split

S = 32


def _photo(h, w, seed):
    """Smooth random colour image (JPEG-friendly) uint8 [h, w, 3]."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))


def _save(path, array, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **kw)
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """12 images 40x48 (some nested, mixed-case extensions, PNG and JPEG)."""
    root = tmp_path_factory.mktemp("images")
    names = (
        [f"img{i:02d}.jpg" for i in range(6)]
        + [f"sub/deep/p{i}.PNG" for i in range(3)]
        + [f"sub/q{i}.JPEG" for i in range(3)]
    )
    for i, name in enumerate(names):
        _save(root / name, _photo(40, 48, i), **({"quality": 95} if "J" in name.upper()[-5:] else {}))
    return str(root)


def _collect(ds):
    return [{k: v.numpy() for k, v in b.items()} for b in ds]


def _eval_all(source, split="all", **kw):
    batches = _collect(build_dataset(source, image_size=S, batch_size=4, split=split, training=False, **kw))
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_demo_data_is_bundled_and_credited():
    d = demo_data_dir()
    jpgs = sorted(f for f in os.listdir(d) if f.endswith(".jpg"))
    assert 200 <= len(jpgs) <= 300
    assert sum(os.path.getsize(os.path.join(d, f)) for f in jpgs) < 10e6
    with Image.open(os.path.join(d, jpgs[0])) as im:
        assert im.size == (256, 256) and im.format == "JPEG"
    credits = open(os.path.join(d, "CREDITS"), encoding="utf-8").read()
    assert all(f in credits for f in jpgs)
    assert "GPL" not in credits and "Licence: CC-BY" in credits


def test_directory_batches_contract(folder):
    ds = build_dataset(folder, image_size=S, batch_size=4, masks="center", seed=1)
    assert ds.element_spec["image"].shape.as_list() == [4, S, S, 3]
    batch = next(iter(ds))
    assert batch["image"].dtype == tf.float32 and batch["mask"].dtype == tf.float32
    assert batch["index"].dtype == tf.int64 and batch["mask"].shape == (4, S, S, 1)
    assert 0.0 <= float(tf.reduce_min(batch["image"])) and float(tf.reduce_max(batch["image"])) <= 1.0
    assert float(tf.reduce_mean(batch["mask"])) == 0.25
    resolved = resolve_source(folder)
    assert resolved.kind == "directory" and len(resolved.paths) == 12
    assert resolved.keys[-1] == "sub/q2.JPEG" and "sub/deep/p0.PNG" in resolved.keys
    # Default source = the bundled demo images.
    assert next(iter(build_dataset(image_size=S, batch_size=2)))["image"].shape == (2, S, S, 3)


def test_eval_is_centre_crop_in_index_order_and_repeatable(folder):
    out = _eval_all(folder, masks="free_form", seed=5)
    np.testing.assert_array_equal(out["index"], np.arange(12))
    # 40x48 -> shorter side 40 resized to 32 (32x38), centre crop columns 3..35.
    first = resolve_source(folder).paths[0]
    decoded = tf.io.decode_jpeg(tf.io.read_file(first), channels=3)
    resized = tf.image.resize(decoded, [32, 38], antialias=True)
    expected = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy()[:, 3:35] / 255.0
    np.testing.assert_allclose(out["image"][0], expected, atol=1e-6)
    again = _eval_all(folder, masks="free_form", seed=5)
    for k in out:
        np.testing.assert_array_equal(out[k], again[k])
    other = _eval_all(folder, masks="free_form", seed=6)
    assert not np.array_equal(out["mask"], other["mask"])
    np.testing.assert_array_equal(out["image"], other["image"])


def test_training_crops_flips_and_seeds(folder):
    def first_batches(seed):
        it = iter(
            build_dataset(folder, image_size=S, batch_size=6, split="all", masks="random_rect", seed=seed)
        )
        return [next(it) for _ in range(2)]

    a, b, c = first_batches(0), first_batches(0), first_batches(1)
    for x, y in zip(a, b):
        for k in x:
            np.testing.assert_array_equal(x[k].numpy(), y[k].numpy())
    assert not np.array_equal(a[0]["image"].numpy(), c[0]["image"].numpy())
    # Two batches of 6 = one epoch of 12: every file once, in a shuffled order.
    indices = np.concatenate([x["index"].numpy() for x in a])
    assert sorted(indices) == list(range(12)) and list(indices) != list(range(12))
    # Same image in a different epoch position gets a different crop / flip / mask.
    masks = np.concatenate([x["mask"].numpy() for x in a])
    assert len({m.tobytes() for m in masks}) == 12


def test_hue_jitter_turns_colours_of_training_crops_only(folder):
    """`hue_jitter`: the same crops, flips, masks and order as without it, about that share of
    the crops with their hue turned (grey levels kept), evaluation untouched, a bad share named."""

    def batch(**kw):
        ds = build_dataset(folder, image_size=S, batch_size=12, split="all", masks="random_rect", **kw)
        return {k: v.numpy() for k, v in next(iter(ds)).items()}

    plain, turned, half = batch(), batch(hue_jitter=1.0), batch(hue_jitter=0.5)
    for k in ("mask", "index"):
        np.testing.assert_array_equal(plain[k], turned[k])
        np.testing.assert_array_equal(plain[k], half[k])
    changed = [not np.allclose(a, b, atol=2 / 255) for a, b in zip(plain["image"], turned["image"])]
    assert all(changed)
    # A hue turn keeps each pixel's largest and smallest channel (HSV's value and saturation).
    for extreme in (np.max, np.min):
        np.testing.assert_allclose(extreme(turned["image"], -1), extreme(plain["image"], -1), atol=2 / 255)
    kept = [np.array_equal(a, b) for a, b in zip(plain["image"], half["image"])]
    assert 0 < sum(kept) < len(kept)
    np.testing.assert_array_equal(_eval_all(folder)["image"], _eval_all(folder, hue_jitter=1.0)["image"])
    with pytest.raises(DataError, match=r"hue_jitter=1.5: expected a share in \[0, 1\]"):
        build_dataset(folder, image_size=S, hue_jitter=1.5)


def test_file_list_places_and_celeba_styles(folder, tmp_path):
    places = tmp_path / "places365_train_standard.txt"
    places.write_text("/img00.jpg 0\n/sub/q1.JPEG 12\n/img03.jpg 364\n")
    resolved = resolve_source(str(places), root=folder)
    assert resolved.kind == "list" and resolved.keys == ("img00.jpg", "img03.jpg", "sub/q1.JPEG")
    assert len(_eval_all(str(places), root=folder)["index"]) == 3

    # The list lives outside the (shared) image folder: paths are relative to `root`.
    celeba = tmp_path / "list_eval_partition.txt"
    celeba.write_text("".join(f"img{i:02d}.jpg {p}\n" for i, p in enumerate([0, 0, 1, 2, 0, 2])))
    for split, expected in [("train", [0, 1, 4]), ("val", [2]), ("test", [3, 5])]:
        out = build_dataset(str(celeba), root=folder, image_size=S, batch_size=8, split=split, training=False)
        assert sorted(np.concatenate([b["index"].numpy() for b in out])) == expected
    with open(celeba, "a") as f:
        f.write("img05.jpg 7\n")
    with pytest.raises(DataError, match="partition 7"):
        resolve_source(str(celeba), root=folder)


def test_glob_and_path_list_sources(folder):
    pattern = os.path.join(folder, "**", "*.PNG")
    resolved = resolve_source(pattern)
    assert resolved.kind == "glob" and resolved.keys == (
        "sub/deep/p0.PNG",
        "sub/deep/p1.PNG",
        "sub/deep/p2.PNG",
    )
    assert len(_eval_all(pattern)["index"]) == 3
    paths = [os.path.join(folder, "img01.jpg"), os.path.join(folder, "sub", "q0.JPEG")]
    assert resolve_source(paths).keys == ("img01.jpg", "sub/q0.JPEG")
    assert len(_eval_all(paths)["index"]) == 2


def _example(data):
    return tf.train.Example(
        features=tf.train.Features(
            feature={IMAGE_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))}
        )
    ).SerializeToString()


def _jpeg_bytes(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_tfrecord_source_split_and_bad_record(tmp_path):
    for f, seeds in (("b.tfrecord", range(3)), ("a.tfrecord", range(3, 8))):
        with tf.io.TFRecordWriter(str(tmp_path / f)) as w:
            for s in seeds:
                w.write(_example(_jpeg_bytes(_photo(36, 32, s))))
    with tf.io.TFRecordWriter(str(tmp_path / "c.tfrecord")) as w:
        w.write(_example(b"not an image"))
        w.write(_example(_jpeg_bytes(_photo(20, 20, 9))))
    pattern = str(tmp_path / "*.tfrecord")
    assert resolve_source(pattern).kind == "tfrecord"
    out = _eval_all(pattern)
    np.testing.assert_array_equal(out["index"], np.arange(8))  # the bad and the small record dropped
    # Files in sorted order: a.tfrecord holds indices 0-4, b.tfrecord 5-7 (seeds 0-2).
    expected = tf.io.decode_jpeg(_jpeg_bytes(_photo(36, 32, 0)), channels=3).numpy()[2:34] / 255.0
    np.testing.assert_allclose(out["image"][5], expected, atol=1e-6)
    # Records split by `<file>:<record>` like files by path: train / val / test, disjoint, covering.
    train, val, test = (
        set(_eval_all(pattern, split=split, split_ratio=0.5)["index"]) for split in ("train", "val", "test")
    )
    assert not (train & val or train & test or val & test) and train | val | test == set(range(8))
    batch = next(iter(build_dataset(pattern, image_size=S, batch_size=3, masks="free_form")))
    assert batch["image"].shape == (3, S, S, 3)
    _assert_resumes(
        lambda: iter(build_dataset(pattern, image_size=S, batch_size=3, split="all")), tmp_path, 2, 3
    )
    report = check_source(pattern, S)
    assert len(report.files) == 8 and [p.rsplit("/", 1)[1] for p, _ in report.bad] == [
        "c.tfrecord#0",
        "c.tfrecord#1",
    ]
    assert "cannot be decoded" in report.bad[0][1] and "too small: 20x20" in report.bad[1][1]


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """Good images in every awkward mode, and every kind of bad file."""
    d = tmp_path_factory.mktemp("messy")
    good = {}
    good["grey.png"] = _save(d / "grey.png", _photo(S, S, 1)[..., 0])
    rgba = np.concatenate([_photo(S, 40, 2), np.full((S, 40, 1), 7, np.uint8)], -1)
    good["rgba.png"] = _save(d / "rgba.png", rgba)
    v16 = (np.arange(S * S * 3, dtype=np.uint32).reshape(S, S, 3) * 21).astype(np.uint16)
    import cv2

    cv2.imwrite(str(d / "deep16.png"), v16[..., ::-1])  # Pillow cannot write 16-bit RGB
    good["deep16.png"] = str(d / "deep16.png")
    frames = [Image.fromarray(np.full((S, S, 3), v, np.uint8)) for v in (30, 220)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    good["anim.gif"] = str(d / "anim.gif")
    good["palette.bmp"] = str(d / "palette.bmp")
    Image.fromarray(_photo(S, S, 3)).convert("P").save(good["palette.bmp"])
    good["photo.webp"] = _save(d / "photo.webp", _photo(S, S, 4))
    jpeg = _jpeg_bytes(_photo(64, 64, 5))
    (d / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (d / "corrupt.jpg").write_bytes(os.urandom(500))
    (d / "empty.png").write_bytes(b"")
    _save(d / "tiny.jpg", _photo(10, 12, 6))
    (d / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (d / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    return str(d), good, v16, rgba


def test_bad_files_skipped_and_reported(messy):
    d, good, _, _ = messy
    report = check_source(d, S)
    assert sorted(os.path.basename(p) for p in report.files) == sorted(good)
    reasons = {os.path.basename(p): why for p, why in report.bad}
    assert set(reasons) == {"truncated.jpg", "corrupt.jpg", "empty.png", "tiny.jpg"}
    assert reasons["empty.png"] == "empty file" and reasons["tiny.jpg"].startswith("too small: 12x10")
    assert "cannot be decoded" in reasons["truncated.jpg"] and "cannot be decoded" in reasons["corrupt.jpg"]
    assert sorted(os.path.basename(p) for p, _ in report.ignored) == [".DS_Store", "Thumbs.db"]
    assert report["bad"] == report.bad and report.bad_fraction == pytest.approx(4 / 10)
    assert "truncated.jpg: cannot be decoded" in report.format()
    # The pipeline drops the same files and keeps going, in evaluation and in training.
    out = _eval_all(d)
    files = resolve_source(d).paths
    assert sorted(os.path.basename(files[i]) for i in out["index"]) == sorted(good)
    it = iter(build_dataset(d, image_size=S, batch_size=4, masks="free_form"))
    for _ in range(5):
        assert next(it)["image"].shape == (4, S, S, 3)


def test_small_images_are_upscaled_when_asked(tmp_path):
    """Aligned CelebA (178x218) at 256: `data.upscale_small` upscales instead of skipping."""
    d = tmp_path / "small"
    _save(d / "big.png", _photo(40, 48, 1))
    _save(d / "small.png", _photo(20, 24, 2))  # shorter side 20 < 32
    _save(d / "tiny.png", _photo(8, 8, 3))
    strict = check_source(str(d), S)
    assert sorted(os.path.basename(p) for p, _ in strict.bad) == ["small.png", "tiny.png"]
    assert strict.upscaled == 0
    assert sorted(_eval_all(str(d))["index"]) == [0]  # big.png only
    lenient = check_source(str(d), S, upscale_small=True)
    assert not lenient.bad and lenient.upscaled == 2 and len(lenient.files) == 3
    assert "2 small image(s) upscaled to the crop" in lenient.format()
    assert check_source(str(d), S, upscale_small=True, quick=True).upscaled == 2
    out = _eval_all(str(d), upscale_small=True)
    assert sorted(out["index"]) == [0, 1, 2] and out["image"].shape == (3, S, S, 3)
    # The 20x24 image fills the crop: upscaled, not padded.
    small = out["image"][list(out["index"]).index(1)]
    assert small.std() > 0.01 and small[:, :4].std() > 0.01 and small[-4:].std() > 0.01


def test_quick_check_reads_headers_only(messy):
    d, good, _, _ = messy
    report = check_source(d, S, quick=True)
    reasons = {os.path.basename(p): why for p, why in report.bad}
    # Everything a header shows is caught; a JPEG cut after its header is left to the pipeline.
    assert set(reasons) == {"corrupt.jpg", "empty.png", "tiny.jpg"}
    assert reasons["tiny.jpg"].startswith("too small: 12x10")
    assert sorted(os.path.basename(p) for p in report.files) == sorted([*good, "truncated.jpg"])


def test_decoding_modes(messy):
    d, good, v16, rgba = messy
    out = _eval_all(d)
    by_name = {
        os.path.basename(resolve_source(d).paths[i]): img for i, img in zip(out["index"], out["image"])
    }
    grey = by_name["grey.png"]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    np.testing.assert_allclose(by_name["rgba.png"], rgba[:, 4:36, :3] / 255.0, atol=1e-6)  # alpha dropped
    # 16-bit scaled to 8 bits (not clipped to white): within one level of round(v / 257).
    np.testing.assert_allclose(by_name["deep16.png"] * 255.0, np.round(v16 / 257.0), atol=1.01)
    assert by_name["deep16.png"].max() < 1.0 and 0.4 < by_name["deep16.png"].mean() < 0.6
    np.testing.assert_allclose(by_name["anim.gif"], 30 / 255.0, atol=1e-6)  # first frame
    assert by_name["palette.bmp"].std() > 0.01 and by_name["photo.webp"].std() > 0.01


def test_split_is_deterministic_and_near_ratio():
    keys = tuple(f"class{i % 7}/{i:05d}.jpg" for i in range(1000))
    source = Source("list", "keys", tuple("/x/" + k for k in keys), keys)
    train_idx, val_idx, test_idx = (set(split_files(source, s, 0.8)[1]) for s in ("train", "val", "test"))
    # Three disjoint splits that cover the source: the run validates on `val` while it trains and
    # never reads `test` before its end.
    assert not (train_idx & val_idx or train_idx & test_idx or val_idx & test_idx)
    assert len(train_idx) + len(val_idx) + len(test_idx) == 1000
    assert 0.76 <= len(train_idx) / 1000 <= 0.84
    assert 0.07 <= len(val_idx) / 1000 <= 0.13 and 0.07 <= len(test_idx) / 1000 <= 0.13
    assert set(split_files(source, "train", 0.8)[1]) == train_idx
    assert set(split_files(source, "train", 0.9)[1]) >= train_idx  # growing the ratio only adds files
    # FarmHash fingerprints are fixed: these memberships hold on every machine.
    golden = in_split(tf.constant(["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"]), "train", 0.5)
    assert golden.numpy().tolist() == GOLDEN_SPLIT
    with pytest.raises(DataError, match="split 'test' is empty"):
        split_files(source, "test", 1.0)
    with pytest.raises(DataError, match="split='dev'"):
        split_files(source, "dev", 0.8)


# FarmHash Fingerprint64 buckets (of 1e6) of a..f.jpg: 929128 952862 827995 335184 100373 484065.
GOLDEN_SPLIT = [False, False, False, True, True, True]


def test_the_run_validates_on_val_and_scores_test_at_the_end():
    """Training-time validation never reads an image the end-of-run evaluation scores."""
    from tfinpaint.config import get_config
    from tfinpaint.training.run import data_splits

    data = get_config(2, "demo").data
    uses = data_splits(data)
    assert uses == {"train": (None, "train"), "val": (None, "val"), "test": (None, "test")}
    source = resolve_source(None)
    indices = {use: set(split_files(source, split, data.split_ratio)[1]) for use, (_, split) in uses.items()}
    assert not indices["val"] & indices["test"] and not indices["train"] & (indices["val"] | indices["test"])
    assert min(len(v) for v in indices.values()) >= 15
    given = get_config(2, "demo", ["data.val_source=/v"]).data
    assert data_splits(given)["val"] == data_splits(given)["test"] == ("/v", "all")


def _assert_resumes(make, directory, before=3, after=3):
    """An iterator restored from a checkpoint continues exactly like the uninterrupted one."""
    it = make()
    for _ in range(before):
        next(it)
    path = tf.train.Checkpoint(iterator=it).write(str(directory / "ckpt"))
    expected = [next(it) for _ in range(after)]
    restored = make()
    tf.train.Checkpoint(iterator=restored).read(path).assert_consumed()
    for want in expected:
        got = next(restored)
        for k in want:
            np.testing.assert_array_equal(got[k].numpy(), want[k].numpy())


def test_iterator_checkpoint_resumes_mid_epoch(folder, tmp_path):
    # Batches 4-6 of 5 cross the epoch boundary (12 files).
    _assert_resumes(
        lambda: iter(build_dataset(folder, image_size=S, batch_size=5, masks="mixed", seed=3)), tmp_path
    )


def test_shards_are_disjoint_and_cover_the_data(folder):
    def indices(shard, training, take):
        ds = build_dataset(
            folder,
            image_size=S,
            batch_size=1,
            split="all",
            training=training,
            num_shards=3,
            shard_index=shard,
        )
        return [int(b["index"][0]) for b in ds.take(take)]

    for training in (True, False):
        shards = [indices(k, training, 4) for k in range(3)]  # 12 files / 3 shards: one epoch
        assert sorted(sum(shards, [])) == list(range(12)), shards
    with pytest.raises(DataError, match="shard_index=3"):
        build_dataset(folder, num_shards=3, shard_index=3)


def test_clear_errors_for_missing_or_empty_sources(tmp_path):
    with pytest.raises(DataError, match=r"'/no/such/dir' does not exist; expected a folder of images \(.jpg"):
        build_dataset("/no/such/dir")
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / ".DS_Store").write_bytes(b"x")
    for d, found in (("empty", "0 other"), ("junk", "1 other")):
        with pytest.raises(DataError, match=f"holds no images \\({found} file"):
            check_source(str(tmp_path / d))
    (tmp_path / "list.txt").write_text("\n# nothing\n")
    with pytest.raises(DataError, match="list.txt' is empty"):
        build_dataset(str(tmp_path / "list.txt"))
    with pytest.raises(DataError, match="TFRecord"):
        build_dataset(str(tmp_path / "nothing-*.jpg"))
    assert issubclass(DataError, ValueError)


def test_data_check_command(messy, folder, capsys):
    from tfinpaint.commands import data as data_cmd

    parser = argparse.ArgumentParser()
    data_cmd.add_arguments(parser)
    assert data_cmd.run(parser.parse_args(["check", messy[0], "--image-size", str(S)])) == 1
    out = capsys.readouterr().out
    assert "6 usable image(s), 4 unusable" in out and "tiny.jpg: too small" in out and ".DS_Store" in out
    assert data_cmd.run(parser.parse_args(["check", folder, "--image-size", "40"])) == 0
    assert data_cmd.run(parser.parse_args(["check", "/no/such"])) == 2
