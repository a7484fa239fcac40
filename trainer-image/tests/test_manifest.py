"""manifest.json: one parser for the server, upload-model and fetch-model."""

from __future__ import annotations

import json

import pytest

from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.manifest import Entry, build_manifest, check_file, parse_manifest

FILES = {"model.skops": b"model bytes", "schema.json": b"{}"}


def one_entry(name: str, sha256: str = "0" * 64, size: object = 1) -> bytes:
    return json.dumps({"files": {name: {"sha256": sha256, "sizeBytes": size}}}).encode()


def test_what_the_trainer_writes_parses_back() -> None:
    entries = parse_manifest(build_manifest(FILES))
    assert sorted(entries) == sorted(FILES)
    assert entries["schema.json"] == Entry(
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", 2
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{}", "not a model manifest"),
        (b"not json", "not a model manifest"),
        (b'{"files": []}', "not a model manifest"),
        (one_entry("m", size="big"), "not a model manifest"),
        (one_entry("../x"), "'../x'"),
        (one_entry("a/b"), "'a/b'"),
        (one_entry("manifest.json"), "'manifest.json'"),
        (one_entry("m", sha256="xyz"), "no valid sha256"),
        (one_entry("m", size=-1), "no valid sha256 and size"),
    ],
)
def test_a_manifest_names_plain_files_only(raw: bytes, expected: str) -> None:
    with pytest.raises(ModelRejectedError) as caught:
        parse_manifest(raw)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("manifest", "name", "data", "expected"),
    [
        (build_manifest(FILES), "model.skops", b"model bytes", None),
        (build_manifest(FILES), "model.skops", b"other bytes", "does not match manifest.json"),
        (build_manifest(FILES), "model.onnx", b"x", "lists no model.onnx"),
        # The server now refuses what fetch-model refuses: a name outside the directory.
        (one_entry("../x"), "model.skops", b"model bytes", "not a plain file name"),
        (b"[1]", "model.skops", b"model bytes", "not a model manifest"),
    ],
)
def test_a_file_is_loaded_only_as_the_manifest_lists_it(
    manifest: bytes, name: str, data: bytes, expected: str | None
) -> None:
    if expected is None:
        check_file(manifest, model_dir="/m", name=name, data=data)
        return
    with pytest.raises(ModelRejectedError, match=expected):
        check_file(manifest, model_dir="/m", name=name, data=data)


def test_a_same_digest_with_another_size_is_refused() -> None:
    entry = parse_manifest(build_manifest(FILES))["model.skops"]
    lying = json.dumps({"files": {"model.skops": {"sha256": entry.sha256, "sizeBytes": 3}}})
    with pytest.raises(ModelRejectedError, match="11 bytes; expected"):
        check_file(lying.encode(), model_dir="/m", name="model.skops", data=b"model bytes")
