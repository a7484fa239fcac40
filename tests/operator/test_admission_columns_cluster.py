"""`kubectl get mp` answers "what is serving and why" (issue 11.8), read by the real kubectl.

The Code and Data columns show the inputs as resolved (a followed branch shows its
commit, a followed URL its ETag version), and Verdict is the verdict of the run for
those inputs: after a revert, the earlier run's, not the last run's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.fixtures import Reachable
from tests.e2e.harness import Namespace, Operator, example_documents
from tests.sources.servers import DataServer, GitServer, Repo, Served

from localkube.waiting import wait_for

pytestmark = pytest.mark.cluster
STAMP = "2026-12-03T12:00:00Z"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


@pytest.fixture
def git_server(repo: Repo) -> Iterator[GitServer]:
    server = GitServer(repo.bare.parent)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def data_server() -> Iterator[DataServer]:
    server = DataServer()
    server.start()
    yield server
    server.stop()


def columns(ns: Namespace, *extra: str) -> dict[str, str]:
    """``kubectl get mp iris`` as {column: value}."""
    done = ns.kubectl("get", "mp", "iris", *extra)
    header, row = done.stdout.splitlines()[:2]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    ends = [*starts[1:], None]
    return {header[s:e].strip(): row[s:e].strip() for s, e in zip(starts, ends, strict=True)}


def run(version: str, verdict: str) -> dict[str, Any]:
    return {"modelVersion": version, "jobName": f"iris-{version}", "inputHash": version * 4,
            "verdict": verdict}  # fmt: skip


def test_after_a_revert_the_columns_pair_the_inputs_with_their_own_verdict(
    ns: Namespace,
) -> None:
    """The status plan() writes after v2 failed the gate and the spec went back to v1."""
    document = copy.deepcopy(example_documents(data_url="http://127.0.0.1:9")[1])
    assert ns.apply(document).returncode == 0
    status = {
        "inputs": {
            "codeRevision": "2026.11.0",
            "datasetUri": "http://127.0.0.1:9/v1.csv",
            "datasetVersion": "v1",
            "hash": "aaaa" * 16,
            "modelVersion": "aaaaaaaa",
            "verdict": "Promoted",
        },
        "production": {
            "modelVersion": "aaaaaaaa",
            "modelDir": "/m",
            "promotedAt": STAMP,
            "reason": "gate passed",
        },
        "lastRun": run("bbbbbbbb", "GateFailed"),
        "history": [run("aaaaaaaa", "Promoted")],
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Serving",
                "lastTransitionTime": STAMP,
                "message": "serving model aaaaaaaa (code 2026.11.0, dataset v1)",
            },
        ],
    }
    ns.kubectl(
        "patch", "mp", "iris", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip
    shown = columns(ns)
    assert (shown["CODE"], shown["DATA"], shown["SERVING"]) == ("2026.11.0", "v1", "aaaaaaaa")
    assert (shown["VERDICT"], shown["READY"]) == ("Promoted", "True")
    assert "MESSAGE" not in shown
    wide = columns(ns, "-o", "wide")
    assert wide["REASON"] == "Serving" and wide["MESSAGE"].startswith("serving model aaaaaaaa")


def test_a_followed_branch_and_url_show_their_resolved_values(
    ns: Namespace,
    operator: Operator,
    repo: Repo,
    git_server: GitServer,
    data_server: DataServer,
    reachable: Reachable,
) -> None:
    """No revision or version in the spec: the columns show what the operator resolved."""
    served = Served(b"sepal_length,sepal_width,petal_length,petal_width,species\n")
    data_server.put("/iris.csv", served)
    # Both servers as the operator, running on the node, reaches them (localkube.reach).
    git_url, data_url = reachable(git_server.base_url), reachable(data_server.base_url)
    pipeline = copy.deepcopy(example_documents(data_url="http://127.0.0.1:9")[1])
    pipeline["spec"]["code"] = {"git": {"url": f"{git_url}/model.git", "ref": "main",
                                        "pollInterval": "1s"}}  # fmt: skip
    pipeline["spec"]["dataset"].update(uri=f"{data_url}/iris.csv", pollInterval="1s")
    pipeline["spec"]["dataset"].pop("version")
    pipeline["spec"]["suspend"] = False
    assert ns.apply(pipeline).returncode == 0, "the followed pipeline was refused"

    def resolved() -> dict[str, str] | None:
        shown = columns(ns)
        return shown if shown["CODE"] not in ("", "<none>") else None

    shown = wait_for("the resolved commit in kubectl get", resolved, timeout=90)
    assert shown["CODE"] == repo.head("main")
    assert shown["DATA"] == served.version
