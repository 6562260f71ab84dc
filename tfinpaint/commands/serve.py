"""`tfinpaint serve [--model-base-path saved_models/<name>]`: TF Serving's REST and gRPC APIs
and the browser page; with no model given, the shipped default model as `default`."""

import argparse
import logging
import os
import sys

from tfinpaint.commands import add_examples
from tfinpaint.imagefiles import MAX_PIXELS
from tfinpaint.serving.server import DEFAULT_MAX_PIXELS, DEFAULT_MAX_REQUEST_BYTES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_examples(
        parser,
        "tfinpaint serve                                   # the default model and the page: http://127.0.0.1:8501/",
        "tfinpaint serve --model-base-path saved_models/paper2_demo --grpc-port 8500",
        "tfinpaint serve --allow-origin http://localhost:3000   # your own page may call the API",
    )
    parser.add_argument(
        "--model-base-path",
        help="folder of integer version folders, e.g. saved_models/paper2_demo "
        "(default: the shipped default model, served as `default`)",
    )
    parser.add_argument("--model-name", help="name in the URLs (default: the folder's name, or `default`)")
    parser.add_argument("--port", type=int, default=8501, help="REST port and the page (default: 8501)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=8500,
        help="gRPC port (default: 8500; 0 picks a free one, -1 disables gRPC)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default: 127.0.0.1, this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"larger requests get HTTP 413 (default: {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        help="requests with more image pixels get 400 (default: the API "
        f"{DEFAULT_MAX_PIXELS:,}, one request held whole in memory; the page {MAX_PIXELS:,} like `tfinpaint "
        "inpaint`, since it windows any photo)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=2,
        help="requests decoding or predicting at once, API and page together; the rest wait (default: 2)",
    )
    parser.add_argument(
        "--max-work-memory",
        type=int,
        default=1536,
        metavar="MB",
        help="memory the estimates of the work under way may add up to; a request needing more "
        "gets 413 (default: 1536)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let the web page at ORIGIN (e.g. http://localhost:3000) use the API and the page's "
        "endpoints; repeatable (default: none, only the server's own page)",
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often to look for a new version (default: 1)"
    )
    parser.add_argument(
        "--cache-dir",
        help="where the default model is exported when its shipped export cannot be used (default: "
        "$TFINPAINT_CACHE, else $XDG_CACHE_HOME/tfinpaint, else ~/.cache/tfinpaint)",
    )


def _default_model_message(base_path: str | None, error) -> str:
    """The error, and for the default model's export (a folder the user never named) which
    folder to delete so that the next start makes it again."""
    from tfinpaint import default_export

    if base_path is None or not isinstance(error, (RuntimeError, FileNotFoundError)):
        return str(error)
    # The server names the base path as the option it would come from; the user passed none.
    detail = str(error).removeprefix(f"--model-base-path {base_path}: ")
    folder = os.path.join(base_path, str(default_export.VERSION))
    if os.path.abspath(base_path) == default_export.SHIPPED_BASE_PATH:
        return f"the default model shipped in {folder} cannot be served ({detail}); reinstall tfinpaint"
    return (
        f"the default model's export in {folder} cannot be served ({detail}); delete {folder} and start again"
    )


def run(args) -> int:
    from tfinpaint.artifacts import DEFAULT_MODEL_NAME
    from tfinpaint.export import ExportError
    from tfinpaint.serving.default_model import default_base_path
    from tfinpaint.serving.server import InpaintServer

    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    default_path = None  # the default model's base path, which the user did not name
    try:
        if args.model_base_path is None:
            base_path = default_path = default_base_path(args.cache_dir)
            name = args.model_name or DEFAULT_MODEL_NAME
        else:
            base_path, name = args.model_base_path, args.model_name
        server = InpaintServer(
            base_path,
            name,
            host=args.host,
            port=args.port,
            grpc_port=None if args.grpc_port < 0 else args.grpc_port,
            max_request_bytes=args.max_request_bytes,
            max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
            page_max_pixels=args.max_pixels or MAX_PIXELS,
            max_concurrent=args.max_concurrent,
            poll_seconds=args.poll_seconds,
            max_work_bytes=args.max_work_memory * 2**20,
            allowed_origins=args.allow_origin,
        ).start()
    except (OSError, RuntimeError, ValueError, ExportError) as error:
        print(f"tfinpaint serve: {_default_model_message(default_path, error)}", file=sys.stderr)
        return 2
    lines = [f"serving {server.model_name} version {server.source.current().version}"]
    if server.rest_port is not None:
        lines.append(f"  REST  {server.rest_url}")
    if server.grpc_port is not None:
        lines.append(f"  gRPC  {server.host}:{server.grpc_port}")
    if server.page_url:
        lines.append(f"  page  {server.page_url}  <- open it in a browser")
    lines.append("Ctrl-C stops.")
    print("\n".join(lines), flush=True)
    server.wait()
    return 0
