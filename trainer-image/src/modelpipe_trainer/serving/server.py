"""Running the server: load and check the model first, then bind and serve with uvicorn.

The model is loaded before the socket is bound, so a refused model is a prompt
non-zero exit with the reason on stderr (the pod crash-loops visibly) rather than
a server that is up but cannot answer. uvicorn handles SIGTERM: it stops
accepting connections, lets in-flight requests finish (up to the grace period),
then exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import uvicorn
from modelpipe_contract.result import ExitCode

from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import Runtime, load_served
from modelpipe_trainer.serving.mirror import parse_target

# Kubernetes' default terminationGracePeriodSeconds is 30; finish well inside it.
GRACEFUL_SHUTDOWN_SECONDS = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    model_dir: Path
    host: str
    port: int | None
    model_name: str | None = None
    trusted_prefixes: Sequence[str] = field(default_factory=list)
    runtime: Runtime = Runtime.AUTO
    # host:port of the pipeline's shadow Service (spec.serving.strategy Shadow), or None.
    shadow_target: str | None = None


def run_server(options: ServeOptions) -> int:
    """Serve until SIGTERM/SIGINT; return the process exit code."""
    try:
        shadow = parse_target(options.shadow_target) if options.shadow_target else None
    except ValueError as exc:
        print(f"modelpipe-trainer serve: {exc}", file=sys.stderr)
        return int(ExitCode.INVALID_CONFIG)
    try:
        bundle = load_served(
            options.model_dir, runtime=options.runtime, extra_prefixes=options.trusted_prefixes
        )
    except ModelRejectedError as exc:
        print(f"modelpipe-trainer serve: refused to serve the model: {exc}", file=sys.stderr)
        return int(ExitCode.MODEL_REJECTED)
    name = options.model_name or bundle.lineage.pipeline
    log.info(
        "Loaded model %s version %s from %s (runtime %s)",
        name,
        bundle.lineage.model_version,
        options.model_dir,
        bundle.predictor.platform,
    )
    if shadow is not None:
        log.info("Mirroring predictions to the shadow at %s:%d", shadow.host, shadow.port)
    config = uvicorn.Config(
        create_app(bundle, name=name, shadow=shadow),
        host=options.host,
        port=options.port or 8080,
        http="h11",
        loop="asyncio",
        lifespan="off",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_config=None,
    )
    server = uvicorn.Server(config)
    # uvicorn drains on SIGTERM/SIGINT and then re-raises the signal to the handler
    # that was installed before it started. The default handler would kill us with
    # 143 after a clean drain; this one lets a graceful shutdown exit 0.
    previous = {sig: signal.signal(sig, _stopped_by) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if server.started else 1


def _stopped_by(signum: int, frame: FrameType | None) -> None:
    log.info("Stopped serving after %s", signal.Signals(signum).name)
