"""The vocabulary shared by every followed source: what is followed, with what, and what came back.

A *source key* names one thing on the outside world that pipelines can follow
(a git ref, a dataset URL, a manifest). Pipelines whose keys are equal share one
poller, so the key holds everything that changes the answer — including which
Secret the credentials come from — and nothing that does not.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

# Git hosts that accept a token as the basic-auth password ignore the user name; the
# poller (sources.gitref) and the training Job's clone (manifests.gitclone) send this one.
TOKEN_USERNAME = "x-access-token"  # noqa: S105 (a user name, not a secret)


class SourceKind(StrEnum):
    GIT = "git"
    HTTP = "http"
    MANIFEST = "manifest"
    S3 = "s3"
    PVC = "pvc"  # checked by a Job (modelpipe.manifests.pvcdata), never by the shared pollers


class ErrorReason(StrEnum):
    """Why a check failed; the wording follows Kubernetes condition reasons (CamelCase)."""

    REF_NOT_FOUND = "RefNotFound"
    NOT_FOUND = "NotFound"
    AUTH_FAILED = "AuthenticationFailed"
    CREDENTIALS_REFUSED = "CredentialsRefused"
    DESTINATION_REFUSED = "DestinationRefused"
    UNREACHABLE = "Unreachable"
    TIMEOUT = "Timeout"
    SERVER_ERROR = "ServerError"
    RATE_LIMITED = "RateLimited"
    NOT_DATA = "NotData"
    TOO_LARGE = "TooLarge"
    INVALID_MANIFEST = "InvalidManifest"
    INVALID_SOURCE = "InvalidSource"


# Failures that a retry cannot fix without a change somewhere else. They are still
# retried (someone may create the ref or fix the Secret), but they are reported as
# the user's problem rather than a transient outage.
PERMANENT_REASONS = frozenset(
    {
        ErrorReason.REF_NOT_FOUND,
        ErrorReason.NOT_FOUND,
        ErrorReason.AUTH_FAILED,
        ErrorReason.CREDENTIALS_REFUSED,
        ErrorReason.DESTINATION_REFUSED,
        ErrorReason.NOT_DATA,
        ErrorReason.TOO_LARGE,
        ErrorReason.INVALID_MANIFEST,
        ErrorReason.INVALID_SOURCE,
    }
)


@dataclass(frozen=True)
class SecretRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class SourceKey:
    """Identity of one followed source; equal keys share one poller and one request."""

    kind: SourceKind
    url: str
    ref: str = ""
    secret: SecretRef | None = None
    max_bytes: int = 0

    def describe(self) -> str:
        """A log- and status-safe description (the URL never carries credentials)."""
        where = f"{self.url}@{self.ref}" if self.ref else self.url
        return f"{self.kind.value} {where}"


@dataclass(frozen=True)
class AwsKeys:
    """An object store's keys and where it is, from a Secret's ``AWS_*`` entries.

    The names are the AWS SDKs' environment variables, so the fetching container
    can take the Secret as its environment. ``AWS_S3_ADDRESSING_STYLE`` is ours:
    ``path`` (the default with an ``AWS_ENDPOINT_URL``) or ``virtual``.
    """

    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    endpoint_url: str = ""
    region: str = ""
    path_style: bool = False

    @classmethod
    def from_secret_data(cls, data: dict[str, str]) -> AwsKeys | None:
        if not any(name.startswith("AWS_") for name in data):
            return None
        endpoint = data.get("AWS_ENDPOINT_URL", "").strip()
        style = data.get("AWS_S3_ADDRESSING_STYLE", "path" if endpoint else "virtual")
        return cls(
            access_key_id=data.get("AWS_ACCESS_KEY_ID", ""),
            secret_access_key=data.get("AWS_SECRET_ACCESS_KEY", ""),
            session_token=data.get("AWS_SESSION_TOKEN", ""),
            endpoint_url=endpoint,
            region=data.get("AWS_REGION", data.get("AWS_DEFAULT_REGION", "")).strip(),
            path_style=style.strip().lower() == "path",
        )


@dataclass(frozen=True)
class Credentials:
    """Values read from a Secret. ``repr`` never shows them, so they cannot leak into logs."""

    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    aws: AwsKeys | None = None

    @classmethod
    def from_secret_data(cls, data: dict[str, str]) -> Credentials:
        """Build from decoded Secret data (``username``/``password``, ``token``, ``AWS_*``)."""
        return cls(
            username=data.get("username", ""),
            password=data.get("password", ""),
            token=data.get("token", ""),
            aws=AwsKeys.from_secret_data(data),
        )

    def basic_authorization(self, *, token_username: str) -> str:
        """An ``Authorization: Basic`` value; a token is sent as the password (git hosts)."""
        user = self.username or (token_username if self.token else "")
        secret = self.token or self.password
        raw = f"{user}:{secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def http_authorization(self) -> str:
        """``Bearer`` for a token, else ``Basic`` (plain HTTP data servers)."""
        if self.token:
            return f"Bearer {self.token}"
        return self.basic_authorization(token_username="")

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.token or self.aws)


@dataclass(frozen=True)
class SourceError:
    reason: ErrorReason
    message: str

    @property
    def permanent(self) -> bool:
        return self.reason in PERMANENT_REASONS


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered from the last full response."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Observation:
    """The outcome of one check: a value, or an error, plus what the next check can reuse."""

    value: str | None = None
    error: SourceError | None = None
    validators: Validators = Validators()
    not_modified: bool = False
    retry_after_seconds: float | None = None

    @classmethod
    def failed(
        cls, reason: ErrorReason, message: str, *, retry_after_seconds: float | None = None
    ) -> Observation:
        return cls(error=SourceError(reason, message), retry_after_seconds=retry_after_seconds)


def check_url(url: str, *, schemes: frozenset[str]) -> str | None:
    """Return a user-facing problem with ``url``, or None when it is acceptable.

    Credentials in the URL are refused rather than redacted: they would end up in
    the spec, in status and in process listings. They belong in a Secret. A bare
    user name is no credential where it names the account to log in as
    (``ssh://git@host/...``); anywhere else it is refused like a password.
    """
    if not url or url.startswith("-"):
        return f"URL {url!r} is empty or starts with '-'"
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        return f"URL scheme {parts.scheme or '(none)'!r} is not supported; use one of: {allowed}"
    if parts.password is not None or (parts.username is not None and parts.scheme != "ssh"):
        return "URL must not contain credentials; put them in a Secret (credentialsSecret)"
    if not parts.hostname and parts.scheme != "file":
        return f"URL {url!r} has no host"
    return None
