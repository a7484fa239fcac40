"""``kubectl-modelpipe``: parse argv, run one command, map every failure to an exit code.

    kubectl modelpipe status  NAME
    kubectl modelpipe history NAME
    kubectl modelpipe diff    NAME V1 V2
    kubectl modelpipe logs    NAME [--run VERSION]
    kubectl modelpipe report  NAME [--run VERSION] [--file PATH] [--open]
    kubectl modelpipe retrain NAME
    kubectl modelpipe pin     NAME VERSION
    kubectl modelpipe unpin   NAME

Global flags (before or after the command): --kubeconfig, --context, -n/--namespace,
-o/--output table|json|yaml. Exit codes: :class:`modelpipe.cli.codes.ExitCode`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from modelpipe.cli.codes import ExitCode
from modelpipe.cli.output import FORMATS

if TYPE_CHECKING:
    from modelpipe.cli.cluster import Cluster

PROG = "kubectl modelpipe"
# A ModelPipeline name (DNS-1035 label) and a model version (one path segment).
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,52}[a-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage error or the help
        return int(exc.code) if isinstance(exc.code, int) else int(ExitCode.USAGE)
    from modelpipe.cli.cluster import ClusterError  # the Kubernetes client loads only here

    try:
        return _dispatch(args, out=sys.stdout, err=sys.stderr)
    except ClusterError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return int(exc.code)


def _dispatch(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    from modelpipe.cli import commands
    from modelpipe.cli.cluster import Cluster, Target

    target = Target(
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        namespace=getattr(args, "namespace", None),
    )
    cluster: Cluster = Cluster(target)
    fmt = getattr(args, "output", None) or "table"
    return commands.run(args.command, args, cluster=cluster, fmt=fmt, out=out, err=err)


def _name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a ModelPipeline name (lowercase letters, digits and '-', "
            "starting with a letter, at most 54 characters)"
        )
    return text


def _version(text: str) -> str:
    if not _VERSION.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a model version (letters, digits, '.', '_' and '-', "
            "at most 64 characters)"
        )
    return text


def _common(*, suppress: bool) -> argparse.ArgumentParser:
    """The global flags; on subcommands they default to SUPPRESS so they never
    overwrite a value given before the command."""
    default = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", default=default, help="kubeconfig file")
    common.add_argument("--context", default=default, help="kubeconfig context")
    common.add_argument("-n", "--namespace", default=default, help="the pipeline's namespace")
    common.add_argument("-o", "--output", choices=FORMATS, default=default, help="output format")
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[_common(suppress=False)],
        description="Read and steer modelpipe ModelPipelines.",
        epilog="Exit codes: 0 ok, 1 cluster error, 2 usage, 3 not found, 4 forbidden.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common(suppress=True)]

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, parents=common, allow_abbrev=False)
        sub.add_argument("name", type=_name, metavar="NAME", help="the ModelPipeline")
        return sub

    command("status", "what serves and why, what runs now, the last run's checks")
    command("history", "every recorded run: code, data, metrics, whether it served")
    diff = command("diff", "two runs side by side: params, metrics, data hash, schema")
    diff.add_argument("first", type=_version, metavar="V1")
    diff.add_argument("second", type=_version, metavar="V2")
    logs = command("logs", "the training pod's log, or the one kept with the model")
    logs.add_argument("--run", type=_version, metavar="VERSION", help="default: the newest run")
    report = command("report", "save (and open) a model's report.html")
    report.add_argument("--run", type=_version, metavar="VERSION", help="default: serving")
    report.add_argument("--file", metavar="PATH", help="default: NAME-VERSION-report.html")
    report.add_argument("--open", action="store_true", help="open it in a browser")
    command("retrain", "train the current inputs again (annotation modelpipe.io/retrain)")
    pin = command("pin", "serve this trained version and stop automatic promotion")
    pin.add_argument("version", type=_version, metavar="VERSION")
    command("unpin", "resume automatic promotion (clear spec.serving.pinnedVersion)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
