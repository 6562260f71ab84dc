"""The main job end to end on the tiniest paper-2 config: run directory, TensorBoard, export,
evaluation, refusal to redo a finished run, NaN guard, bad input, and (in subprocesses) kill -9
resume, determinism and multi-worker training."""

import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfinpaint.cli import main as cli_main
from tfinpaint.config import get_config

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


def tiny_config(*extra):
    return get_config(2, "demo", TINY + list(extra))


def event_tags(log_dir):
    import tensorflow as tf

    tags = set()
    for path in glob.glob(os.path.join(log_dir, "*", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    return tags


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tfinpaint.training.run import train

    work = tmp_path_factory.mktemp("run")
    lines = []
    summary = train(
        tiny_config(),
        run_dir=str(work / "run"),
        strategy="one",
        export_root=str(work / "saved_models"),
        progress=False,
        log=lines.append,
    )
    return summary, work, lines


def test_run_directory_holds_everything(finished_run):
    summary, work, lines = finished_run
    run = work / "run"
    assert summary["steps"] == 8
    assert json.loads((run / "config.json").read_text())["model"]["t1"] == 2
    assert json.loads((run / "run.json").read_text())["state"] == "finished"
    assert (run / "generator.keras").is_file()
    assert sorted(os.listdir(run / "checkpoints"))  # checkpoint files present
    assert os.path.isdir(summary["export"])
    assert os.path.isfile(os.path.join(summary["export"], "saved_model.pb"))
    assert os.path.isfile(os.path.join(summary["export"], "tflite", "model_fp32.tflite"))
    report = json.loads((run / "report.json").read_text())
    models = {r["model"] for r in report["rows"] if r["bucket"] is None}
    assert {"paper2-demo", "telea", "ns", "biharmonic"} <= models
    assert any("global batch 4" in line for line in lines)


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
        train(tiny_config(), run_dir=str(work / "run"), strategy="one", progress=False)


def test_a_different_config_does_not_resume_silently(tmp_path):
    from tfinpaint.training.run import RunError, _prepare_run_dir

    _prepare_run_dir(str(tmp_path / "r"), tiny_config(), overwrite=False)
    with pytest.raises(RunError, match="train.batch_size: 4 -> 2"):
        _prepare_run_dir(str(tmp_path / "r"), tiny_config("train.batch_size=2"), overwrite=False)


def test_non_finite_loss_stops_before_saving(tmp_path, monkeypatch):
    import tensorflow as tf

    import tfinpaint.models
    from tfinpaint.training.run import RunError, train

    real_build = tfinpaint.models.build_gan

    def build_poisoned(config, global_batch_size):
        gan = real_build(config, global_batch_size)
        step = gan.train_step

        def poisoned(batch):
            logs = step(batch)
            # From the 4th step on, one loss reads NaN, as a diverged run would.
            poison = tf.where(gan.step >= 4, float("nan"), 0.0)
            return {**logs, "rec_loss": logs["rec_loss"] + poison}

        gan.train_step = poisoned
        return gan

    monkeypatch.setattr(tfinpaint.models, "build_gan", build_poisoned)
    run = tmp_path / "run"
    with pytest.raises(RunError, match="step 4: non-finite rec_loss=nan"):
        train(
            tiny_config("train.export=false", "train.evaluate=false"),
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


def train_command(run_dir, strategy="one"):
    sets = [
        a
        for s in TINY
        + [
            "train.checkpoint_every=1",
            "model.t3=12",
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
    plain, twin, killed = tmp_path / "plain", tmp_path / "twin", tmp_path / "killed"
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

    resumed = start(train_command(killed))
    repeat = start(train_command(twin))
    out = finish(resumed)
    finish(repeat)
    finish(uninterrupted)
    assert "resumed from step" in out, out
    assert not glob.glob(str(checkpoints / "*_temp*"))
    reference = final_weights(plain / "generator.keras")
    for other in (killed, twin):
        for a, b in zip(reference, final_weights(other / "generator.keras")):
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
        procs.append(start(train_command(run, strategy="multiworker"), env={"TF_CONFIG": tf_config}))
    outputs = [finish(p) for p in procs]
    assert "2 replica(s) x batch 4 = global batch 8" in outputs[0], outputs[0]
    chief = final_weights(run / "generator.keras")
    other = final_weights(run / ".worker-1" / "generator.keras")
    for a, b in zip(chief, other):
        np.testing.assert_array_equal(a, b)


def test_mixed_float16_runs_with_finite_losses(tmp_path):
    import keras

    from tfinpaint.training.run import train

    lines = []
    try:
        summary = train(
            tiny_config(
                "model.t1=1",
                "model.t2=1",
                "model.t3=1",
                "train.export=false",
                "train.evaluate=false",
                "train.mixed_precision=true",
            ),
            run_dir=str(tmp_path / "mp"),
            strategy="one",
            progress=False,
            log=lines.append,
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert summary["steps"] == 3
    assert any("policy mixed_float16" in line for line in lines)
