"""Acceptance tests of the node agent against the real local cluster: workloads.

Jobs and their retries, Deployment rollouts, ServiceAccount tokens under RBAC, logs of
the current and the previous run, namespace deletion and an agent restart. What the
fields of a pod's spec do is in test_agent_cluster_pods.py. Every wait is bounded; the
helpers are in cluster_helpers.py.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from hack.localkube.tests.cluster_helpers import Json, apply, get, pod, pods, py

from localkube.cluster import Cluster
from localkube.waiting import wait_for

pytestmark = pytest.mark.cluster


def job(name: str, container: Json, *, backoff_limit: int = 0) -> Json:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


def job_condition(cluster: Cluster, ns: str, name: str, kind: str) -> Json | None:
    conds = get(cluster, ns, "job", name).get("status", {}).get("conditions") or []
    return next((c for c in conds if c["type"] == kind and c["status"] == "True"), None)


def test_job_reports_exit_code_and_termination_message(cluster: Cluster, namespace: str) -> None:
    code = (
        "import json; print('training')\n"
        "open('/dev/termination-log', 'w').write(json.dumps({'accuracy': 0.97}))"
    )
    apply(cluster, namespace, job("train", py("train", code)))
    done = wait_for("Job Complete", lambda: job_condition(cluster, namespace, "train", "Complete"))
    assert done["status"] == "True"
    assert get(cluster, namespace, "job", "train")["status"]["succeeded"] == 1
    (p,) = pods(cluster, namespace, "job-name=train")
    assert p["status"]["phase"] == "Succeeded"
    term = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert json.loads(term["message"]) == {"accuracy": 0.97}
    logs = cluster.kubectl("logs", "-n", namespace, p["metadata"]["name"])
    assert logs.stdout == "training\n"


def test_failing_job_is_retried_until_backoff_limit(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, job("fail", py("fail", "raise SystemExit(3)"), backoff_limit=1))
    failed = wait_for(
        "Job Failed", lambda: job_condition(cluster, namespace, "fail", "Failed"), timeout=90
    )
    assert failed["reason"] == "BackoffLimitExceeded"
    attempts = pods(cluster, namespace, "job-name=fail")
    assert len(attempts) == 2
    for p in attempts:
        assert p["status"]["phase"] == "Failed"
        assert p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def web_deployment(version: str) -> Json:
    server = py(
        "web",
        "import http.server, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers()\n"
        "        self.wfile.write(os.environ['VERSION'].encode())\n"
        "    def log_message(self, *a): pass\n"
        "http.server.HTTPServer((os.environ['POD_IP'], 8080), H).serve_forever()\n",
        env=[
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "VERSION", "value": version},
        ],
        ports=[{"containerPort": 8080, "name": "http"}],
        readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
        livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 5},
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [server]}},
        },
    }


def answers(cluster: Cluster, ns: str) -> dict[str, str]:
    out = {}
    for p in pods(cluster, ns, "app=web"):
        if p["metadata"].get("deletionTimestamp"):
            continue
        ip = p["status"]["podIP"]
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=5) as resp:
            out[p["metadata"]["name"]] = resp.read().decode()
    return out


def test_deployment_rolls_out_and_rolls_again(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, web_deployment("v1"))
    cluster.kubectl("rollout", "status", "-n", namespace, "deploy/web", "--timeout=60s")
    first = answers(cluster, namespace)
    assert sorted(first.values()) == ["v1", "v1"]
    ips = {p["status"]["podIP"] for p in pods(cluster, namespace, "app=web")}
    assert len(ips) == 2, "each pod has its own IP, so both bind port 8080"
    apply(cluster, namespace, web_deployment("v2"))
    cluster.kubectl("rollout", "status", "-n", namespace, "deploy/web", "--timeout=90s")
    wait_for(
        "old pods gone",
        lambda: (
            not set(first) & {p["metadata"]["name"] for p in pods(cluster, namespace, "app=web")}
        ),
    )
    second = answers(cluster, namespace)
    assert sorted(second.values()) == ["v2", "v2"]


RBAC_CHECK = """
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
v1 = client.CoreV1Api()
ns = open('/var/run/secrets/kubernetes.io/serviceaccount/namespace').read()
calls = (('configmaps', v1.list_namespaced_config_map), ('secrets', v1.list_namespaced_secret))
for what, call in calls:
    try:
        call(ns)
        print(what, 200)
    except ApiException as e:
        print(what, e.status)
