"""The operator's command-line options for followed sources (the chart's ``sources`` values).

--min-poll-interval 10s          a shorter spec pollInterval is raised to this
--max-dataset-bytes 1073741824   a larger spec maxBytes is lowered to this (and the default)
--checks-per-second-per-namespace 1  each namespace's share of checks
--bytes-per-second-per-namespace N   each namespace's share of downloaded bytes
--egress-deny RULE               refuse a CIDR or host name too (repeatable)
--egress-allow RULE              an exception to the refused ones (repeatable)
"""

from __future__ import annotations

import argparse

from modelpipe.api.durations import parse_duration
from modelpipe.sources.egress import EgressPolicy, PolicyError
from modelpipe.sources.limits import DEFAULT_MAX_BYTES, SourceLimits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("followed sources (docs/install.md, Threat model)")
    defaults = SourceLimits()
    group.add_argument("--min-poll-interval", default="10s", metavar="DURATION",
                       help="floor of every pollInterval (default 10s)")  # fmt: skip
    group.add_argument("--max-dataset-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                       help="ceiling (and default) of spec.dataset.maxBytes")  # fmt: skip
    group.add_argument("--checks-per-second-per-namespace", type=float, metavar="F",
                       default=defaults.namespace_checks_per_second,
                       help="source checks per second each namespace may use")  # fmt: skip
    group.add_argument("--bytes-per-second-per-namespace", type=float, metavar="N",
                       default=defaults.namespace_bytes_per_second,
                       help="downloaded bytes per second each namespace may use")  # fmt: skip
    group.add_argument("--egress-deny", action="append", default=[], metavar="CIDR|HOST",
                       help="refuse requests there too (metadata, link-local always)")  # fmt: skip
    group.add_argument("--egress-allow", action="append", default=[], metavar="CIDR|HOST",
                       help="an exception to the refused addresses and names")  # fmt: skip


def source_limits(args: argparse.Namespace) -> SourceLimits:
    """The limits the options describe; ``ValueError`` with a message naming the option."""
    try:
        interval = parse_duration(args.min_poll_interval).total_seconds()
    except ValueError:
        raise ValueError(
            f"--min-poll-interval {args.min_poll_interval!r} is not a duration"
        ) from None
    for option, value in (
        ("--max-dataset-bytes", args.max_dataset_bytes),
        ("--checks-per-second-per-namespace", args.checks_per_second_per_namespace),
        ("--bytes-per-second-per-namespace", args.bytes_per_second_per_namespace),
    ):
        if value <= 0:
            raise ValueError(f"{option} must be positive, not {value}")
    try:
        egress = EgressPolicy.from_rules(deny=args.egress_deny, allow=args.egress_allow)
    except PolicyError as error:
        raise ValueError(f"--egress-deny/--egress-allow: {error}") from None
    return SourceLimits(
        min_interval_seconds=interval,
        max_bytes=args.max_dataset_bytes,
        namespace_checks_per_second=args.checks_per_second_per_namespace,
        namespace_checks_burst=max(1.0, 20 * args.checks_per_second_per_namespace),
        namespace_bytes_per_second=args.bytes_per_second_per_namespace,
        namespace_bytes_burst=max(1.0, 2 * args.bytes_per_second_per_namespace),
        egress=egress,
    )
