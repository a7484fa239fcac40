"""kopf's diff base as a digest, and the move off the whole-spec copy, through kopf's own
change detection: an unchanged object is never re-handled, a changed one always is."""

from __future__ import annotations

import copy
import json
from typing import Any, cast

import kopf

from modelpipe.k8s.diffbase import RETIRED_FIELD, diffbase_storage

SPEC = {"code": {"revision": "abc"}, "dataset": {"uri": "http://127.0.0.1:9/d.csv"}}


def body(spec: dict[str, Any] = SPEC, **kopf_status: Any) -> kopf.Body:
    raw = {
        "apiVersion": "modelpipe.io/v1alpha1",
        "kind": "ModelPipeline",
        "metadata": {"name": "iris", "namespace": "ml", "labels": {"team": "a"}},
        "spec": copy.deepcopy(spec),
        "status": {"kopf": kopf_status, "observedGeneration": 3},
    }
    return kopf.Body(cast("kopf.RawBody", raw))


def stored(of: kopf.Body) -> dict[str, Any]:
    """What the storage writes for this object's essence (the status patch)."""
    storage = diffbase_storage()
    patch = kopf.Patch()
    storage.store(body=of, patch=patch, essence=storage.build(body=of))
    return dict(patch["status"]["kopf"])


def changed(of: kopf.Body) -> bool:
    """kopf's question: does the stored diff base differ from the object's essence?"""
    storage = diffbase_storage()
    old = storage.fetch(body=of)
    return old is None or old != storage.build(body=of)


def test_the_diff_base_is_a_short_digest_not_a_copy_of_the_spec() -> None:
    written = stored(body())
    digest = written["lastHandledDigest"]
    assert digest.startswith("sha256:") and len(digest) == 71
    assert "lastHandledConfiguration" not in written


def test_unchanged_objects_are_not_changes_and_edits_are() -> None:
    digest = stored(body())["lastHandledDigest"]
    assert not changed(body(lastHandledDigest=digest))
    edited = {**SPEC, "code": {"revision": "def"}}
    assert changed(body(edited, lastHandledDigest=digest))
    assert diffbase_storage().fetch(body=body()) is None  # never handled: a creation


def test_objects_handled_by_the_older_storage_are_not_re_handled() -> None:
    """Their diff base is the whole-spec copy; it still counts, so no object looks new."""
    legacy = kopf.StatusDiffBaseStorage(field=RETIRED_FIELD)
    copy_ = json.dumps(legacy.build(body=body()), separators=(",", ":"))
    assert not changed(body(lastHandledConfiguration=copy_))
    assert changed(body({**SPEC, "suspend": True}, lastHandledConfiguration=copy_))


def test_storing_a_new_diff_base_deletes_the_older_copy() -> None:
    written = stored(body(lastHandledConfiguration='{"spec":{}}'))
    assert written["lastHandledConfiguration"] is None  # null in a merge patch: removed
    assert written["lastHandledDigest"].startswith("sha256:")
