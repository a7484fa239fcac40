"""spec.notify on the local cluster, written by a tenant who holds only ModelPipeline rights.

A real promotion reaches a receiver on 127.0.0.1 through an opted-in Secret; a second
webhook names a Secret that did not opt in and is refused (Notified=False
CredentialsRefused) without a request; the apiserver refuses a URL written in the spec.
No URL shows in status, Events or the operator's log.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.e2e.fixtures import Reachable
from tests.e2e.harness import Namespace, Operator, condition, example_documents
from tests.security.conftest import Tenant

from localkube.waiting import wait_for
from modelpipe.api.v1alpha1.notify import PLAIN_URL
from modelpipe.sources.credentials import CREDENTIALS_LABEL, URL_PREFIXES_ANNOTATION

pytestmark = pytest.mark.cluster

TOKEN = "T0-B0-notify-secret-token"
VICTIM = "V1-victims-own-webhook-token"


@pytest.fixture
def receiver(reachable: Reachable) -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A webhook receiver on loopback; its URL as the operator reaches it (on the node)."""
    got: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            got.append((self.path, json.loads(self.rfile.read(length))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield reachable(f"http://127.0.0.1:{server.server_address[1]}"), got
    server.shutdown()


def _secret(name: str, url: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, **metadata}, "stringData": {"url": url}}  # fmt: skip


def test_a_url_in_the_spec_is_refused_at_admission(ns: Namespace, tenant: Tenant) -> None:
    _, pipeline = example_documents(data_url="http://127.0.0.1:9")
    webhook = {"name": "team", "url": f"https://hooks.example.com/{TOKEN}",
               "urlSecretRef": {"name": "hooks", "key": "url"}}  # fmt: skip
    pipeline["spec"]["notify"] = {"webhooks": [webhook]}
    done = tenant.apply(pipeline)
    assert done.returncode != 0
    assert PLAIN_URL in " ".join(done.stderr.split()), done.stderr


@pytest.mark.slow
def test_a_promotion_is_delivered_and_an_unopted_secret_is_refused(
    ns: Namespace,
    tenant: Tenant,
    operator: Operator,
    data_url: str,
    receiver: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    base, got = receiver
    opted = {
        "labels": {CREDENTIALS_LABEL: "true"},
        "annotations": {URL_PREFIXES_ANNOTATION: f"{base}/hooks"},
    }
    assert ns.apply(_secret("hooks", f"{base}/hooks/{TOKEN}", **opted)).returncode == 0
    # Another team's webhook in the same namespace: readable by the operator, not the tenant.
    assert ns.apply(_secret("victim", f"{base}/victim/{VICTIM}")).returncode == 0
    pvc, pipeline = example_documents(data_url=data_url)
    pipeline["spec"]["notify"] = {
        "webhooks": [
            {"name": "team", "urlSecretRef": {"name": "hooks", "key": "url"}},
            {"name": "stolen", "format": "Slack", "urlSecretRef": {"name": "victim", "key": "url"}},
        ]
    }
    assert ns.apply(pvc).returncode == 0
    done = tenant.apply(pipeline)
    assert done.returncode == 0, done.stderr

    def delivered() -> dict[str, Any] | None:
        found = ns.pipeline()
        rows = found.get("status", {}).get("notifications", [])
        return found if any(r["state"] == "Delivered" for r in rows) else None

    found = wait_for("the promotion to be delivered", delivered, timeout=240)
    promoted = [body for path, body in got if path == f"/hooks/{TOKEN}"]
    assert [b["event"] for b in promoted] == ["Promoted"]  # once, however many passes ran
    version = found["status"]["production"]["modelVersion"]
    assert promoted[0]["modelVersion"] == version
    assert promoted[0]["pipeline"]["name"] == "iris"
    assert [path for path, _ in got if path.startswith("/victim")] == []
    rows = {(r["webhook"], r["state"]) for r in found["status"]["notifications"]}
    assert rows == {("team", "Delivered"), ("stolen", "Failed")}
    assert condition(found, "Notified") == ("False", "CredentialsRefused")
    message = next(c["message"] for c in found["status"]["conditions"] if c["type"] == "Notified")
    assert "modelpipe.io/credentials" in message
    # A restarted operator reconciles the pipeline again (resume) and sends nothing twice:
    # the Delivered row in status is final.
    operator.kill()
    operator.start()
    wait_for(
        "the restarted operator to reconcile",
        lambda: _reconciles(operator, ns.name) >= 2,
        timeout=60,
    )
    assert len([p for p, _ in got if p == f"/hooks/{TOKEN}"]) == 1
    events = ns.kubectl("get", "events", "-o", "yaml").stdout
    for text in (json.dumps(found), events, operator.logs()):
        assert TOKEN not in text and VICTIM not in text and base not in text


def _reconciles(operator: Operator, namespace: str) -> float:
    """Reconcile passes the running operator made (0 until its metrics answer)."""
    try:
        text = operator.metrics()
    except OSError:
        return 0.0
    prefix = f'modelpipe_reconciles_total{{namespace="{namespace}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))
