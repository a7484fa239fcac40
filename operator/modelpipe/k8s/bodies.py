"""Typed views of the API objects the operator reads: only the fields it uses, parsed once.

:class:`~modelpipe.k8s.calls.KubeApi` parses every object it reads (and kopf's Job
events, ``k8s.jobevents``) into one of these frozen models at the edge, so the gather
code reads attributes, never ``.get`` chains over raw JSON. A field the apiserver left
out (or sent as ``null``) takes its documented default (``replicas`` 1, the rest empty);
a field of the wrong type is an :class:`UnreadableBody` naming the object and the field,
never a ``KeyError`` from deep inside a pass.

Pydantic models rather than hand-written dataclass parsers, measured on the recorded
answers (``tests/operator/recorded``; min of 20 runs, on a busy 2-core machine): the 4
recorded Jobs take ~60 µs as these models (~50 µs without the ``null`` rule below)
against ~20 µs for frozen dataclasses filled by ``.get`` chains; a whole pass's 11
objects ~250 µs, ~1.2x ``json.loads`` of the same answers and ~8% of a gather pass with
no network at all; against a real apiserver a pass spends milliseconds per request, so
the views cost about 1% of it (``make bench``: ``bench_bodies``). For that the models are
declarations a reader can check against the API reference, and a bad field's error
names its location for free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        """The API's ``null`` (a list, a map, a nested object) takes the field's default."""
        if isinstance(data, dict) and None in data.values():  # rare: scan first, copy then
            return {key: value for key, value in data.items() if value is not None}
        return data


class OwnerReference(_Body):
    uid: str = ""
    controller: bool | None = None


class ObjectMeta(_Body):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int = 0
    resource_version: str = Field("", alias="resourceVersion")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: tuple[OwnerReference, ...] = Field((), alias="ownerReferences")
    creation_timestamp: str | None = Field(None, alias="creationTimestamp")
    deletion_timestamp: str | None = Field(None, alias="deletionTimestamp")

    def owned_by(self, uid: str) -> bool:
        return any(ref.uid == uid for ref in self.owner_references)

    def controlled_by(self, uid: str) -> bool:
        """Whether ``uid`` is the controller (an ownerReference with ``controller: true``)."""
        return any(ref.uid == uid and ref.controller is True for ref in self.owner_references)


class Condition(_Body):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = Field(None, alias="lastTransitionTime")


def true_conditions(conditions: tuple[Condition, ...]) -> dict[str, Condition]:
    """The conditions with status ``True``, by type."""
    return {c.type: c for c in conditions if c.status == "True"}


class ObjectBody(_Body):
    """Any object read only for its metadata (a Service, a PVC, a ServiceAccount, an HPA)."""

    metadata: ObjectMeta = ObjectMeta()


# Jobs


class JobSpec(_Body):
    suspend: bool | None = None


class JobStatus(_Body):
    conditions: tuple[Condition, ...] = ()
    start_time: str | None = Field(None, alias="startTime")
    completion_time: str | None = Field(None, alias="completionTime")


class JobBody(_Body):
    metadata: ObjectMeta = ObjectMeta()
    spec: JobSpec = JobSpec()
    status: JobStatus = JobStatus()

    @property
    def finished(self) -> dict[str, Condition]:
        """Its true ``Complete``/``Failed`` conditions, by type (empty while it runs)."""
        ended = true_conditions(self.status.conditions)
        return {kind: c for kind, c in ended.items() if kind in ("Complete", "Failed")}


# Pods


class Terminated(_Body):
    exit_code: int | None = Field(None, alias="exitCode")
    reason: str = ""
    message: str = ""
    signal: int | None = None


class Waiting(_Body):
    reason: str = ""


class ContainerState(_Body):
    waiting: Waiting | None = None
    terminated: Terminated | None = None


class ContainerStatus(_Body):
    name: str = ""
    restart_count: int = Field(0, alias="restartCount")
    state: ContainerState = ContainerState()
    last_state: ContainerState = Field(ContainerState(), alias="lastState")

    @property
    def terminated(self) -> Terminated | None:
        """How it ended: this run, else the last one."""
        return self.state.terminated or self.last_state.terminated


class PodStatus(_Body):
    pod_ip: str | None = Field(None, alias="podIP")
    init_container_statuses: tuple[ContainerStatus, ...] = Field((), alias="initContainerStatuses")
    container_statuses: tuple[ContainerStatus, ...] = Field((), alias="containerStatuses")


class PodBody(_Body):
    metadata: ObjectMeta = ObjectMeta()
    status: PodStatus = PodStatus()


def container(statuses: tuple[ContainerStatus, ...], name: str) -> ContainerStatus | None:
    return next((status for status in statuses if status.name == name), None)


# Deployments


class LabelSelector(_Body):
    match_labels: dict[str, str] = Field({}, alias="matchLabels")


class Named(_Body):
    name: str = ""


class PodSpec(_Body):
    containers: tuple[Named, ...] = ()
    node_selector: dict[str, str] = Field({}, alias="nodeSelector")


class PodTemplate(_Body):
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()


class DeploymentSpec(_Body):
    # The apiserver defaults replicas to 1; absent only in a body that was never stored.
    replicas: int = 1
    selector: LabelSelector = LabelSelector()
    template: PodTemplate = PodTemplate()
    progress_deadline_seconds: int = Field(600, alias="progressDeadlineSeconds")


class DeploymentStatus(_Body):
    observed_generation: int = Field(0, alias="observedGeneration")
    replicas: int = 0
    updated_replicas: int = Field(0, alias="updatedReplicas")
    ready_replicas: int = Field(0, alias="readyReplicas")
    available_replicas: int = Field(0, alias="availableReplicas")
    conditions: tuple[Condition, ...] = ()


class DeploymentBody(_Body):
    metadata: ObjectMeta = ObjectMeta()
    spec: DeploymentSpec = DeploymentSpec()
    status: DeploymentStatus = DeploymentStatus()


# Kueue


class LocalQueueSpec(_Body):
    cluster_queue: str = Field("", alias="clusterQueue")


class LocalQueueStatus(_Body):
    pending_workloads: int = Field(0, alias="pendingWorkloads")


class LocalQueueBody(_Body):
    metadata: ObjectMeta = ObjectMeta()
    spec: LocalQueueSpec = LocalQueueSpec()
    status: LocalQueueStatus = LocalQueueStatus()


# Parsing

B = TypeVar("B", bound=_Body)


class UnreadableBody(ValueError):
    """An object the apiserver answered with a field of the wrong type."""


def parse(model: type[B], body: Mapping[str, Any]) -> B:
    """``body`` as ``model``; :class:`UnreadableBody` names the object and its first bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(the object)"
        meta = body.get("metadata") if isinstance(body, Mapping) else None
        name = meta.get("name", "?") if isinstance(meta, Mapping) else "?"
        kind = model.__name__.removesuffix("Body")
        raise UnreadableBody(
            f"{kind} {name} is unreadable: {where}: {first['msg']}"
            + (f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else "")
        ) from None


def parse_all(model: type[B], bodies: list[Any]) -> list[B]:
    return [parse(model, body) for body in bodies]
