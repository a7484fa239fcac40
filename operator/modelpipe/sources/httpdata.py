"""Resolve an HTTP(S) dataset to a version: ETag, else Last-Modified, else a content hash.

One GET per check, conditional (``If-None-Match`` / ``If-Modified-Since``) once
the server has shown a validator, so a steady state costs a 304 and no body.
The body is never written anywhere: it is hashed while it streams, and the
stream is cut as soon as it passes the size limit. A ``Content-Length`` over the
limit is refused before a byte of the body is read.

Every page of a login wall or an error page is "data" to a naive poller; we
refuse HTML by its media type and by sniffing the first bytes, so a captive
portal never triggers a retrain.

Nothing the server sends is repeated verbatim: the server is the pipeline
author's choice, and status, events and logs are read by others. A version made
from an ETag or an unparseable Last-Modified carries a hash of it; errors name
status codes, sizes and the operator's own words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from modelpipe.api.sources import (
    Credentials,
    ErrorReason,
    Observation,
    SourceError,
    Validators,
    check_url,
)
from modelpipe.planning.clock import rfc3339
from modelpipe.sources.check import Check
from modelpipe.sources.egress_guard import refusal_of

HTTP_SCHEMES = frozenset({"http", "https"})
SNIFF_BYTES = 512
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# The WHATWG "MIME sniffing" HTML signatures, each followed by a space or '>'.
_HTML_SIGNATURES = (
    b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div",
    b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p", b"<!--",
)  # fmt: skip


def request_headers(
    *, validators: Validators | None, credentials: Credentials | None
) -> dict[str, str]:
    # identity: the ETag and the hash must describe the bytes the trainer will read.
    headers = {"Accept-Encoding": "identity", "User-Agent": "modelpipe-operator"}
    if validators is not None and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators is not None and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    if credentials is not None and not credentials.empty:
        headers["Authorization"] = credentials.http_authorization()
    return headers


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def classify_status(status: int, *, retry_after: float | None) -> SourceError | None:
    """Map a final (post-redirect) status code to an error, or None for 200/304."""
    if status in (200, 304):
        return None
    if status in (401, 403):
        return SourceError(
            ErrorReason.AUTH_FAILED, f"server answered {status}; check credentialsSecret"
        )
    if status in (404, 410):
        return SourceError(ErrorReason.NOT_FOUND, f"server answered {status}: no such file")
    if status == 429:
        wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        return SourceError(ErrorReason.RATE_LIMITED, f"server answered 429 Too Many Requests{wait}")
    if status >= 500:
        return SourceError(ErrorReason.SERVER_ERROR, f"server answered {status}")
    return SourceError(ErrorReason.SERVER_ERROR, f"unexpected HTTP status {status}")


def is_html_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in _HTML_TYPES


def looks_like_html(prefix: bytes) -> bool:
    head = prefix.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\f").lower()
    for signature in _HTML_SIGNATURES:
        after = head[len(signature) : len(signature) + 1]
        if head.startswith(signature) and after in (b" ", b">"):
            return True
    return False


def validators_from(headers: Mapping[str, str]) -> Validators:
    return Validators(etag=headers.get("etag"), last_modified=headers.get("last-modified"))


def version_from_validators(validators: Validators) -> str | None:
    """A version string that says where it came from, so lineage is self-explanatory.

    An ETag is the server's text; the version carries its hash (``etag:sha256:...``).
    """
    if validators.etag:
        return f"etag:{short_hash(validators.etag)}"
    if validators.last_modified:
        try:
            when = parsedate_to_datetime(validators.last_modified)
        except (TypeError, ValueError):
            return f"last-modified:{short_hash(validators.last_modified)}"
        return f"last-modified:{rfc3339(when)}"
    return None


def short_hash(text: str) -> str:
    """``sha256:<16 hex>`` of a server-given string: comparable, never echoing it."""
    return "sha256:" + hashlib.sha256(text.encode(errors="replace")).hexdigest()[:16]


def check_length(content_length: str | None, *, max_bytes: int) -> SourceError | None:
    if content_length is None or not content_length.strip().isdigit():
        return None
    if int(content_length) > max_bytes:
        return too_large(max_bytes=max_bytes, size=int(content_length))
    return None


def too_large(*, max_bytes: int, size: int | None) -> SourceError:
    seen = f"{size} bytes" if size is not None else "more than that"
    return SourceError(
        ErrorReason.TOO_LARGE, f"file is larger than maxBytes={max_bytes} ({seen}); refused"
    )


def not_data(why: str) -> SourceError:
    return SourceError(
        ErrorReason.NOT_DATA,
        f"URL returned an HTML page ({why}), not data; check the URL and credentials",
    )


@dataclass(frozen=True)
class Fetched:
    """A document read whole (bounded), for sources that need the body itself."""

    body: bytes = b""
    sha256: str = ""
    validators: Validators = field(default_factory=Validators)
    not_modified: bool = False
    error: SourceError | None = None
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class HttpCheck:
    """Everything one conditional GET needs."""

    client: httpx.AsyncClient
    url: str
    credentials: Credentials | None
    max_bytes: int
    previous: Validators | None
    now: datetime
    # Waits for the namespace's share of downloaded bytes (modelpipe.sources.limits).
    throttle: Callable[[int], Awaitable[None]] | None = None


def http_check(c: Check) -> HttpCheck:
    """What a conditional GET of ``c.key.url`` needs."""
    return HttpCheck(
        client=c.client, url=c.key.url, credentials=c.credentials, max_bytes=c.key.max_bytes,
        previous=c.previous, now=c.now, throttle=c.throttle,
    )  # fmt: skip


async def check(c: Check) -> Observation:
    """The HTTP dataset source type (modelpipe.sources.kinds): the file's version."""
    return await resolve_http_dataset(http_check(c))


