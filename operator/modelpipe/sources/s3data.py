"""Resolve an ``s3://bucket/key`` dataset to a version: its VersionId, else its ETag.

One signed ``HEAD`` per check, conditional (``If-None-Match``) once the store has
shown an ETag, so a steady state costs a 304 and no body. The object is never
read here: its size comes from ``Content-Length`` and is refused over the limit.

Requests go through the pollers' guarded HTTP client (``egress_guard``), so the
egress policy judges every address connected to, as for HTTP sources; botocore
only signs (SigV4). Where the request goes is the Secret's ``AWS_ENDPOINT_URL``
(an admin's choice, not the pipeline author's) or AWS's regional endpoint.
Without a Secret the request is unsigned: the operator never lends a pipeline
its own identity (docs/install.md, Threat model).

A VersionId is the store's text and becomes part of the version and of the
trainer's download, so only a plain one is used (letters, digits, ``._+=-``);
anything else, and every ETag, is recorded as a hash.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as AwsCredentials

from modelpipe.api.s3data import (
    DEFAULT_REGION,
    VERSION_ID_PATTERN,
    VERSION_ID_PREFIX,
    S3Location,
    parse_s3_uri,
    s3_uri_problem,
)
from modelpipe.api.sources import AwsKeys, ErrorReason, Observation, SourceError, Validators
from modelpipe.sources.check import Check
from modelpipe.sources.egress_guard import refusal_of
from modelpipe.sources.httpdata import (
    HttpCheck,
    check_length,
    classify_status,
    http_check,
    parse_retry_after,
    short_hash,
)


def object_url(location: S3Location, keys: AwsKeys | None) -> str:
    """The HTTP URL of the object: path-style on a custom endpoint unless told otherwise."""
    region = (keys.region if keys else "") or DEFAULT_REGION
    endpoint = (keys.endpoint_url if keys else "") or f"https://s3.{region}.amazonaws.com"
    path_style = keys.path_style if keys else False
    base = urlsplit(endpoint.rstrip("/"))
    key = quote(location.key, safe="/~")
    query = f"?versionId={quote(location.version_id, safe='')}" if location.version_id else ""
    if path_style:
        return f"{base.scheme}://{base.netloc}{base.path}/{location.bucket}/{key}{query}"
    return f"{base.scheme}://{location.bucket}.{base.netloc}{base.path}/{key}{query}"


def signed_headers(
    method: str, url: str, keys: AwsKeys | None, headers: dict[str, str]
) -> dict[str, str]:
    """``headers`` plus SigV4 ``Authorization`` when there are keys; unsigned without."""
    if keys is None or not keys.access_key_id:
        return dict(headers)
    request = AWSRequest(method=method, url=url, headers=headers)
    credentials = AwsCredentials(
        keys.access_key_id, keys.secret_access_key, keys.session_token or None
    )
    S3SigV4Auth(credentials, "s3", keys.region or DEFAULT_REGION).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def object_version(*, version_id: str | None, etag: str | None) -> str | None:
    """``versionId:<id>`` on a versioned bucket, else ``etag:sha256:...`` of the ETag."""
    if version_id and version_id != "null" and VERSION_ID_PATTERN.match(version_id):
        return f"{VERSION_ID_PREFIX}{version_id}"
    if version_id and version_id != "null":
        return f"versionId:{short_hash(version_id)}"
    return f"etag:{short_hash(etag)}" if etag else None


async def check(c: Check) -> Observation:
    """The S3 source type (modelpipe.sources.kinds): the object's VersionId or ETag."""
    return await resolve_s3_object(http_check(c))


async def resolve_s3_object(check: HttpCheck) -> Observation:
    """One conditional, signed HEAD of the object ``check.url`` names."""
    problem = s3_uri_problem(check.url)
    location = parse_s3_uri(check.url)
    if problem or location is None:
        return Observation.failed(ErrorReason.INVALID_SOURCE, problem or "not an s3:// URI")
    keys = check.credentials.aws if check.credentials else None
    url = object_url(location, keys)
    conditional = (
        {"If-None-Match": check.previous.etag} if check.previous and check.previous.etag else {}
    )
    headers = signed_headers("HEAD", url, keys, {"User-Agent": "modelpipe-operator", **conditional})
    try:
        response = await check.client.head(url, headers=headers)
    except httpx.TimeoutException as exc:
        return Observation.failed(ErrorReason.TIMEOUT, f"request timed out ({type(exc).__name__})")
    except (httpx.TransportError, OSError) as exc:
        refused = refusal_of(exc)
        if refused is not None:
            return Observation.failed(ErrorReason.DESTINATION_REFUSED, refused)
        return Observation.failed(ErrorReason.UNREACHABLE, "cannot reach the object store")
    return _interpret(response, max_bytes=check.max_bytes, check=check)


def _interpret(response: httpx.Response, *, max_bytes: int, check: HttpCheck) -> Observation:
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=check.now)
    status = response.status_code
    if status in (301, 307, 400) and response.headers.get("x-amz-bucket-region"):
        return Observation.failed(
            ErrorReason.INVALID_SOURCE,
            f"the bucket is in another region ({response.headers['x-amz-bucket-region']!r}); "
            "set AWS_REGION in the credentials Secret",
        )
    error = classify_status(status, retry_after=retry_after)
    if error is not None:
        return Observation(error=_in_s3_words(error, status), retry_after_seconds=retry_after)
    validators = Validators(etag=response.headers.get("etag"))
    if status == 304:
        return Observation(not_modified=True, validators=check.previous or validators)
    too_large = check_length(response.headers.get("content-length"), max_bytes=max_bytes)
    if too_large is not None:
        return Observation(error=too_large)
    version = object_version(
        version_id=response.headers.get("x-amz-version-id"), etag=validators.etag
    )
    if version is None:
        return Observation.failed(ErrorReason.SERVER_ERROR, "the store sent no ETag")
    return Observation(value=version, validators=validators)


def _in_s3_words(error: SourceError, status: int) -> SourceError:
    if error.reason is ErrorReason.AUTH_FAILED:
        return SourceError(
            error.reason,
            f"the object store refused the request ({status}); check the keys in the "
            "dataset's credentialsSecret",
        )
    if error.reason is ErrorReason.NOT_FOUND:
        return SourceError(error.reason, f"no such bucket or object ({status})")
    return error
