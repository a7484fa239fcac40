"""``modelpipe-trainer upload-model`` / ``fetch-model`` against the real S3 server.

The upload puts every file of the manifest first and ``manifest.json`` last, and
follows no link out of the model directory (the keys are mounted beside it); the
download serves nothing that does not match the manifest, and nothing whose upload
never finished. Messages never carry a key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.objectstore.server import S3Server
from tests.objectstore.test_fetch import secret_dir

from modelpipe_trainer import modelstore, objectfetch
from modelpipe_trainer.manifest import build_manifest
from modelpipe_trainer.modelstore import (
    MODEL_DIR_ENV,
    MODEL_URI_ENV,
    REFUSED_EXIT,
    RUN_ID_ENV,
    run,
)
from modelpipe_trainer.objectfetch import CREDENTIALS_DIR_ENV

FILES = {"model.skops": b"\x00model bytes" * 100, "metrics.json": b'{"accuracy": 0.9}\n'}
RUN_ID = "0b5e2f3c-1111-2222-3333-444455556666"


def model_dir(root: Path, files: dict[str, bytes] = FILES) -> Path:
    folder = root / "artifacts" / "iris" / "v1"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "manifest.json").write_bytes(build_manifest(files))
    return folder


def store(command: str, secret: Path, *, folder: Path, uri: str) -> tuple[int, str]:
    termination = secret.parent / f"termination-{command}"
    environ = {
        MODEL_DIR_ENV: str(folder),
        MODEL_URI_ENV: uri,
        RUN_ID_ENV: RUN_ID,
        CREDENTIALS_DIR_ENV: str(secret),
    }
    code = run(command, environ, termination_path=str(termination))
    return code, termination.read_text() if termination.exists() else ""


def keys(server: S3Server, bucket: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed)


@pytest.fixture
def secret(tmp_path: Path, s3_server: S3Server) -> Path:
    return secret_dir(tmp_path, s3_server)


@pytest.mark.slow
def test_uploads_manifest_last_and_fetches_a_verified_copy(
    tmp_path: Path,
    secret: Path,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []
    real = objectfetch.make_client

    def recording(values: Any) -> Any:
        client = real(values)
        put = client.put_object

        def put_object(**request: Any) -> Any:
            order.append(request["Key"].rsplit("/", 1)[-1])
            return put(**request)

        client.put_object = put_object
        return client

    monkeypatch.setattr(modelstore, "make_client", recording)
    base = f"s3://{s3_bucket}/models/iris/v1/"
    assert store("upload-model", secret, folder=model_dir(tmp_path), uri=base) == (0, "")
    assert order == ["metrics.json", "model.skops", "manifest.json"]
    prefix = f"models/iris/v1/{RUN_ID}/"
    assert keys(s3_server, s3_bucket) == [prefix + n for n in sorted([*FILES, "manifest.json"])]

    served = tmp_path / "serving" / "iris" / "v1"
    assert store("fetch-model", secret, folder=served, uri=f"{base}{RUN_ID}/") == (0, "")
    assert {p.name: p.read_bytes() for p in served.iterdir()} == {
        **FILES,
        "manifest.json": build_manifest(FILES),
    }
    assert [p.name for p in served.parent.iterdir()] == ["v1"]  # no staging left


@pytest.mark.slow
def test_a_corrupted_object_or_a_missing_manifest_is_never_fetched(
    tmp_path: Path, secret: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    base = f"s3://{s3_bucket}/m/iris/v1/"
    assert store("upload-model", secret, folder=model_dir(tmp_path), uri=base)[0] == 0
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key=f"m/iris/v1/{RUN_ID}/model.skops", Body=b"evil" * 300)
    served = tmp_path / "serving" / "v1"
    code, message = store("fetch-model", secret, folder=served, uri=f"{base}{RUN_ID}/")
    assert code == REFUSED_EXIT and "model.skops does not match manifest.json" in message
    assert not served.exists() and list(served.parent.iterdir()) == []

    s3.delete_object(Bucket=s3_bucket, Key=f"m/iris/v1/{RUN_ID}/manifest.json")
    code, message = store("fetch-model", secret, folder=served, uri=f"{base}{RUN_ID}/")
    assert code == REFUSED_EXIT and "has no manifest.json: its upload never finished" in message
    assert not served.exists()


@pytest.mark.slow
def test_upload_follows_no_link_and_refuses_a_mismatch(
    tmp_path: Path, secret: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    """A training container (the author's code) cannot make the uploader publish the keys."""
    base = f"s3://{s3_bucket}/m/"
    key_file = secret / "AWS_SECRET_ACCESS_KEY"
    linked = model_dir(tmp_path / "a", {"model.skops": key_file.read_bytes()})
    (linked / "model.skops").unlink()
    (linked / "model.skops").symlink_to(key_file)
    code, message = store("upload-model", secret, folder=linked, uri=base)
    assert code == REFUSED_EXIT and "cannot open model.skops" in message

    outer = tmp_path / "b" / "artifacts" / "iris"
    outer.mkdir(parents=True)
    (outer / "v1").symlink_to(secret, target_is_directory=True)
    code, message = store("upload-model", secret, folder=outer / "v1", uri=base)
    assert code == REFUSED_EXIT and "is a symbolic link" in message

    # A FIFO has no writer once training exited: opening it must not block the upload.
    fifo = model_dir(tmp_path / "d")
    (fifo / "model.skops").unlink()
    os.mkfifo(fifo / "model.skops")
    code, message = store("upload-model", secret, folder=fifo, uri=base)
    assert code == REFUSED_EXIT and "model.skops is not a regular file" in message

    # A manifest naming a path outside the directory (parsed by modelpipe_trainer.manifest).
    escaping = model_dir(tmp_path / "e")
    entry = {"sha256": "0" * 64, "sizeBytes": 1}
    (escaping / "manifest.json").write_text(json.dumps({"files": {"../x": entry}}))
    code, message = store("upload-model", secret, folder=escaping, uri=base)
    assert code == REFUSED_EXIT and "'../x', not a plain file name" in message

    changed = model_dir(tmp_path / "c")
    (changed / "model.skops").write_bytes(b"changed after the manifest")
    code, message = store("upload-model", secret, folder=changed, uri=base)
    assert code == REFUSED_EXIT and "model.skops does not match manifest.json" in message
    assert keys(s3_server, s3_bucket) == []
    assert s3_server.secret_key not in message


@pytest.mark.slow
def test_wrong_keys_are_retried_and_never_shown(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    wrong = secret_dir(tmp_path, s3_server, secret_key="not-the-secret-key")
    code, message = store(
        "upload-model", wrong, folder=model_dir(tmp_path), uri=f"s3://{s3_bucket}/m/"
    )
    assert code == 1 and "(403)" in message
    assert "not-the-secret-key" not in message and s3_server.access_key not in message
