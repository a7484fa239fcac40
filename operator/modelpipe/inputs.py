"""Resolve a pipeline's inputs and hash them into a model version.

The hash covers everything that changes the trained model: code (revision, image, git
checkout, code test), data (URI, version, format, evaluation set, schema) and the
model-shaping training settings (estimator, task, seed, split), plus the value of the
``modelpipe.io/retrain`` annotation so a retrain request is a new input. It leaves out
runtime settings (resources, deadlines, service account) and every other annotation or
label, so metadata edits — Argo CD's tracking annotations included — never retrain.

Followed sources (``modelpipe.sources``) are the seam: the gatherer may pass the values
they resolved as :class:`Resolved`. As in the sources' precedence rule, a value pinned
in the spec wins and a followed value fills in where the spec leaves one out.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from modelpipe.api.s3data import VERSION_ID_PREFIX, parse_s3_uri
from modelpipe.api.v1alpha1 import Inputs, ModelPipelineSpec
from modelpipe.layout import model_version


@dataclass(frozen=True)
class Resolved:
    """Input values resolved by followed sources (git branch head, dataset manifest)."""

    code_revision: str | None = None
    dataset_uri: str | None = None
    dataset_version: str | None = None


def resolve(
    *,
    spec: ModelPipelineSpec,
    resolved: Resolved | None,
    retrain_token: str | None,
    previous: Inputs | None,
    now: str,
    schedule_slot: str | None = None,
) -> Inputs:
    """The inputs the desired model trains from; ``observedAt`` only moves when they change."""
    resolved = resolved or Resolved()
    revision = spec.code.revision or resolved.code_revision or ""
    uri = spec.dataset.uri or resolved.dataset_uri or ""
    version = spec.dataset.version or resolved.dataset_version or pinned_version(uri)
    uri = redact(uri)
    digest = input_hash(
        spec=spec, revision=revision, uri=uri, version=version, token=retrain_token,
        schedule_slot=schedule_slot,
    )  # fmt: skip
    observed_at = previous.observed_at if previous and previous.hash == digest else now
    return Inputs(
        code_revision=revision,
        dataset_uri=uri,
        dataset_version=version,
        retrain_token=retrain_token or None,
        hash=digest,
        model_version=model_version(digest),
        observed_at=observed_at,
        schedule_slot=schedule_slot,
    )


def pinned_version(uri: str) -> str:
    """``versionId:<id>`` for ``s3://...?versionId=<id>``: the URI pins the version itself."""
    location = parse_s3_uri(uri)
    return f"{VERSION_ID_PREFIX}{location.version_id}" if location and location.version_id else ""


def input_hash(
    *,
    spec: ModelPipelineSpec,
    revision: str,
    uri: str,
    version: str,
    token: str | None,
    schedule_slot: str | None = None,
) -> str:
    """sha256 over a canonical JSON rendering of the model-shaping inputs."""
    # How often sources are polled, how credentials are found and size limits do not
    # change the model, so they stay out of the hash.
    code = spec.code.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        exclude={"git": {"poll_interval", "credentials_secret"}},
    )
    dataset = spec.dataset.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={"poll_interval", "max_bytes"}
    )
    training = spec.training.model_dump(
        mode="json", by_alias=True, include={"estimator", "task", "seed", "test_split"}
    )
    document: dict[str, Any] = {
        "code": {**code, "revision": revision},
        "dataset": {**dataset, "uri": uri, "version": version},
        "training": training,
        "retrain": token or None,
    }
    if schedule_slot:  # only when scheduled, so unscheduled pipelines keep their hashes
        document["schedule"] = schedule_slot
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_SECRET_PARAM = re.compile(
    r"(token|secret|sig|signature|password|passwd|key|credential|auth)", re.I
)


_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def redact_text(text: str) -> str:
    """Free text (a trainer's or a pod's message) with the user info of any URL removed."""
    return _USERINFO.sub(r"\1", text)


def redact(uri: str) -> str:
    """The URI without credentials: no user info, secret-looking query values masked.

    Status, events and logs show this form; only the training pod gets the real URI.
    It is also what the hash covers, so rotating a token does not retrain.
    """
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode(
        [
            (k, "REDACTED" if _SECRET_PARAM.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def dataset_uri(*, spec: ModelPipelineSpec, resolved: Resolved | None) -> str:
    """The real dataset URI, credentials included, for the training pod only."""
    return spec.dataset.uri or (resolved.dataset_uri if resolved else None) or ""
