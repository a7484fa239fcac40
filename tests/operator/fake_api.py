"""Fakes for the reconciler: an in-memory API server behind the real KubeApi (objects by
path, every write counted), a settable clock and timers that fire only when told.

Enough of the apiserver for the reconciler's own reads and writes: GET, list (every
object under a collection; selectors are not applied), POST with 409 AlreadyExists,
JSON merge patches, DELETE; and failures injected per verb and path.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from modelpipe.api.v1alpha1 import GROUP, PLURAL, VERSION
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON, ApiError

PIPELINES = f"/apis/{GROUP}/{VERSION}/namespaces/ml/{PLURAL}"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Killed(Exception):
    """The operator died here (an injected failure)."""


class FakeRest:
    def __init__(self) -> None:
        self.objects: dict[str, JSON] = {}
        self.writes: Counter[tuple[str, str]] = Counter()
        # (method, collection) -> the error raised on such a write, once or always.
        self.refuse: dict[tuple[str, str], ApiError] = {}
        self.kill_once: set[tuple[str, str]] = set()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON | None:
        if method == "GET":
            found = self.objects.get(path)
            return copy.deepcopy(found) if found is not None else None
        collection = path if method == "POST" else path.rsplit("/", 1)[0]
        kind = collection.rsplit("/", 1)[-1] if method != "PATCH" else path.rsplit("/", 1)[-1]
        if path.endswith("/status"):
            kind = "status"
        self.writes[(method, kind)] += 1
        if (method, kind) in self.kill_once:
            self.kill_once.discard((method, kind))
            raise Killed(f"{method} {path}")
        if (method, kind) in self.refuse:
            raise self.refuse[(method, kind)]
        if method == "POST":
            full = f"{path}/{body['metadata']['name']}"
            if full in self.objects:
                raise ApiError(409, "AlreadyExists", f"{full} already exists")
            created = copy.deepcopy(body)
            created["metadata"].setdefault("uid", f"uid-of-{full}")  # the server assigns one
            self.objects[full] = created
            return dict(copy.deepcopy(created))
        if method == "PATCH":
            target = path.removesuffix("/status")
            self.objects[target] = merge(self.objects.get(target, {}), body)
            return copy.deepcopy(self.objects[target])
        self.objects.pop(path, None)  # DELETE
        return {}

    def list_items(self, path: str, *, selector: str) -> list[JSON]:
        depth = path.count("/") + 1
        return [
            copy.deepcopy(obj)
            for key, obj in self.objects.items()
            if key.startswith(f"{path}/") and key.count("/") == depth
        ]

    def under(self, collection: str) -> list[JSON]:
        return self.list_items(collection, selector="")


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def cluster_with(spec: JSON, *, generation: int = 1) -> tuple[FakeRest, KubeApi]:
    """A namespace ``ml`` with the artifacts claim and the pipeline ``iris``."""
    rest = FakeRest()
    rest.objects["/api/v1/namespaces/ml/persistentvolumeclaims/models"] = {
        "metadata": {"name": "models"}
    }
    rest.objects[f"{PIPELINES}/iris"] = {
        "metadata": {"name": "iris", "namespace": "ml", "uid": "uid-1", "generation": generation},
        "spec": spec,
    }
    return rest, KubeApi(rest)  # type: ignore[arg-type]


class FakeClock:
    """The operator's Clock (``planning.clock``) at ``time``, which the test sets."""

    def __init__(self, time: datetime = T0) -> None:
        self.time = self._start = time

    def now(self) -> datetime:
        return self.time

    def monotonic(self) -> float:
        return (self.time - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.time += timedelta(seconds=seconds)


class FakeTimer:
    """Records what was scheduled; fires only when the test says so."""

    made: list[FakeTimer] = []

    def __init__(self, delay: float, function: Any, args: tuple[Any, ...]) -> None:
        self.delay, self.function, self.args = delay, function, args
        self.started = self.cancelled = self.fired = False
        self.daemon = False
        FakeTimer.made.append(self)

    def start(self) -> None:
        self.started = True

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        assert self.started and not self.cancelled
        self.fired = True
        self.function(*self.args)
