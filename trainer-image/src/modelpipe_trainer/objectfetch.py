"""``modelpipe-trainer fetch-s3``: download a run's s3:// datasets before training.

It runs as the ``fetch-data`` init container, from the operator's own trainer image
(never an image the pipeline's author chose), because it may hold the keys of the
dataset's ``credentialsSecret``: the Secret is mounted as files into this container
only (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, optional
``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``,
``AWS_S3_ADDRESSING_STYLE``). Without a Secret, botocore's standard chain finds the
pod's own credentials (environment, web identity).

Each object is fetched at the version the operator resolved: a ``versionId:<id>``
(or ``?versionId=`` in the URI) is asked for by id, and an ``etag:sha256:…``
must match the object's ETag, so a run never trains on bytes other than the ones
its version names. The file is written under a temporary name and renamed when
whole and within the size limit. Messages name the S3 error code and status,
never a key or a response body.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FETCH_ENV = "MODELPIPE_FETCH_OBJECTS"
CREDENTIALS_DIR_ENV = "MODELPIPE_S3_CREDENTIALS_DIR"
_KEYS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_S3_ADDRESSING_STYLE",
)  # fmt: skip
_CHUNK = 1 << 20


class FetchError(Exception):
    """A dataset could not be fetched; the message is safe to show."""


@dataclass(frozen=True)
class ObjectRef:
    uri: str
    version: str
    path: str
    max_bytes: int


def parse_refs(raw: str) -> list[ObjectRef]:
    return [ObjectRef(**item) for item in json.loads(raw)]


def settings(credentials_dir: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The ``AWS_*`` values from the mounted Secret's files, else from the environment."""
    found: dict[str, str] = {}
    for name in _KEYS:
        file = Path(credentials_dir, name) if credentials_dir else None
        if file is not None and file.is_file():
            found[name] = file.read_text().strip()
        elif environ.get(name):
            found[name] = environ[name]
    return found


def make_client(values: Mapping[str, str]) -> Any:
    import botocore.session
    from botocore.config import Config

    endpoint = values.get("AWS_ENDPOINT_URL") or None
    style: Any = values.get("AWS_S3_ADDRESSING_STYLE") or ("path" if endpoint else "virtual")
    session = botocore.session.get_session()
    keys: dict[str, Any] = {}
    if values.get("AWS_ACCESS_KEY_ID"):
        keys = {
            "aws_access_key_id": values["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": values.get("AWS_SECRET_ACCESS_KEY", ""),
            "aws_session_token": values.get("AWS_SESSION_TOKEN") or None,
        }
    return session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=values.get("AWS_REGION") or "us-east-1",
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 3}),
        **keys,
    )


def fetch(client: Any, ref: ObjectRef) -> None:
    """Download ``ref`` to ``ref.path`` at its resolved version, within its size limit."""
    parts = urlsplit(ref.uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    version_id = dict(parse_qsl(parts.query)).get("versionId")
    if not version_id and ref.version.startswith("versionId:") and ":" not in ref.version[10:]:
        version_id = ref.version.removeprefix("versionId:")
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_object(**request)
        _check(response, ref)
        _write(response["Body"], Path(ref.path), max_bytes=ref.max_bytes)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        raise FetchError(f"{ref.uri}: {error.get('Code', 'error')} ({status})") from None
    except BotoCoreError as exc:
        raise FetchError(f"{ref.uri}: {type(exc).__name__}") from None


def _check(response: Mapping[str, Any], ref: ObjectRef) -> None:
    size = int(response.get("ContentLength") or 0)
    if size > ref.max_bytes:
        raise FetchError(f"{ref.uri}: {size} bytes, over the limit of {ref.max_bytes}; refused")
    if ref.version.startswith("etag:sha256:"):
        seen = hashlib.sha256(str(response.get("ETag", "")).encode()).hexdigest()[:16]
        if ref.version != f"etag:sha256:{seen}":
            raise FetchError(
                f"{ref.uri}: the object changed since version {ref.version} was resolved; "
                "the next check starts a run for the new one"
            )


def _write(body: Any, path: Path, *, max_bytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    written = 0
    with partial.open("wb") as out:
        while chunk := body.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise FetchError(f"object is over the limit of {max_bytes} bytes; refused")
            out.write(chunk)
    partial.replace(path)


def run(environ: Mapping[str, str], *, termination_path: str) -> int:
    """Fetch every object named in ``MODELPIPE_FETCH_OBJECTS``; 0, or 1 with a message."""
    try:
        refs = parse_refs(environ.get(FETCH_ENV, "[]"))
        client = make_client(settings(environ.get(CREDENTIALS_DIR_ENV), environ))
        for ref in refs:
            fetch(client, ref)
    except FetchError as exc:
        message = f"cannot fetch the dataset: {exc}"
        with open(termination_path, "w") as out:  # noqa: PTH123 (a device path)
            out.write(message)
        print(message, flush=True)
        return 1
    return 0


def main() -> int:
    return run(os.environ, termination_path="/dev/termination-log")


if __name__ == "__main__":
    raise SystemExit(main())