async def resolve_http_dataset(check: HttpCheck) -> Observation:
    """One conditional GET; hashes the body only when the server gives no validator."""
    return await resolve_document(check, keep_body=False, interpret=_dataset_version)


def _dataset_version(fetched: Fetched) -> Observation:
    version = version_from_validators(fetched.validators) or f"sha256:{fetched.sha256}"
    return Observation(value=version, validators=fetched.validators)


async def resolve_document(
    check: HttpCheck, *, keep_body: bool, interpret: Callable[[Fetched], Observation]
) -> Observation:
    """Validate the URL, GET it conditionally, and let ``interpret`` turn a 200 into a value."""
    problem = check_url(check.url, schemes=HTTP_SCHEMES)
    if problem:
        return Observation.failed(ErrorReason.INVALID_SOURCE, problem)
    fetched = await fetch(check, keep_body=keep_body)
    if fetched.error is not None:
        return Observation(error=fetched.error, retry_after_seconds=fetched.retry_after_seconds)
    if fetched.not_modified:
        return Observation(not_modified=True, validators=fetched.validators)
    return interpret(fetched)


async def fetch(check: HttpCheck, *, keep_body: bool) -> Fetched:
    """GET ``check.url`` within ``check.max_bytes``.

    With ``keep_body`` the body is returned; without it the body is read (and
    hashed into ``Fetched.sha256``) only when the server sent no validator.
    """
    headers = request_headers(validators=check.previous, credentials=check.credentials)
    try:
        async with check.client.stream("GET", check.url, headers=headers) as response:
            return await _read_response(
                response, max_bytes=check.max_bytes, now=check.now, keep_body=keep_body,
                throttle=check.throttle,
            )  # fmt: skip
    except httpx.TimeoutException as exc:
        return Fetched(
            error=SourceError(ErrorReason.TIMEOUT, f"request timed out ({type(exc).__name__})")
        )
    except httpx.TooManyRedirects:
        return Fetched(error=SourceError(ErrorReason.SERVER_ERROR, "too many redirects"))
    except (httpx.TransportError, OSError) as exc:
        refused = refusal_of(exc)
        if refused is not None:
            return Fetched(error=SourceError(ErrorReason.DESTINATION_REFUSED, refused))
        return Fetched(error=SourceError(ErrorReason.UNREACHABLE, _describe(exc)))


async def _read_response(
    response: httpx.Response,
    *,
    max_bytes: int,
    now: datetime,
    keep_body: bool,
    throttle: Callable[[int], Awaitable[None]] | None = None,
) -> Fetched:
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
    error = classify_status(response.status_code, retry_after=retry_after)
    if error is not None:
        return Fetched(error=error, retry_after_seconds=retry_after)
    validators = validators_from(response.headers)
    if response.status_code == 304:
        return Fetched(not_modified=True, validators=validators)
    if is_html_media_type(response.headers.get("content-type")):
        return Fetched(error=not_data("an HTML Content-Type"))
    error = check_length(response.headers.get("content-length"), max_bytes=max_bytes)
    if error is not None:
        return Fetched(error=error)
    need_all = keep_body or version_from_validators(validators) is None
    digest, kept, size, sniffed = hashlib.sha256(), bytearray(), 0, False
    async for chunk in response.aiter_raw():
        if not sniffed:
            sniffed = True
            if looks_like_html(chunk[:SNIFF_BYTES]):
                return Fetched(error=not_data("its first bytes are HTML markup"))
            if not need_all:
                break
        size += len(chunk)
        if size > max_bytes:
            return Fetched(error=too_large(max_bytes=max_bytes, size=None))
        if throttle is not None:
            await throttle(len(chunk))
        digest.update(chunk)
        if keep_body:
            kept.extend(chunk)
    sha256 = digest.hexdigest() if need_all else ""
    return Fetched(body=bytes(kept), sha256=sha256, validators=validators)


def _describe(exc: BaseException) -> str:
    """The error's kind in words; its text may quote the server's bytes (a bad header)."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__).lower()
    return f"cannot reach the server ({words})"
