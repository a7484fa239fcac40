"""Which Secret may lend credentials to which URL — the opt-in model of Argo CD and Flux.

The operator can read Secrets that a pipeline's author may not. If naming a Secret
in ``spec.code.git.credentialsSecret`` were enough, the author could point the URL
at their own server and receive any Secret of the namespace (a ServiceAccount
token, a database password) as HTTP Basic auth. So a Secret lends its values only
when it says so itself, and only for the URLs it names:

- the label ``modelpipe.io/credentials: "true"`` (an admin opts the Secret in), and
- the annotation ``modelpipe.io/url-prefixes``: URL prefixes, separated by commas
  or whitespace; the pipeline's URL must have the same scheme, host and port as
  one of them, and a path under the prefix's path at a ``/`` boundary
  (``https://git.example.com/ml`` covers ``/ml/model.git``, not ``/ml-evil/...``,
  and never ``https://git.example.com.evil.io``).

Anything else refuses the Secret with the operator's own words (no value of the
Secret, not even its list of prefixes, appears in status). Pure: the gatherer
reads the Secret, this module decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from modelpipe.api.sources import Credentials, ErrorReason, SecretRef, SourceError

CREDENTIALS_LABEL = "modelpipe.io/credentials"
URL_PREFIXES_ANNOTATION = "modelpipe.io/url-prefixes"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class SecretView:
    """The parts of a Secret the decision needs; ``repr`` never shows the values."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Lent:
    """What the named Secret lends to one URL: credentials, or why none (never both)."""

    credentials: Credentials | None = None
    error: SourceError | None = None


def url_prefixes(secret: SecretView) -> list[str]:
    raw = secret.annotations.get(URL_PREFIXES_ANNOTATION, "")
    return [prefix for prefix in _SEPARATORS.split(raw) if prefix]


def url_has_prefix(url: str, prefix: str) -> bool:
    """Same scheme, host and port, and the path at or below the prefix's (whole segments)."""
    try:
        have, want = urlsplit(url), urlsplit(prefix)
        if _origin(have) != _origin(want) or want.query or want.fragment:
            return False
    except ValueError:  # an invalid port
        return False
    base = want.path.rstrip("/")
    return have.path == base or have.path.startswith(base + "/")


def _origin(parts: SplitResult) -> tuple[str, str, int | None] | None:
    if not parts.scheme or not parts.hostname:
        return None
    return (
        parts.scheme.lower(),
        parts.hostname.lower(),
        parts.port or _DEFAULT_PORTS.get(parts.scheme.lower()),
    )


def refusal(ref: SecretRef, secret: SecretView, *, url: str) -> str | None:
    """Why ``secret`` must not lend credentials to ``url``, in the operator's words; else None."""
    if secret.labels.get(CREDENTIALS_LABEL) != "true":
        return (
            f"Secret {ref.name} is not opted in for pipelines: an admin must label it "
            f'{CREDENTIALS_LABEL}="true" and list the URLs it is for in the annotation '
            f"{URL_PREFIXES_ANNOTATION} (docs/install.md, Threat model)"
        )
    if not any(url_has_prefix(url, prefix) for prefix in url_prefixes(secret)):
        return (
            f"Secret {ref.name} is not for this URL: none of the prefixes in its annotation "
            f"{URL_PREFIXES_ANNOTATION} covers {url}"
        )
    return None


def lend(ref: SecretRef | None, secret: SecretView | None, *, url: str, problem: str = "") -> Lent:
    """Decide what a read Secret (``None`` with ``problem``: unreadable or missing) lends."""
    if ref is None:
        return Lent()
    if secret is None:
        return Lent(
            error=SourceError(ErrorReason.AUTH_FAILED, problem or f"Secret {ref} not found")
        )
    refused = refusal(ref, secret, url=url)
    if refused is not None:
        return Lent(error=SourceError(ErrorReason.CREDENTIALS_REFUSED, refused))
    return Lent(credentials=Credentials.from_secret_data(dict(secret.data)))


def lend_url(ref: SecretRef, secret: SecretView | None, *, key: str) -> tuple[str, str | None]:
    """The URL a Secret's ``key`` holds (a webhook's), or why it must not be used.

    The same opt-in as credentials: the label, and a prefix covering the URL. The
    URL is a credential itself, so no message quotes it, nor any value of the Secret.
    """
    if secret is None:
        return "", f"Secret {ref.name} not found"
    url = secret.data.get(key, "").strip()
    if not url:
        return "", f"Secret {ref.name} has no key {key}"
    parts = urlsplit(url) if url.isprintable() else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "", f"key {key} of Secret {ref.name} does not hold an http or https URL"
    if secret.labels.get(CREDENTIALS_LABEL) != "true":
        return "", refusal(ref, secret, url="")  # says how to opt in; quotes nothing
    if not any(url_has_prefix(url, prefix) for prefix in url_prefixes(secret)):
        return "", (
            f"Secret {ref.name} is not for this URL: none of the prefixes in its annotation "
            f"{URL_PREFIXES_ANNOTATION} covers the URL in key {key}"
        )
    return url, None
