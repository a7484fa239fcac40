"""``modelpipe-operator``: run the ModelPipeline operator.

    modelpipe-operator run --namespace ml [--namespace ...] | --all-namespaces
                           [--standalone | --peering NAME] [--liveness URL]
                           [--metrics-port N] [--log-format json|plain]
                           [--max-training-jobs N] [--max-training-jobs-per-namespace N]

Replicas: with ``--standalone`` (the default) run exactly one replica with the
Recreate strategy. With ``--peering NAME`` (needs crds/kopf-peering.yaml) several
replicas may run; kopf peering keeps all but the highest-priority one paused.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
from pathlib import Path

import kopf
from prometheus_client import start_http_server

from modelpipe.api.config import OperatorConfig
from modelpipe.k8s.leader import LeaderElector, standby_health
from modelpipe.k8s.rest import Rest, connect, use_kubeconfig
from modelpipe.planning.queue import LimitError, Limits
from modelpipe.sources import options as sources

_FORMATS = {"json": kopf.LogFormat.JSON, "plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="modelpipe-operator", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator until interrupted")
    scope = run.add_mutually_exclusive_group(required=True)
    scope.add_argument("-n", "--namespace", action="append", help="namespace to serve (repeatable)")
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="serve the whole cluster"
    )
    peering = run.add_mutually_exclusive_group()
    peering.add_argument(
        "--standalone", action="store_true", help="no peering: one replica (default)"
    )
    peering.add_argument(
        "--peering", metavar="NAME", help="kopf peering object for several replicas"
    )
    peering.add_argument(
        "--leader-election", metavar="LEASE",
        help="hold the Lease LEASE to act; a standby waits for it (several replicas)",
    )  # fmt: skip
    run.add_argument("--leader-election-namespace", metavar="NS",
                     help="namespace of the Lease (default $POD_NAMESPACE)")  # fmt: skip
    run.add_argument("--liveness", metavar="URL", help="e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--metrics-port", type=int, metavar="N", help="serve Prometheus metrics on N")
    run.add_argument("--metrics-address", default="0.0.0.0", help="bind address for metrics")  # noqa: S104
    run.add_argument("--log-format", choices=sorted(_FORMATS), default="plain")
    run.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file; default $KUBECONFIG or in-cluster"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    queue = run.add_argument_group("training queue (docs/operator.md, Training queue)")
    queue.add_argument("--max-training-jobs", type=int, metavar="N",
                       help="training Jobs running at once in the operator's scope")  # fmt: skip
    queue.add_argument("--max-training-jobs-per-namespace", type=int, metavar="N",
                       help="training Jobs running at once in one namespace")  # fmt: skip
    sources.add_arguments(run)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        limits = sources.source_limits(args)
        training = Limits(
            cluster=args.max_training_jobs, per_namespace=args.max_training_jobs_per_namespace
        )
        # The chart's settings (images, PriorityClasses, deadlines), read here and nowhere else.
        config = OperatorConfig.from_environment(os.environ)
    except (ValueError, LimitError) as error:
        print(f"modelpipe-operator: {error}", file=sys.stderr)
        return 2
    if args.kubeconfig is not None:
        if not args.kubeconfig.is_file():
            print(
                f"modelpipe-operator: kubeconfig {args.kubeconfig} does not exist", file=sys.stderr
            )
            return 2
        use_kubeconfig(args.kubeconfig)
    kopf.configure(verbose=args.verbose, log_format=_FORMATS[args.log_format])
    logging.getLogger("modelpipe").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if args.metrics_port is not None:
        start_http_server(args.metrics_port, addr=args.metrics_address)
    import modelpipe.handlers  # noqa: F401  (registers the handlers)

    _announce_scope(args.all_namespaces, args.namespace or [])
    if args.leader_election:
        _lead(args)

    kopf.run(
        clusterwide=args.all_namespaces,
        namespaces=args.namespace or (),
        standalone=args.peering is None,  # with --leader-election the Lease decides
        peering_name=args.peering,
        liveness_endpoint=args.liveness,
        memo=kopf.Memo(
            source_limits=limits,
            training_limits=training,
            namespaces=None if args.all_namespaces else tuple(args.namespace),
            config=config,
        ),
    )
    return 0


def _lead(args: argparse.Namespace) -> None:
    """Wait as a standby until this replica holds the Lease; exit at once if it is lost.

    A standby answers the liveness URL itself (200 "standby"), so kubelet neither restarts
    it nor counts it unready (the PodDisruptionBudget needs it Ready); kopf takes the port
    over once this replica leads.
    """
    namespace = args.leader_election_namespace or os.environ.get("POD_NAMESPACE", "default")
    identity = os.environ.get("POD_NAME") or f"{platform.node()}-{os.getpid()}"
    elector = LeaderElector(
        Rest(connect()), namespace=namespace, name=args.leader_election, identity=identity
    )
    with standby_health(args.liveness):
        elector.acquire()
    elector.keep(on_lost=lambda: os._exit(3))


def _announce_scope(clusterwide: bool, namespaces: list[str]) -> None:
    """Say up front which pipelines are served: one in another namespace is ignored."""
    log = logging.getLogger("modelpipe")
    if clusterwide:
        log.info("Watching ModelPipelines in all namespaces")
    else:
        log.info(
            "Watching ModelPipelines only in namespaces: %s; pipelines elsewhere are ignored "
            "(no status, no events)",
            ", ".join(namespaces),
        )


if __name__ == "__main__":
    sys.exit(main())
