"""Which ServiceAccount a pipeline's pods may run as: the opt-in model of credentials.py.

The pods of a pipeline run an image its author chose (``spec.code.image``,
``spec.serving.template.image``). If naming a ServiceAccount in
``spec.training.serviceAccountName`` or ``spec.serving.template.serviceAccountName``
were enough, an author with no pod rights could run their own code as any
ServiceAccount of the namespace (a CI robot's, with its token, its image pull
Secrets and any cloud identity bound to it). So a ServiceAccount lends itself only
when it says so::

    metadata:
      annotations:
        modelpipe.io/pipelines: "iris, churn"     # or "*" for every pipeline

Names are separated by commas or whitespace. A named ServiceAccount without the
pipeline's name (or ``*``) is refused with the annotation to add; nothing of the
ServiceAccount appears in the message. A missing one is not refused here: training
reports it (ServiceAccountNotFound), the API server refuses serving pods. Pure: the
gatherer reads the ServiceAccounts, this module decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PIPELINES_ANNOTATION = "modelpipe.io/pipelines"
TRAINING_ACCOUNT = "spec.training.serviceAccountName"
SERVING_ACCOUNT = "spec.serving.template.serviceAccountName"
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class AccountUse:
    """One place of the spec that names a ServiceAccount, and that account as read.

    ``annotations`` is ``None`` when the ServiceAccount was not found.
    """

    field: str  # TRAINING_ACCOUNT or SERVING_ACCOUNT
    name: str
    annotations: Mapping[str, str] | None

    @property
    def training(self) -> bool:
        return self.field == TRAINING_ACCOUNT


def opted_in(annotations: Mapping[str, str], *, pipeline: str) -> bool:
    """The annotation lists ``pipeline`` (or ``*``) as a whole name."""
    names = _SEPARATORS.split(annotations.get(PIPELINES_ANNOTATION, ""))
    return "*" in names or pipeline in names


def refusal(uses: tuple[AccountUse, ...], *, pipeline: str) -> str | None:
    """Why the pipeline's pods must not run as the ServiceAccounts it names; else None."""
    refused = [
        use
        for use in uses
        if use.annotations is not None and not opted_in(use.annotations, pipeline=pipeline)
    ]
    if not refused:
        return None
    first = refused[0]
    names = ", ".join(f"{use.name} ({use.field})" for use in refused)
    return (
        f"ServiceAccount {names} has not opted in for this pipeline: an admin must annotate it "
        f"with {PIPELINES_ANNOTATION}={pipeline} (or *), e.g. kubectl annotate serviceaccount "
        f"{first.name} {PIPELINES_ANNOTATION}={pipeline} (docs/install.md, Threat model)"
    )
