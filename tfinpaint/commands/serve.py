"""`tfinpaint serve --model-base-path saved_models/<name>`: TF Serving's REST and gRPC APIs."""

import argparse
import logging

from tfinpaint.serving.server import DEFAULT_MAX_PIXELS, DEFAULT_MAX_REQUEST_BYTES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-base-path",
        required=True,
        help="folder of integer version folders, e.g. saved_models/paper2_demo",
    )
    parser.add_argument("--model-name", help="name in the URLs (default: the folder's name)")
    parser.add_argument("--port", type=int, default=8501, help="REST port (default: 8501)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=8500,
        help="gRPC port (default: 8500; 0 picks a free one, -1 disables gRPC)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"larger requests get HTTP 413 (default: {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"requests with more image pixels get 400 (default: {DEFAULT_MAX_PIXELS})",
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=2, help="predictions run at once; the rest wait (default: 2)"
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often to look for a new version (default: 1)"
    )


def run(args) -> int:
    from tfinpaint.serving.server import InpaintServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        server = InpaintServer(
            args.model_base_path,
            args.model_name,
            host=args.host,
            port=args.port,
            grpc_port=None if args.grpc_port < 0 else args.grpc_port,
            max_request_bytes=args.max_request_bytes,
            max_pixels=args.max_pixels,
            max_concurrent=args.max_concurrent,
            poll_seconds=args.poll_seconds,
        ).start()
    except (FileNotFoundError, OSError) as error:
        print(f"tfinpaint serve: {error}")
        return 2
    print(
        f"serving {server.model_name} version {server.source.current().version}: "
        f"REST {server.rest_url}"
        + (f", gRPC {server.host}:{server.grpc_port}" if server.grpc_port is not None else "")
        + " (Ctrl-C stops)",
        flush=True,
    )
    server.wait()
    return 0
