"""kopf's diff base on the real cluster (issue 11.9): a short digest in status, and a
pipeline last handled by an older operator (whole-spec copy in
status.kopf.lastHandledConfiguration) is resumed, not re-handled as created; its next
change replaces the copy with the digest."""

from __future__ import annotations

import copy
import json
from typing import cast

import kopf
import pytest
from tests.e2e.harness import Namespace, Operator, example_documents

from localkube.waiting import wait_for

pytestmark = pytest.mark.cluster


def test_an_older_diff_base_is_read_then_replaced_by_the_digest(
    ns: Namespace, operator: Operator
) -> None:
    operator.stop()  # the pipeline exists, as left by an older operator, before we start
    document = copy.deepcopy(example_documents(data_url="http://127.0.0.1:9")[1])
    document["spec"]["suspend"] = True  # nothing to train: only the bookkeeping matters
    assert ns.apply(document).returncode == 0
    stored = ns.pipeline()
    legacy = kopf.StatusDiffBaseStorage(field="status.kopf.lastHandledConfiguration")
    essence = json.dumps(
        legacy.build(body=kopf.Body(cast("kopf.RawBody", stored))), separators=(",", ":")
    )
    ns.kubectl(
        "patch", "mp", "iris", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"kopf": {"lastHandledConfiguration": essence}}}),
    )  # fmt: skip

    operator.start()
    generation = stored["metadata"]["generation"]
    wait_for(
        "the pipeline reconciled",
        lambda: ns.pipeline().get("status", {}).get("observedGeneration") == generation,
        timeout=60,
    )
    logs = operator.logs()
    assert "Resuming is processed" in logs and "Creation is processed" not in logs, logs[-3000:]
    assert "lastHandledConfiguration" in ns.pipeline()["status"]["kopf"]  # unchanged: kept

    ns.patch("iris", {"spec": {"historyLimit": 5}})

    def migrated() -> dict[str, str] | None:
        kopf_status = ns.pipeline()["status"].get("kopf", {})
        return kopf_status if "lastHandledDigest" in kopf_status else None

    kopf_status = wait_for("the digest diff base", migrated, timeout=60)
    assert "lastHandledConfiguration" not in kopf_status
    assert kopf_status["lastHandledDigest"].startswith("sha256:")
    assert len(json.dumps(kopf_status)) < 200
