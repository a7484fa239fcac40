"""Links between the nodes of a cluster with more than one node.

Each pair of nodes gets a veth pair whose ends live in the two nodes' network
namespaces (created inside them: the host's namespace never holds either end).
In node i the end towards node j is ``lk<j>``; it has no address of its own. Node
i routes node j's address (a /32, from its own address) and node j's pod subnet
(via node j) over it, and forwards between its bridge and its links. Nothing
routes, NATs or masquerades out of the cluster's namespaces: the nodes reach each
other and each other's pods, and nothing else.

``plan`` is pure (the commands per namespace); ``link`` runs them. The links go
with the namespaces: deleting either end's namespace deletes a veth pair.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from localkube.node.config import NodeLayout


def link_name(peer: NodeLayout) -> str:
    """The interface, in a node's namespace, that leads to ``peer``."""
    return f"lk{peer.index}"


def plan(layouts: Sequence[NodeLayout]) -> list[tuple[str, list[str]]]:
    """(network namespace, command) pairs that link every node to every other."""
    steps = [(node.netns, "sysctl -q -w net.ipv4.ip_forward=1") for node in layouts]
    for i, a in enumerate(layouts):
        for b in layouts[i + 1 :]:
            # Made in a's namespace; the peer end is moved straight into b's.
            cmd = f"ip link add {link_name(b)} type veth peer name {link_name(a)} netns {b.netns}"
            steps.append((a.netns, cmd))
    for node in layouts:
        for peer in (p for p in layouts if p.index != node.index):
            dev, src, via = link_name(peer), node.node_ip, peer.node_ip
            steps += [
                (node.netns, f"ip link set {dev} up"),
                (node.netns, f"ip route add {via}/32 dev {dev} scope link src {src}"),
                (node.netns, f"ip route add {peer.pod_subnet} via {via} dev {dev} src {src}"),
            ]
    return [(netns, cmd.split()) for netns, cmd in steps]


class LinkError(RuntimeError):
    """The nodes could not be linked; the message names the failing command."""


def link(layouts: Sequence[NodeLayout]) -> None:
    for netns, argv in plan(layouts):
        proc = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True)
        if proc.returncode != 0:
            raise LinkError(f"in {netns}: {' '.join(argv)} failed: {proc.stderr.strip()}")
