"""``s3://bucket/key[?versionId=ID]``: what it names and what is wrong with it — pure.

Kept apart from the HEAD request (``modelpipe.sources.s3data``) so the API model can check a
URI without importing an HTTP client or botocore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

S3_SCHEME = "s3"
DEFAULT_REGION = "us-east-1"
VERSION_ID_PREFIX = "versionId:"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
VERSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9._+=-]{1,1024}$")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    version_id: str | None = None


def parse_s3_uri(uri: str) -> S3Location | None:
    """``s3://bucket/key[?versionId=ID]``, or None when ``uri`` is not an s3:// URI."""
    if not uri.startswith(f"{S3_SCHEME}://"):
        return None
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    return S3Location(parts.netloc, parts.path.lstrip("/"), query.get("versionId") or None)


def s3_uri_problem(uri: str) -> str | None:
    """A user-facing problem with an s3:// URI, or None when it is usable."""
    location = parse_s3_uri(uri)
    if location is None:
        return None
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        return "an s3:// URI must not contain credentials; put them in a Secret (credentialsSecret)"
    if not _BUCKET.match(location.bucket) or ".." in location.bucket:
        return f"s3:// bucket name {location.bucket!r} is not a valid S3 bucket name"
    if not location.key or location.key.endswith("/"):
        return "an s3:// dataset URI names one object: s3://<bucket>/<key>"
    extra = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)} - {"versionId"}
    if extra or parts.fragment:
        return "an s3:// URI takes no query but ?versionId=<id>, and no fragment"
    if location.version_id is not None and not VERSION_ID_PATTERN.match(location.version_id):
        return "versionId may hold only letters, digits and ._+=-"
    return None
