"""Where the operator may send a request on a pipeline author's behalf — pure.

The operator checks followed URLs from inside the cluster, with the network
reach of its pod. Without a policy a pipeline could make it fetch the cloud's
instance metadata (credentials of the node's role) or poke at internal services
(server-side request forgery). The policy is checked twice:

- on the *name*, before anything is resolved (``metadata.google.internal``), and
- on every *address actually connected to*, for every connection including
  each redirect hop (``modelpipe.sources.egress_guard``), so DNS rebinding or a
  redirect to ``169.254.169.254`` is refused too.

Refused by default: link-local addresses (169.254.0.0/16, fe80::/10, which hold
AWS, GCP, Azure and OpenStack metadata), the metadata addresses outside them
(100.100.100.200, fd00:ec2::254), "this network" 0.0.0.0/8 and ``::``, the
metadata host names, and the API server's in-cluster names. The platform adds
CIDRs and host names to refuse (e.g. its Service and Pod ranges) and makes
exceptions (``allowed*``: an allowed CIDR wins over a denied one; an allowed host
name skips the name check, never the address check). A host rule that starts
with a dot (``.internal``) covers every name under it. Loopback is not refused by
default: the local test cluster's pods live on 127.0.0.0/8.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_DENIED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "169.254.0.0/16",  # link-local: 169.254.169.254 (AWS, GCP, Azure, OpenStack), ECS
        "fe80::/10",  # link-local (IPv6)
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the host's own services
        "::/128",
    )
)
DEFAULT_DENIED_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    }
)
# Digits, dots and 0x: forms like 2852039166 or 0xa9.0xfe.0xa9.0xfe that resolvers
# read as an IP address although ip_address() does not. Refused outright.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*$")


class PolicyError(ValueError):
    """A rule given to the operator (flag or chart value) is neither a CIDR nor a host name."""


def normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return address


def is_address(host: str) -> bool:
    """``host`` is an IP address literal (brackets and a zone allowed), not a name."""
    return _address(normal_host(host)) is not None


@dataclass(frozen=True)
class EgressPolicy:
    denied_networks: tuple[IPNetwork, ...] = DEFAULT_DENIED_NETWORKS
    denied_hosts: frozenset[str] = DEFAULT_DENIED_HOSTS
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_rules(cls, *, deny: Iterable[str] = (), allow: Iterable[str] = ()) -> EgressPolicy:
        """The defaults plus rules, each a CIDR (``10.96.0.0/12``), an address or a host name."""
        denied_networks, denied_hosts = _split(deny)
        allowed_networks, allowed_hosts = _split(allow)
        return cls(
            denied_networks=DEFAULT_DENIED_NETWORKS + denied_networks,
            denied_hosts=DEFAULT_DENIED_HOSTS | denied_hosts,
            allowed_networks=allowed_networks,
            allowed_hosts=allowed_hosts,
        )

    def check_host(self, host: str) -> str | None:
        """A refusal for the URL's host name (or literal address), before any lookup."""
        name = normal_host(host)
        if not name:
            return "the URL has no host"
        if _address(name) is not None:
            return self.check_address(name, host=name)
        if _listed(name, self.allowed_hosts):
            return None
        if _listed(name, self.denied_hosts):
            return f"host {name} is refused by the operator's egress policy (metadata or internal)"
        if _NUMERIC_HOST.match(name):
            return f"host {name} is neither a DNS name nor a plain IP address; refused"
        return None

    def check_address(self, address: str, *, host: str) -> str | None:
        """A refusal for one address ``host`` resolved to (or is), else None."""
        parsed = _address(normal_host(address))
        if parsed is None:
            return f"host {normal_host(host)} resolved to something that is not an address"
        if any(parsed in network for network in self.allowed_networks):
            return None
        if any(parsed in network for network in self.denied_networks):
            via = "" if normal_host(host) == str(parsed) else f"{normal_host(host)} resolves to "
            return (
                f"{via}{parsed}, an address the operator's egress policy refuses "
                "(link-local, metadata or a denied range)"
            )
        return None


def _listed(name: str, hosts: frozenset[str]) -> bool:
    """``name`` is one of ``hosts``, or under one that starts with a dot (``.internal``)."""
    return name in hosts or any(h.startswith(".") and name.endswith(h) for h in hosts)


def _split(rules: Iterable[str]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for raw in rules:
        rule = normal_host(raw)
        if not rule:
            continue
        if "/" in rule or _address(rule) is not None:
            try:
                networks.append(ipaddress.ip_network(rule, strict=False))
            except ValueError as error:
                raise PolicyError(f"{raw!r} is not a CIDR: {error}") from None
        elif re.fullmatch(r"\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?", rule):
            hosts.add(rule)
        else:
            raise PolicyError(f"{raw!r} is neither a CIDR nor a host name")
    return tuple(networks), frozenset(hosts)
