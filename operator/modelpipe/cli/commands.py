"""Each command: read with :mod:`.cluster`, shape with :mod:`.views`, print with :mod:`.output`."""

from __future__ import annotations

import argparse
import json
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from modelpipe.cli.cluster import Cluster, ClusterError
from modelpipe.cli.codes import ExitCode
from modelpipe.cli.output import show
from modelpipe.cli.views import (
    UnknownVersionError,
    diff_view,
    elsewhere_note,
    history_view,
    pinnable,
    recorded_runs,
    run_version,
    serving_version,
    status_view,
)
from modelpipe.layout import RETRAIN_ANNOTATION

Command = Callable[[argparse.Namespace, Cluster, str, TextIO, TextIO], int]


def run(
    command: str, args: argparse.Namespace, *, cluster: Cluster, fmt: str, out: TextIO, err: TextIO
) -> int:
    try:
        return COMMANDS[command](args, cluster, fmt, out, err)
    except UnknownVersionError as exc:
        err.write(f"error: {exc}\n")
        return int(ExitCode.NOT_FOUND)


def _status(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, _: TextIO) -> int:
    show(status_view(cluster.pipeline(args.name)), fmt=fmt, out=out, err=_)
    return int(ExitCode.OK)


def _history(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    show(history_view(cluster.pipeline(args.name)), fmt=fmt, out=out, err=err)
    return int(ExitCode.OK)


def _diff(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    obj = cluster.pipeline(args.name)
    recorded_runs(obj, args.first, args.second)  # unknown versions fail before any fetch
    documents = {v: _documents(cluster, args.name, v) for v in (args.first, args.second)}
    show(diff_view(obj, args.first, args.second, documents=documents), fmt=fmt, out=out, err=err)
    return int(ExitCode.OK)


def _documents(cluster: Cluster, name: str, version: str) -> dict[str, Any]:
    try:
        return {
            kind: json.loads(cluster.run_file(name, f"/runs/{version}/{kind}.json"))
            for kind in ("lineage", "schema")
        }
    except ClusterError as exc:
        return {"error": exc.message}
    except ValueError:
        return {"error": f"the documents of {version} are not JSON"}


def _logs(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    obj = cluster.pipeline(args.name)
    run = run_version(obj, args.run)
    text = cluster.training_log(run.job_name)
    if text is None:
        try:
            text = cluster.run_file(args.name, f"/runs/{run.model_version}/train.log").decode()
        except ClusterError as exc:
            err.write(
                f"error: Job {run.job_name} has no pod any more, and the log kept with model "
                f"{run.model_version} cannot be read: {exc.message}{elsewhere_note(obj, run)}\n"
            )
            return int(exc.code)
        err.write(f"note: Job {run.job_name} is gone; this is the log kept with the model\n")
    out.write(text if text.endswith("\n") or not text else text + "\n")
    return int(ExitCode.OK)


def _report(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    obj = cluster.pipeline(args.name)
    version = run_version(obj, args.run).model_version if args.run else serving_version(obj)
    if version is None:
        err.write(f"error: {args.name} serves no model yet; give --run VERSION\n")
        return int(ExitCode.NOT_FOUND)
    path = "/report" if args.run is None else f"/runs/{version}/report.html"
    try:
        page = cluster.run_file(args.name, path)
    except ClusterError as exc:
        if args.run is None:
            raise
        note = elsewhere_note(obj, run_version(obj, args.run))
        raise ClusterError(exc.code, exc.message + note) from None
    target = Path(args.file or f"{args.name}-{version}-report.html")
    target.write_bytes(page)
    out.write(f"{target}\n")
    if args.open:
        webbrowser.open(target.resolve().as_uri())
    return int(ExitCode.OK)


def _retrain(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    token = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cluster.patch_pipeline(args.name, {"metadata": {"annotations": {RETRAIN_ANNOTATION: token}}})
    out.write(f"Requested a retrain of {args.name} ({RETRAIN_ANNOTATION}={token})\n")
    return int(ExitCode.OK)


def _pin(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    pinnable(cluster.pipeline(args.name), args.version)
    cluster.patch_pipeline(args.name, {"spec": {"serving": {"pinnedVersion": args.version}}})
    out.write(f"Pinned {args.name} to {args.version} (spec.serving.pinnedVersion)\n")
    return int(ExitCode.OK)


def _unpin(args: argparse.Namespace, cluster: Cluster, fmt: str, out: TextIO, err: TextIO) -> int:
    cluster.patch_pipeline(args.name, {"spec": {"serving": {"pinnedVersion": None}}})
    out.write(f"Unpinned {args.name}: the gate promotes again\n")
    return int(ExitCode.OK)


COMMANDS: dict[str, Command] = {
    "status": _status,
    "history": _history,
    "diff": _diff,
    "logs": _logs,
    "report": _report,
    "retrain": _retrain,
    "pin": _pin,
    "unpin": _unpin,
}