"""


def test_service_account_token_enforces_rbac(cluster: Cluster, namespace: str) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader"}],
    }
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}
    restricted = {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True}
    apply(cluster, namespace, sa, role, binding)
    apply(
        cluster,
        namespace,
        pod(
            "rbac", py("check", RBAC_CHECK), serviceAccountName="reader", securityContext=restricted
        ),
    )
    wait_for(
        "pod done",
        lambda: (
            get(cluster, namespace, "pod", "rbac").get("status", {}).get("phase") == "Succeeded"
        ),
    )
    out = cluster.kubectl("logs", "-n", namespace, "rbac").stdout.split("\n")
    assert "configmaps 200" in out
    assert "secrets 403" in out


def test_kubectl_logs_of_current_and_previous_run(cluster: Cluster, namespace: str) -> None:
    code = (
        "import os\nn = len(os.listdir('/data'))\nopen(f'/data/{n}', 'w').close()\n"
        "print('run', n)\nraise SystemExit(0 if n else 1)"
    )
    container = py("c", code, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    apply(
        cluster,
        namespace,
        pod("twice", container, restart="OnFailure", volumes=[{"name": "data", "emptyDir": {}}]),
    )
    wait_for(
        "pod done",
        lambda: (
            get(cluster, namespace, "pod", "twice").get("status", {}).get("phase") == "Succeeded"
        ),
    )
    assert cluster.kubectl("logs", "-n", namespace, "twice").stdout == "run 1\n"
    assert cluster.kubectl("logs", "-n", namespace, "twice", "--previous").stdout == "run 0\n"
    stamped = cluster.kubectl("logs", "-n", namespace, "twice", "--timestamps").stdout
    assert stamped.endswith(" run 1\n") and stamped[:4].isdigit()
    status = get(cluster, namespace, "pod", "twice")["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1


def test_namespace_deletion_completes(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        web_deployment("v1"),
        job("sleepy", py("s", "import time; time.sleep(600)")),
    )
    wait_for(
        "pods running",
        lambda: (
            len([p for p in pods(cluster, namespace) if p["status"].get("phase") == "Running"]) == 3
        ),
    )
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    wait_for(
        "namespace gone",
        lambda: cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0,
        timeout=90,
    )


def test_agent_restart_loses_no_pod_and_runs_none_twice(cluster: Cluster, namespace: str) -> None:
    starts = "import os, time\nopen('/data/starts', 'a').write('x')\n"
    vol = {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    long = pod(
        "long",
        py("c", starts + "time.sleep(600)", **vol),
        restart="Always",
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    short = pod(
        "short", py("c", "import time; time.sleep(4); open('/dev/termination-log','w').write('ok')")
    )
    apply(cluster, namespace, long, short)

    def running(name: str) -> bool:
        return bool(
            get(cluster, namespace, "pod", name).get("status", {}).get("phase") == "Running"
        )

    wait_for("pods running", lambda: running("long") and running("short"))
    before = get(cluster, namespace, "pod", "long")["status"]
    cluster.stop_agent(kill=True)
    try:
        time.sleep(6)  # "short" finishes while no agent is watching
    finally:
        cluster.start_agent()
    wait_for(
        "short Succeeded",
        lambda: get(cluster, namespace, "pod", "short")["status"]["phase"] == "Succeeded",
    )
    term = get(cluster, namespace, "pod", "short")["status"]["containerStatuses"][0]["state"][
        "terminated"
    ]
    assert (term["exitCode"], term["message"]) == (0, "ok")
    time.sleep(2)
    after = get(cluster, namespace, "pod", "long")["status"]
    assert after["phase"] == "Running"
    assert after["podIP"] == before["podIP"]
    assert after["containerStatuses"][0]["restartCount"] == 0
    assert (
        after["containerStatuses"][0]["state"]["running"]
        == before["containerStatuses"][0]["state"]["running"]
    )
    out = cluster.kubectl("exec", "-n", namespace, "long", "--", "cat", "/data/starts", check=False)
    if out.returncode != 0:  # no exec endpoint: read the emptyDir on the host instead
        uid = get(cluster, namespace, "pod", "long")["metadata"]["uid"]
        data = (cluster.agent_state_dir / "pods" / uid / "volumes" / "data" / "starts").read_text()
    else:
        data = out.stdout
    assert data == "x"
