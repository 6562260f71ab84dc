"""The main job end to end on the tiniest paper-2 config: run directory, TensorBoard, export,
evaluation, the plan and the closing lines, refusal to redo a finished run, damaged run files and
checkpoints, a run on other data, NaN guard, bad input, and (in subprocesses) kill -9 resume,
determinism and multi-worker training."""

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import main as cli_main
from tfinpaint.config import ConfigError, get_config

TINY = [
    "data.image_size=32",
    "model.generator_width=4",
    "model.critic_width=4",
    "model.t1=2",
    "model.t2=2",
    "model.t3=4",
    "train.batch_size=4",
    "train.checkpoint_every=2",
    "train.log_every=2",
    "train.image_every=4",
    "train.val_batches=1",
    "train.eval_images=8",
    "train.tflite=fp32",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# A run whose ending and number of critics a test does not look at: no export, no evaluation,
# one critic (its step traces in two thirds of the time four critics' takes).
QUICK = ["train.export=false", "train.evaluate=false", "model.critics=local"]


def tiny_config(*extra):
    return get_config(2, "demo", TINY + list(extra))


def event_tags(log_dir):
    import tensorflow as tf

    tags = set()
    for path in glob.glob(os.path.join(log_dir, "*", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    return tags


# The finished run trains as the default preset does on a CPU with native bfloat16: TFLite has
# no kernels for a bf16 generator's layers, so its export must load the saved generator under
# the float32 policy, and its report must score in float32. (At this size bfloat16 costs no
# more than float32, even where it is emulated.)
FINISHED = ["train.precision=mixed_bfloat16"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tfinpaint.commands.train import train_export_evaluate

    work = tmp_path_factory.mktemp("run")
    lines = []
    summary = train_export_evaluate(
        tiny_config(*FINISHED),
        run_dir=str(work / "run"),
        strategy="one",
        export_root=str(work / "saved_models"),
        progress=False,
        log=lines.append,
    )
    return summary, work, lines


def test_run_directory_holds_everything(finished_run):
    import tensorflow as tf

    summary, work, lines = finished_run
    run = work / "run"
    assert summary["steps"] == 8
    assert json.loads((run / "config.json").read_text())["model"]["t1"] == 2
    assert json.loads((run / "run.json").read_text())["state"] == "finished"
    assert (run / "generator.keras").is_file()
    # Every 2 steps, the newest 3 kept.
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-8")
    assert sorted(glob.glob(str(run / "checkpoints" / "ckpt-*.index"))) == [
        str(run / "checkpoints" / f"ckpt-{n}.index") for n in (4, 6, 8)
    ]
    assert os.path.isdir(summary["export"])
    assert os.path.isfile(os.path.join(summary["export"], "saved_model.pb"))
    assert os.path.isfile(os.path.join(summary["export"], "tflite", "model_fp32.tflite"))
    # The papers' two protocols scored apart (tiny_config trains on centre holes, so no third).
    assert set(summary["report"]) == {"center", "random"}
    for protocol, masks in (("center", "center"), ("random", "mixed:free_form=0.5,random_rect=0.5")):
        report = json.loads((run / f"report-{protocol}" / "report.json").read_text())
        assert report["masks"] == masks
        models = {r["model"] for r in report["rows"] if r["bucket"] is None}
        assert {"paper2-demo", "telea", "ns", "biharmonic"} <= models
        folder = run / f"report-{protocol}"
        assert f"report ({protocol}): {folder / 'report.md'}, examples: {folder / 'examples.png'}" in lines
        assert (folder / "report.md").is_file() and (folder / "examples.png").is_file()
    assert any("global batch 4 = 1 replica(s) x 4, 32px, policy mixed_bfloat16" in line for line in lines)
    assert "plan: reconstruction steps 1-2, critics steps 3-4, joint steps 5-8" in lines
    assert f"inpaint with it: tfinpaint inpaint PHOTO.jpg --mask MASK.png --model {run}" in lines


def test_tensorboard_has_scalars_images_and_config(finished_run):
    _, work, _ = finished_run
    tags = event_tags(str(work / "run" / "logs"))
    for tag in ("rec_loss", "psnr", "ssim", "images_per_sec", "examples", "config"):
        assert tag in tags, (tag, sorted(tags))
    assert any(t.startswith("learning_rate/") for t in tags)
    assert any(t.startswith("wasserstein") for t in tags), sorted(tags)


def test_a_finished_run_is_refused_without_overwrite(finished_run):
    from tfinpaint.training.run import RunError, train

    _, work, _ = finished_run
    with pytest.raises(RunError, match="finished run; pass --overwrite"):
        train(tiny_config(*FINISHED), run_dir=str(work / "run"), strategy="one", progress=False)


def test_a_different_config_does_not_resume_silently(tmp_path):
    from tfinpaint.training.rundir import RunError, prepare_run_dir

    prepare_run_dir(str(tmp_path / "r"), tiny_config(), overwrite=False)
    with pytest.raises(RunError, match="train.batch_size: 4 -> 2"):
        prepare_run_dir(str(tmp_path / "r"), tiny_config("train.batch_size=2"), overwrite=False)


def test_a_finished_run_of_other_data_is_named_before_overwrite_could_delete_it(tmp_path):
    """`--data other/F2` after `--data F2`: one run name, so the message shows the data differ."""
    from tfinpaint.training.rundir import RunError, prepare_run_dir, write_json

    prepare_run_dir(str(tmp_path / "r"), tiny_config("data.source=F2"), overwrite=False)
    write_json(str(tmp_path / "r" / "run.json"), {"state": "finished"})
    with pytest.raises(
        RunError, match=r"another config \(data.source: 'F2' -> 'other/F2'\); --overwrite would delete"
    ):
        prepare_run_dir(str(tmp_path / "r"), tiny_config("data.source=other/F2"), overwrite=False)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("config.json", '{"paper": 2, "preset": "de', "the run's config cannot be read"),
        ("run.json", "\x00\x13garbage", "the run's state cannot be read"),
        ("run.json", "[1, 2]", "should be a JSON object, found list"),
    ],
)
def test_damaged_run_files_are_named_with_what_to_do(tmp_path, name, content, message):
    from tfinpaint.training.rundir import RunError, prepare_run_dir

    run = tmp_path / "r"
    prepare_run_dir(str(run), tiny_config(), overwrite=False)
    (run / name).write_text(content)
    with pytest.raises(RunError) as caught:
        prepare_run_dir(str(run), tiny_config(), overwrite=False)
    text = str(caught.value)
    assert str(run / name) in text and message in text and "--overwrite" in text, text
    assert "\n" not in text


def resumable_copy(finished_run, run_dir, config):
    """`run_dir` prepared for `config`, holding `finished_run`'s checkpoints (steps 4, 6, 8):
    an unfinished run as one stopped after its last checkpoint leaves it, without training one
    more (seconds of tracing). `config` may leave out the end-of-run export and evaluation,
    which checkpoints do not hold; networks, data, schedule and precision are `finished_run`'s."""
    from tfinpaint.training.rundir import prepare_run_dir

    _, work, _ = finished_run
    prepare_run_dir(str(run_dir), config, overwrite=False)
    shutil.copytree(work / "run" / "checkpoints", run_dir / "checkpoints")


def test_resume_skips_a_truncated_newest_checkpoint_and_says_so(finished_run, tmp_path):
    import tensorflow as tf

    from tfinpaint.training.run import train

    config = tiny_config(*FINISHED, "train.export=false", "train.evaluate=false")
    run = tmp_path / "run"
    resumable_copy(finished_run, run, config)
    newest = run / "checkpoints" / "ckpt-8.data-00000-of-00001"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # power loss, full disk
    lines = []
    summary = train(config, run_dir=str(run), strategy="one", progress=False, log=lines.append).summary
    broken = next(line for line in lines if "cannot be read" in line)
    assert str(run / "checkpoints" / "ckpt-8") in broken and newest.name in broken, broken
    assert any("newest intact checkpoint, ckpt-6 (step 6)" in line for line in lines), lines
    assert any("resumed from step 6" in line for line in lines), lines
    assert summary["steps"] == 8
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-8")
    # The re-saved ckpt-8 is whole again.
    tf.train.load_checkpoint(str(run / "checkpoints" / "ckpt-8")).get_tensor(
        "step/.ATTRIBUTES/VARIABLE_VALUE"
    )


def test_no_readable_checkpoint_is_a_clear_error(finished_run, tmp_path):
    from tfinpaint.training.run import train
    from tfinpaint.training.rundir import RunError

    config = tiny_config(*FINISHED, "train.export=false", "train.evaluate=false")
    run = tmp_path / "run"
    resumable_copy(finished_run, run, config)
    for data in (run / "checkpoints").glob("ckpt-*.data-*"):
        data.write_bytes(b"")
    with pytest.raises(
        RunError, match="no checkpoint in .* can be read \\(ckpt-8, ckpt-6, ckpt-4\\); pass --overwrite"
    ):
        train(config, run_dir=str(run), strategy="one", progress=False, log=lambda _: None)


def test_a_checkpoint_of_a_run_is_a_model(finished_run, tmp_path, caplog):
    """`--model RUN/checkpoints/ckpt-N` is the generator at step N: the last one holds the weights
    of the run's generator.keras, read without a warning per critic and optimizer variable it
    leaves; a config that builds another network is named, not half read."""
    import gc
    import logging

    import numpy as np

    from tfinpaint.artifacts import ModelPathError
    from tfinpaint.inference.loading import load_generator, load_inpainter

    _, work, _ = finished_run
    run = work / "run"
    final = load_generator(str(run / "generator.keras"))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        last = load_generator(str(run / "checkpoints" / "ckpt-8.index"))
        gc.collect()  # TensorFlow warns of unread values when the read's status is collected
    assert "could not be found" not in caplog.text
    assert [w.shape for w in last.weights] == [w.shape for w in final.weights]
    for a, b in zip(last.weights, final.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    earlier = load_generator(str(run / "checkpoints" / "ckpt-4"))
    moved = [not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(earlier.weights, final.weights)]
    assert any(moved)
    assert load_inpainter(str(run / "checkpoints" / "ckpt-6")).name == "paper2-demo-ckpt-6"
    other = tmp_path / "run"
    other.mkdir()
    (other / "config.json").write_text(tiny_config("model.generator_width=8").to_json())
    shutil.copytree(run / "checkpoints", other / "checkpoints")
    unreadable = r"ckpt-8: cannot be read as the generator .*config.json describes"
    with pytest.raises(ModelPathError, match=unreadable):
        load_generator(str(other / "checkpoints" / "ckpt-8"))


def test_a_run_with_averaged_weights_saves_and_serves_the_average(tmp_path):
    """`train.ema_decay`: the run's generator.keras and its checkpoints read as models are the
    averaged generator; the raw one is in the checkpoint too, for resuming."""
    import numpy as np
    import tensorflow as tf

    from tfinpaint.inference.loading import load_generator
    from tfinpaint.models import build_generator
    from tfinpaint.training.run import train

    config = tiny_config(*QUICK, "train.ema_decay=0.9")
    run = tmp_path / "run"
    train(config, run_dir=str(run), strategy="one", progress=False, log=lambda _: None)
    last = str(run / "checkpoints" / "ckpt-8")
    saved = [np.asarray(w) for w in load_generator(str(run / "generator.keras")).weights]
    for a, b in zip(load_generator(last).weights, saved):
        np.testing.assert_array_equal(np.asarray(a), b)
    raw = build_generator(config)
    tf.train.Checkpoint(generator=raw).read(last).expect_partial().assert_existing_objects_matched()
    assert sum(not np.allclose(np.asarray(r), s) for r, s in zip(raw.weights, saved)) > len(saved) // 2


def test_a_run_on_other_data_has_its_own_names_critics_and_reports_bad_files(tmp_path, monkeypatch, capsys):
    """`--data DIR` without `--run-dir` never meets the demo's run or export; a subset of critics
    trains; an unreadable image is named in the log and the summary."""
    garden = tmp_path / "garden"
    garden.mkdir()
    for i in range(12):
        pixels = np.random.default_rng(i).integers(0, 255, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(garden / f"{i:02d}.png")
    (garden / "broken.jpg").write_bytes(b"not a jpeg at all")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "paper2-demo").mkdir(parents=True)  # the demo's run, untouched
    # The export's folder name is looked at, not its TFLite files (converting one takes seconds).
    overrides = ["model.critics=local,global", "train.evaluate=false", "train.tflite=none"]
    sets = [a for s in TINY + overrides for a in ("--set", s)]
    code = cli_main(["train", "--paper", "2", "--data", str(garden), "--no-progress", *sets])
    out = capsys.readouterr().out
    assert code == 0, out
    run = tmp_path / "runs" / "paper2-demo-garden"
    assert (run / "generator.keras").is_file()
    assert not os.listdir(tmp_path / "runs" / "paper2-demo")
    assert [p.name for p in (tmp_path / "saved_models").iterdir() if p.is_dir()] == ["paper2_demo_garden"]
    assert str(garden / "broken.jpg") in out
    assert json.loads((run / "run.json").read_text())["unreadable"] == [str(garden / "broken.jpg")]
    tags = event_tags(str(run / "logs"))
    assert {"wasserstein_local", "wasserstein_global"} <= tags and "wasserstein_x2" not in tags
    assert f"--model {os.path.join('runs', 'paper2-demo-garden')}" in out


def test_non_finite_loss_stops_before_saving(tmp_path, monkeypatch):
    import tensorflow as tf

    import tfinpaint.training.build
    from tfinpaint.training.run import RunError, train

    real_build = tfinpaint.training.build.build_gan

    def build_poisoned(config, global_batch_size):
        gan = real_build(config, global_batch_size)
        step = gan.train_one_step

        def poisoned(batch):
            logs = step(batch)
            # From the 4th step on, one loss reads NaN, as a diverged run would.
            poison = tf.where(gan.step >= 4, float("nan"), 0.0)
            return {**logs, "rec_loss": logs["rec_loss"] + poison}

        gan.train_one_step = poisoned
        return gan

    monkeypatch.setattr(tfinpaint.training.build, "build_gan", build_poisoned)
    run = tmp_path / "run"
    with pytest.raises(RunError, match="step 4: non-finite rec_loss=nan"):
        train(
            tiny_config(*QUICK),
            run_dir=str(run),
            strategy="one",
            progress=False,
            log=lambda _: None,
        )
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/no/such/folder"], "/no/such/folder"),
        (["--image-size", "30"], "data.image_size=30"),
        (["--preset", "huge"], "preset 'huge' does not exist"),
        (["--strategy", "mirrored", "--batch-size", "3"], "train.batch_size=3 is the global batch"),
        (["--set", "model.bogus=1"], "unknown key"),
    ],
)
def test_bad_input_is_one_line_before_any_model(args, message, capsys, tmp_path):
    code = cli_main(["train", "--paper", "2", "--run-dir", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_empty_folder_is_a_clear_error(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code = cli_main(
        ["train", "--paper", "2", "--data", str(tmp_path / "empty"), "--run-dir", str(tmp_path / "r")]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(tmp_path / "empty") in err


# --- subprocess runs: crash-safe resume, determinism, multi-worker -------------------------


def train_command(run_dir, strategy="one", joint_steps=12):
    # One critic: a process traces its step in two thirds of the time four take, and the
    # critic's weights and optimiser state are resumed and all-reduced like any number of them.
    sets = [
        a
        for s in TINY
        + [
            "model.critics=local",
            "train.checkpoint_every=1",
            f"model.t3={joint_steps}",
            "train.export=false",
            "train.evaluate=false",
            "train.log_every=100",
            "train.image_every=100",
        ]
        for a in ("--set", s)
    ]
    return [
        sys.executable,
        os.path.join(ROOT, "scripts", "train.py"),
        "--paper",
        "2",
        "--run-dir",
        str(run_dir),
        "--strategy",
        strategy,
        "--deterministic",
        "--no-progress",
        *sets,
    ]


def final_weights(path):
    from tfinpaint.inference import load_generator

    model = load_generator(str(path))
    return [np.asarray(w) for w in model.weights]


def start(cmd, env=None):
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT, **(env or {})},
    )


def finish(proc, timeout=300):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def test_kill_9_then_rerun_resumes_to_the_same_weights_and_runs_are_deterministic(tmp_path):
    # Every step is computed in two processes: all of them by the plain run, the first ones by
    # the killed run and the rest by its rerun. The same weights at the end prove both that
    # runs are deterministic across processes and that a resume loses or repeats nothing (the
    # log shows it did resume, rather than train again from scratch).
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    uninterrupted = start(train_command(plain))
    victim = start(train_command(killed))
    checkpoints = killed / "checkpoints"
    deadline = time.time() + 240
    while not glob.glob(str(checkpoints / "ckpt-*.index")):
        assert victim.poll() is None and time.time() < deadline, victim.communicate()[0]
        time.sleep(0.2)
    time.sleep(random.uniform(0.0, 2.0))  # a random moment after the first checkpoint
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (killed / "generator.keras").exists(), "killed too late to test a resume"

    out = finish(start(train_command(killed)))
    finish(uninterrupted)
    assert "resumed from step" in out, out
    assert not glob.glob(str(checkpoints / "*_temp*"))
    for a, b in zip(final_weights(plain / "generator.keras"), final_weights(killed / "generator.keras")):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_multiworker_two_local_processes_train_identical_weights(tmp_path):
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run = tmp_path / "mw"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        # Two joint steps: every phase runs; each step all-reduces the gradients of both workers.
        procs.append(
            start(train_command(run, strategy="multiworker", joint_steps=2), env={"TF_CONFIG": tf_config})
        )
    outputs = [finish(p) for p in procs]
    assert "global batch 4 = 2 replica(s) x 2" in outputs[0], outputs[0]
    chief = final_weights(run / "generator.keras")
    other = final_weights(run / ".worker-1" / "generator.keras")
    for a, b in zip(chief, other):
        np.testing.assert_array_equal(a, b)


def test_mixed_float16_runs_with_finite_losses(tmp_path):
    from tfinpaint.training.run import train

    lines = []
    summary = train(
        tiny_config(*QUICK, "model.t1=1", "model.t2=1", "model.t3=1", "train.mixed_precision=true"),
        run_dir=str(tmp_path / "mp"),
        strategy="one",
        progress=False,
        log=lines.append,
    ).summary
    assert summary["steps"] == 3
    assert any("policy mixed_float16" in line for line in lines)


def test_init_from_starts_a_run_from_a_trained_generator(tmp_path, paper2_generator):
    # The weights of another (tiny) generator, saved as a user's .keras: a fine-tuning run starts
    # from them, its first checkpoint keeps the run going, and a foreign network is refused.
    from tfinpaint.models import build_generator
    from tfinpaint.training import build
    from tfinpaint.training.build import init_generator, init_weights_path
    from tfinpaint.training.run import train

    config = tiny_config(*QUICK)
    trained = build_generator(config)
    trained.set_weights([np.full(w.shape, 0.01 * i, np.float32) for i, w in enumerate(trained.weights)])
    saved = str(tmp_path / "mine.keras")
    trained.save(saved)
    gan = build.build_gan(config, 4)
    init_generator(gan.generator, init_weights_path(saved))
    for got, want in zip(gan.generator.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(got, want)

    lines = []
    train(
        tiny_config(*QUICK, f"train.init_from={saved}"),
        run_dir=str(tmp_path / "run"),
        strategy="one",
        progress=False,
        log=lines.append,
    )
    assert f"generator initialised from {saved}" in lines

    paper2_generator.save(str(tmp_path / "wider.keras"))  # width 8 against this run's 4
    refused = r"wider.keras holds a Paper2Generator with [\d,]+ parameters; this run builds"
    with pytest.raises(ConfigError, match=refused):
        init_generator(gan.generator, str(tmp_path / "wider.keras"))
    with pytest.raises(ConfigError, match="train.init_from='nowhere'"):
        init_weights_path("nowhere")


def test_init_from_gives_a_generator_trained_without_noise_its_noise_inputs(tmp_path):
    # model.generator_noise from a noise-free generator: the shared weights are copied by name and
    # the noise scales stay zero, so it fills exactly as the saved one; the converse is refused.
    from tfinpaint.models import build_generator
    from tfinpaint.training.build import init_generator

    plain = build_generator(tiny_config(*QUICK))
    plain.set_weights([np.full(w.shape, 0.01 * i, np.float32) for i, w in enumerate(plain.weights)])
    plain.save(str(tmp_path / "plain.keras"))
    noisy = build_generator(tiny_config(*QUICK, "model.generator_noise=true"))
    init_generator(noisy, str(tmp_path / "plain.keras"))
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 32, 32, 1), np.float32)
    mask[:, 8:24, 8:24] = 1.0
    batch = {"image": rng.random((2, 32, 32, 3), np.float32), "mask": mask}
    np.testing.assert_array_equal(np.asarray(noisy(batch)), np.asarray(plain(batch)))

    noisy.save(str(tmp_path / "noisy.keras"))
    with pytest.raises(ConfigError, match="noisy.keras holds a Paper2Generator"):
        init_generator(build_generator(tiny_config(*QUICK)), str(tmp_path / "noisy.keras"))


def test_init_from_default_is_the_shipped_model_and_a_flag():
    from tfinpaint import artifacts
    from tfinpaint.commands.train import add_arguments, config_from_args
    from tfinpaint.training.build import init_weights_path

    assert init_weights_path("default") == artifacts.DEFAULT_MODEL_PATH
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--paper", "2", "--preset", "default", "--init-from", "default", "--data-root", "."]
    )
    assert config_from_args(args).train.init_from == "default"
