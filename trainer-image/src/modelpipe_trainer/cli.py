"""``modelpipe-trainer``: the command line the pipeline's Jobs and Deployments run.

    modelpipe-trainer validate [--config FILE]
    modelpipe-trainer train    [--config FILE]
    modelpipe-trainer serve    --model-dir DIR [--host H] [--port P] [--model-name NAME]
    modelpipe-trainer fetch-s3 (the objects in MODELPIPE_FETCH_OBJECTS; see objectfetch)
    modelpipe-trainer upload-model | fetch-model (a model directory in S3; see modelstore)

Without ``--config`` the run config is read from ``MODELPIPE_RUN_CONFIG``. Exit
codes are ``contract.ExitCode``; the result document goes to stdout and to the
termination-message path. Logs go to stderr so stdout stays one JSON line.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from modelpipe_contract.result import EXIT_CODES, ExitCode, Outcome, TrainerResult
from modelpipe_contract.runconfig import RunConfig

from modelpipe_trainer.configsource import load_run_config
from modelpipe_trainer.errors import TrainerError
from modelpipe_trainer.reporting import DEFAULT_TERMINATION_PATH, emit_result

log = logging.getLogger("modelpipe_trainer")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.command == "serve":
        return _serve(args, os.environ)
    if args.command == "fetch-s3":
        from modelpipe_trainer.objectfetch import main as fetch_main

        return fetch_main()
    if args.command in ("upload-model", "fetch-model"):
        from modelpipe_trainer.modelstore import main as store_main

        return store_main(args.command)
    return _run(args.command, config_path=args.config, environ=os.environ)


def _run(command: str, *, config_path: str | None, environ: Mapping[str, str]) -> int:
    termination_path = DEFAULT_TERMINATION_PATH
    try:
        config = load_run_config(path=config_path, environ=environ)
    except TrainerError as exc:
        result = TrainerResult(outcome=exc.outcome, message=exc.message, failures=exc.failures)
        emit_result(result, termination_path=termination_path)
        return int(EXIT_CODES[exc.outcome])
    termination_path = config.termination_message_path
    try:
        result = _execute(command, config)
    except Exception as exc:  # last resort: the operator still gets a message
        log.exception("The trainer crashed; this is a bug in modelpipe-trainer")
        crash = TrainerResult(
            outcome=Outcome.TRAINING_FAILED,
            message=f"internal error in modelpipe-trainer: {type(exc).__name__}: {exc}",
            model_version=config.model_version,
        )
        emit_result(crash, termination_path=termination_path)
        return 1
    emit_result(result, termination_path=termination_path)
    return int(EXIT_CODES[result.outcome])


def _execute(command: str, config: RunConfig) -> TrainerResult:
    from modelpipe_trainer import training  # here, so that serve does not import it

    if command == "validate":
        return training.validate(config)
    return training.train(config)


def _serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    # Imported here so validate/train do not pay for the web stack.
    from modelpipe_trainer.serving.loading import Runtime
    from modelpipe_trainer.serving.server import ServeOptions, run_server

    model_dir = args.model_dir or environ.get("MODEL_DIR")
    if not model_dir:
        print("modelpipe-trainer serve: give --model-dir DIR or set MODEL_DIR", file=sys.stderr)
        return int(ExitCode.INVALID_CONFIG)
    options = ServeOptions(
        model_dir=Path(model_dir),
        host=args.host or default_host(environ),
        port=args.port if args.port is not None else _env_port(environ),
        model_name=args.model_name or environ.get("MODEL_NAME"),
        trusted_prefixes=_split_prefixes(environ.get("MODELPIPE_TRUSTED_PREFIXES", "")),
        runtime=Runtime(args.runtime or environ.get("MODELPIPE_RUNTIME") or Runtime.AUTO),
        shadow_target=environ.get("MODELPIPE_SHADOW_TARGET") or None,
    )
    if options.port is None:
        print("modelpipe-trainer serve: $PORT is not a port number", file=sys.stderr)
        return int(ExitCode.INVALID_CONFIG)
    return run_server(options)


def default_host(environ: Mapping[str, str]) -> str:
    """Where ``serve`` listens without ``--host``.

    In a pod (``$POD_IP`` set) it is every address of the pod's own network namespace:
    the Service reaches the pod IP, and ``kubectl port-forward`` dials localhost inside
    the pod. Outside a pod it is 127.0.0.1.
    """
    pod_ip = environ.get("POD_IP", "")
    try:
        address = ipaddress.ip_address(pod_ip)
    except ValueError:
        return "127.0.0.1"
    # Inside the pod's own network namespace: its interfaces are the pod's alone.
    return "::" if address.version == 6 else "0.0.0.0"  # noqa: S104


def _env_port(environ: Mapping[str, str]) -> int | None:
    text = environ.get("PORT", "8080")
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _split_prefixes(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelpipe-trainer", description="Validate, train and serve modelpipe models."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch-s3", help="download the run's s3:// datasets (an init container)")
    commands.add_parser("upload-model", help="upload the trained model directory to S3")
    commands.add_parser("fetch-model", help="download a model from S3 and verify every file")
    for name, help_text in (
        ("validate", "check the config, the estimator and the data; train nothing"),
        ("train", "validate, train, evaluate against the champion, write the model directory"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--config", help="run config file (JSON or YAML); default: $MODELPIPE_RUN_CONFIG"
        )
    serve = commands.add_parser(
        "serve", help="serve a model directory over HTTP (Open Inference V2)"
    )
    serve.add_argument("--model-dir", help="model directory; default: $MODEL_DIR")
    serve.add_argument(
        "--host", help="address to bind; default: all of the pod's ($POD_IP set), else 127.0.0.1"
    )
    serve.add_argument("--port", type=int, help="port; default: $PORT, else 8080")
    serve.add_argument(
        "--model-name", help="name in /v2/models/{name}; default: $MODEL_NAME, else the pipeline"
    )
    serve.add_argument(
        "--runtime",
        choices=["auto", "sklearn", "onnx"],
        help="auto: onnxruntime for a verified ONNX model, else scikit-learn; "
        "default: $MODELPIPE_RUNTIME, else auto",
    )
    return parser
