"""``spec.notify`` and ``status.notifications``: webhooks told about a pipeline's turns.

A webhook URL is a credential (Slack's carries its token in the path), so the spec names
a Secret and a key, never the URL: a ``url`` written in the spec is refused at admission
with a message saying where it goes instead. The Secret opts in like every Secret the
operator reads for a pipeline (docs/install.md, Threat model).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from modelpipe.api.v1alpha1._base import (
    OBJECT_NAME_PATTERN,
    SpecModel,
    StatusModel,
    cel,
    validations,
)

PLAIN_URL = (
    "a webhook URL is a secret: put it in a Secret in the pipeline's namespace and name it "
    "in urlSecretRef (name, key); the Secret must opt in (label modelpipe.io/credentials, "
    "annotation modelpipe.io/url-prefixes covering the URL)"
)
# Keys of a Secret's data (Kubernetes' own rule for them).
DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
WEBHOOK_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_WEBHOOKS = 3
# status.notifications keeps this many deliveries, newest first.
NOTIFICATIONS_KEPT = 20


class NotifyEvent(StrEnum):
    """What a webhook is told about: the run verdicts and event reasons of the same names."""

    PROMOTED = "Promoted"
    GATE_FAILED = "GateFailed"
    VALIDATION_FAILED = "ValidationFailed"
    ROLLED_BACK = "RolledBack"
    # SourcesReady turned False (the Event of the same reason says which source).
    SOURCE_FAILED = "SourceFailed"


class WebhookFormat(StrEnum):
    JSON = "JSON"
    SLACK = "Slack"


class SecretKeyRef(SpecModel):
    """A key of a Secret in the pipeline's namespace."""

    name: str = Field(
        min_length=1, max_length=253, pattern=OBJECT_NAME_PATTERN, description="Secret name."
    )
    key: str = Field(
        min_length=1, max_length=253, pattern=DATA_KEY_PATTERN, description="Key in its data."
    )


class Webhook(SpecModel):
    """One receiver: where (a Secret's key holds the URL), in which body, about what."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=WEBHOOK_NAME_PATTERN,
        description="Names the webhook in status.notifications and the Notified condition.",
    )
    url_secret_ref: SecretKeyRef = Field(
        description="The Secret key holding the URL (http or https). The Secret must carry "
        'the label modelpipe.io/credentials: "true" and the annotation '
        "modelpipe.io/url-prefixes with a prefix covering the URL."
    )
    format: WebhookFormat = Field(
        default=WebhookFormat.JSON,
        description="JSON (the generic body, see docs/operator.md) or Slack (an incoming "
        "webhook's {text: ...}).",
    )
    events: list[NotifyEvent] | None = Field(
        default=None,
        max_length=len(NotifyEvent),
        description="What to send: Promoted, GateFailed, ValidationFailed, RolledBack, "
        "SourceFailed; all of them when unset.",
    )
    url: str | None = Field(
        default=None,
        max_length=512,  # any length is refused; this bounds the spec's worst-case size
        description="Refused: the URL goes in a Secret (urlSecretRef).",
    )

    model_config = ConfigDict(json_schema_extra=validations(cel("!has(self.url)", PLAIN_URL)))

    @model_validator(mode="after")
    def _no_plain_url(self) -> Self:
        if self.url is not None:
            raise ValueError(PLAIN_URL)
        return self

    def wants(self, event: NotifyEvent) -> bool:
        return self.events is None or event in self.events


class NotifySpec(SpecModel):
    """Webhooks told when a model is promoted or rolled back, fails, or a source fails."""

    webhooks: list[Webhook] = Field(
        min_length=1,
        max_length=MAX_WEBHOOKS,
        description="Receivers, each named once.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )

    @model_validator(mode="after")
    def _names_once(self) -> Self:
        names = [w.name for w in self.webhooks]
        if len(set(names)) != len(names):
            raise ValueError("each webhook name may appear once in notify.webhooks")
        return self


DeliveryState = Literal["Pending", "Delivered", "Failed"]


class Notification(StatusModel):
    """One event occurrence for one webhook, and how its delivery went."""

    id: str = Field(max_length=256, description="The occurrence: event, version and time.")
    webhook: str = Field(max_length=63, description="spec.notify.webhooks[].name.")
    event: NotifyEvent = Field(description="What happened.")
    model_version: str | None = Field(default=None, description="The run's model version.")
    message: str = Field(default="", max_length=1024, description="What happened, in words.")
    occurred_at: str = Field(description="When the operator saw it (RFC 3339).")
    state: DeliveryState = Field(description="Pending, Delivered or Failed (gave up).")
    attempts: int = Field(default=0, description="Sends tried.")
    result: str = Field(
        default="",
        max_length=256,
        description="The last send's outcome in the operator's words (e.g. HTTP 500); never "
        "the URL or the receiver's answer.",
    )
    finished_at: str | None = Field(default=None, description="When it was delivered or given up.")
