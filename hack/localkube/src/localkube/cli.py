"""``localkube``: start, stop and inspect local clusters.

localkube up [--name NAME] [--nodes N]
                                start (or reuse) a cluster (control plane and N real
                                nodes, default 1), print its kubeconfig
localkube down [--name NAME]    stop every process it started
localkube status [--name NAME]
localkube kubeconfig [--name NAME]
localkube build                 build the control-plane binaries (cached)
"""

from __future__ import annotations

import argparse
import sys

from localkube import binaries
from localkube.api import StartupTimeout
from localkube.cluster import START_TIMEOUT, Cluster, ClusterError
from localkube.node.setup import NodeError, node_status

DEFAULT_NAME = "dev"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="localkube", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "kubeconfig", "build"])
    parser.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default: dev)")
    parser.add_argument(
        "--timeout", type=float, default=START_TIMEOUT, help="start-up timeout, seconds"
    )
    parser.add_argument("--nodes", type=int, default=1, help="up: how many real nodes (default: 1)")
    args = parser.parse_args(argv)
    try:
        return _run(args.command, args.name, args.timeout, args.nodes)
    except (ClusterError, NodeError, StartupTimeout, binaries.MissingToolchain) as err:
        print(f"localkube: {err}", file=sys.stderr)
        return 3 if isinstance(err, binaries.MissingToolchain) else 1


def _run(command: str, name: str, timeout: float, nodes: int) -> int:
    if command == "build":
        print(binaries.ensure(log=lambda m: print(m, file=sys.stderr)))
        return 0
    if command == "up":
        cluster = Cluster.up(name, timeout=timeout, nodes=nodes)
        print(cluster.kubeconfig)
        return 0
    cluster = Cluster.at(name)
    if command == "down":
        cluster.down()
        return 0
    if command == "kubeconfig":
        print(cluster.kubeconfig)
        return 0
    if cluster.running():
        print(f"cluster {name!r}: running at {cluster.server}; KUBECONFIG={cluster.kubeconfig}")
        for layout in cluster.node_layouts:
            print(f"{layout.node_name} ({layout.node_ip}, pods {layout.pod_subnet})")
            print(node_status(layout))
        return 0
    print(f"cluster {name!r}: not running")
    return 1


if __name__ == "__main__":
    sys.exit(main())
