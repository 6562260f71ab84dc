"""`tfinpaint bench infer`: ms per image (median, batch 1) of every way to run a generator.

Figures: the Keras model (its call compiled with `tf.function`, float inputs), the SavedModel's
full uint8 `serving_default` signature (the size policy, network, compositing), each TFLite
variant (ai_edge_litert, XNNPACK, all cores, at its own fixed side `tflite_size`), and round
trips through `tfinpaint serve` started in this process on a free 127.0.0.1 port: REST with
the `bytes` signature (PNG as `{"b64"}`), REST with the uint8 signature as JSON lists, and
gRPC Predict with uint8 tensors. Request bodies are encoded once beforehand; each round trip
includes reading and decoding the answer.
The ways take turns in every round (see `median_ms`). `server_overhead_pct` is the REST
`bytes` round trip over the SavedModel's own time; `tflite_*_mb` are the files' sizes.
"""

import argparse
import base64
import contextlib
import http.client
import json
import os
import statistics
import tempfile
import time

import numpy as np

from tfinpaint.bench import add_common_arguments, emit

EXAMPLES = (
    "tfinpaint bench infer                                  # the shipped model at 256x256",
    "tfinpaint bench infer --model runs/paper2-demo --image-size 256 --runs 10",
    "tfinpaint bench infer --tflite none --json",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="default", help="the generator: default, a .keras file or a run directory"
    )
    parser.add_argument("--image-size", type=int, default=256, help="square side (default: 256)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per figure (default: 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default: 2)")
    parser.add_argument(
        "--tflite",
        default="fp32,fp16,int8",
        help="TFLite variants to convert and time, or 'none' (default: all)",
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="TFLite interpreter threads (default: all cores)"
    )
    add_common_arguments(parser)


def median_ms(calls: dict, runs: int, warmup: int) -> dict:
    """Median wall time in ms of each `calls[name]()`, after `warmup` untimed calls each.

    The calls take turns within every round, so a burst of load from other processes on a
    shared machine slows all of them alike instead of skewing one figure.
    """
    for call in calls.values():
        for _ in range(warmup):
            call()
    times = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {f"{name}_ms_per_image": statistics.median(t) for name, t in times.items()}


def bench_photo(size: int):
    """A real demo photo, centre-cropped and resized to `size`, with a centre square hole."""
    from PIL import Image

    from tfinpaint.data import demo_data_dir

    folder = demo_data_dir()
    name = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".png")))[0]
    with Image.open(os.path.join(folder, name)) as photo:
        photo = photo.convert("RGB")
        side = min(photo.size)
        left, top = (photo.width - side) // 2, (photo.height - side) // 2
        photo = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
        image = np.asarray(photo, np.uint8)[None]
    mask = np.zeros((1, size, size, 1), np.uint8)
    mask[:, size // 4 : size - size // 4, size // 4 : size - size // 4] = 255
    return image, mask


def _rest_call(connection: http.client.HTTPConnection, path: str, body: bytes):
    def call():
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"server answered {response.status}: {payload}")
        return payload

    return call


def measure(generator, image, mask, runs: int, warmup: int, variants, threads: int) -> dict:
    """Every figure for one generator and one uint8 image/mask pair ([1,S,S,3], [1,S,S,1])."""
    import tensorflow as tf

    from tfinpaint.export import export_saved_model

    calls, figures = {}, {}
    inputs = {"image": tf.constant(image, tf.float32) / 255.0, "mask": tf.constant(mask > 0, tf.float32)}
    keras_call = tf.function(lambda x: generator(x, training=False))
    calls["keras"] = lambda: keras_call(inputs).numpy()
    with tempfile.TemporaryDirectory(prefix="tfinpaint-bench-") as root, contextlib.ExitStack() as stack:
        base = os.path.join(root, "bench_model")
        version_dir = export_saved_model(generator, base, tflite=variants)
        serve = tf.saved_model.load(version_dir).signatures["serving_default"]
        image_t, mask_t = tf.constant(image), tf.constant(mask)
        calls["saved_model"] = lambda: serve(image=image_t, mask=mask_t)["inpainted"].numpy()
        tflite_dir = os.path.join(version_dir, "tflite")
        for variant in variants:
            path = os.path.join(tflite_dir, f"model_{variant}.tflite")
            calls[f"tflite_{variant}"], figures["tflite_size"] = _tflite_call(path, threads)
            figures[f"tflite_{variant}_mb"] = os.path.getsize(path) / 1e6
        calls.update(_server_calls(stack, base, image, mask))
        figures.update(median_ms(calls, runs, warmup))
    figures["server_overhead_pct"] = 100.0 * (
        figures["server_rest_bytes_ms_per_image"] / figures["saved_model_ms_per_image"] - 1.0
    )
    return figures


def _tflite_call(path: str, threads: int):
    """(a call of a TFLite file on the bench photo at the file's own fixed side, that side)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner("serving_default")
    side = int(runner.get_input_details()["image"]["shape"][1])
    image, mask = bench_photo(side)
    return (lambda: runner(image=image, mask=mask)["inpainted"]), side


def _server_calls(stack: contextlib.ExitStack, base_path: str, image, mask) -> dict:
    """Round-trip callables through a server started on a free 127.0.0.1 port (closed by `stack`)."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from tfinpaint.serving.server import InpaintServer

    server = stack.enter_context(InpaintServer(base_path, port=0, grpc_port=0, poll_seconds=3600))
    png = lambda a: base64.b64encode(tf.io.encode_png(a).numpy()).decode("ascii")
    bodies = {
        "bytes": {
            "signature_name": "bytes",
            "instances": [{"image_bytes": {"b64": png(image[0])}, "mask_bytes": {"b64": png(mask[0])}}],
        },
        "json": {"inputs": {"image": image.tolist(), "mask": mask.tolist()}},
    }
    path = f"/v1/models/{server.model_name}:predict"
    calls = {}
    for label, body in bodies.items():
        connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=300)
        stack.callback(connection.close)
        calls[f"server_rest_{label}"] = _rest_call(connection, path, json.dumps(body).encode())
    request = predict_pb2.PredictRequest()
    request.model_spec.name = server.model_name
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(image))
    request.inputs["mask"].CopyFrom(tf.make_tensor_proto(mask))
    channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}"))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    calls["server_grpc"] = lambda: tf.make_ndarray(stub.Predict(request, timeout=300).outputs["inpainted"])
    return calls


def run(args) -> int:
    from tfinpaint.export import ExportError, load_source, parse_variants

    try:
        variants = parse_variants(args.tflite)
        generator, name = load_source(args.model)
    except ExportError as error:
        print(f"tfinpaint bench infer: {error}")
        return 2
    image, mask = bench_photo(args.image_size)
    figures = measure(generator, image, mask, args.runs, args.warmup, variants, args.threads)
    emit(figures, args.json, model=name, image_size=args.image_size, batch=1, runs=args.runs)
    return 0
