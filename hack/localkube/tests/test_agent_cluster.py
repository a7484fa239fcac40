"""Acceptance tests of the node agent against the real local cluster.

Every wait is bounded; objects are created with kubectl from plain manifests so
what is tested is exactly what a user would apply.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from localkube.cluster import Cluster

pytestmark = pytest.mark.cluster
T = TypeVar("T")
Json = dict[str, Any]


def wait_for(what: str, fn: Callable[[], T | None], *, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def apply(cluster: Cluster, ns: str, *docs: Json) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(docs))


def get(cluster: Cluster, ns: str, *what: str) -> Json:
    out = cluster.kubectl("get", "-n", ns, *what, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def pods(cluster: Cluster, ns: str, selector: str = "") -> list[Json]:
    args = ["pods", "-l", selector] if selector else ["pods"]
    return list(get(cluster, ns, *args).get("items", []))


def pod(name: str, *containers: Json, restart: str = "Never", **spec: Any) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": list(containers), **spec},
    }


def py(name: str, code: str, **extra: Any) -> Json:
    return {"name": name, "image": "python", "command": ["python", "-u", "-c", code], **extra}


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


def waiting_reason(p: Json) -> tuple[str, str] | None:
    for cs in p.get("status", {}).get("containerStatuses") or []:
        w = cs.get("state", {}).get("waiting")
        if w and w.get("reason") not in (None, "ContainerCreating"):
            return w["reason"], w.get("message", "")
    return None


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


def reason_of(cluster: Cluster, ns: str, name: str) -> tuple[str, str] | None:
    return waiting_reason(get(cluster, ns, "pod", name))


def test_pod_without_command_waits_with_a_clear_reason(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, pod("nocmd", {"name": "c", "image": "python:3.11"}))
    reason, message = wait_for("waiting reason", lambda: reason_of(cluster, namespace, "nocmd"))
    assert reason == "CreateContainerError"
    assert "spell out command" in message


def test_missing_configmap_and_secret_are_config_errors(cluster: Cluster, namespace: str) -> None:
    env_cm = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]
    env_secret = [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "hush", "key": "k"}}}]
    apply(
        cluster,
        namespace,
        pod("cm", py("c", "print(1)", env=env_cm)),
        pod("secret", py("c", "print(1)", env=env_secret)),
    )
    assert wait_for("cm", lambda: reason_of(cluster, namespace, "cm")) == (
        "CreateContainerConfigError",
        'configmap "nope" not found',
    )
    assert wait_for("secret", lambda: reason_of(cluster, namespace, "secret")) == (
        "CreateContainerConfigError",
        'secret "hush" not found',
    )
    # Creating the ConfigMap lets the waiting pod start: no restart of anything needed.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope"}, "data": {"k": "v"}}
    apply(cluster, namespace, cm)
    wait_for(
        "pod ran", lambda: get(cluster, namespace, "pod", "cm")["status"]["phase"] == "Succeeded"
    )


def test_unsupported_volume_fails_the_pod(cluster: Cluster, namespace: str) -> None:
    nfs = {"name": "v", "nfs": {"server": "127.0.0.1", "path": "/exports"}}
    apply(cluster, namespace, pod("nfs", py("c", "print(1)"), volumes=[nfs]))
    status = wait_for(
        "pod Failed",
        lambda: (
            (s := get(cluster, namespace, "pod", "nfs")["status"]).get("phase") == "Failed" and s
        ),
    )
    assert status["reason"] == "UnsupportedVolume"
    assert 'volume "v" has type nfs' in status["message"]


def test_missing_volume_objects_keep_the_pod_waiting(cluster: Cluster, namespace: str) -> None:
    volumes = [{"name": "s", "secret": {"secretName": "absent"}}]
    container = py("c", "print(1)", volumeMounts=[{"name": "s", "mountPath": "/etc/s"}])
    apply(cluster, namespace, pod("vol", container, volumes=volumes))

    def creating() -> str | None:
        for cs in get(cluster, namespace, "pod", "vol")["status"].get("containerStatuses") or []:
            w = cs["state"].get("waiting") or {}
            if "absent" in w.get("message", ""):
                return str(w["message"])
        return None

    assert 'secret "absent" not found' in wait_for("waiting message", creating)


def test_exec_probe_with_absent_binary_fails_visibly(cluster: Cluster, namespace: str) -> None:
    probe = {"exec": {"command": ["/no/such/binary"]}, "periodSeconds": 1, "failureThreshold": 1}
    apply(
        cluster,
        namespace,
        pod(
            "probe", py("c", "import time; time.sleep(600)", readinessProbe=probe), restart="Always"
        ),
    )

    def unhealthy() -> str | None:
        events = get(cluster, namespace, "events", "--field-selector", "reason=Unhealthy")
        msgs = [e["message"] for e in events.get("items", [])]
        return next((m for m in msgs if "/no/such/binary" in m), None)

    message = wait_for("Unhealthy event", unhealthy)
    assert message.startswith("Readiness probe failed:")
    p = get(cluster, namespace, "pod", "probe")
    assert p["status"]["phase"] == "Running"
    assert p["status"]["containerStatuses"][0]["ready"] is False


def test_volumes_env_and_mounts_reach_the_process(cluster: Cluster, namespace: str) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"mode": "fast", "a.txt": "A"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"token": "t0k"},
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    code = (
        "import os\n"
        "e = os.environ\n"
        "print(e['MODE'], e['CFG_a.txt'], e['TOKEN'], e['NODE'], os.getcwd())\n"
        "print(open('/etc/app/a.txt').read(), open('/secrets/token').read())\n"
        "open('/data/out', 'w').write('kept')\n"
        "try:\n    open('/etc/app/new', 'w')\nexcept OSError as e:\n    print('ro', e.errno)\n"
    )
    container = py(
        "c",
        code,
        workingDir="/work/here",
        env=[
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ],
        envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        volumeMounts=[
            {"name": "cfg", "mountPath": "/etc/app"},
            {"name": "s", "mountPath": "/secrets"},
            {"name": "data", "mountPath": "/data"},
        ],
    )
    volumes = [
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "s", "secret": {"secretName": "s"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
    ]
    apply(cluster, namespace, cm, secret, pvc, pod("vols", container, volumes=volumes))
    wait_for(
        "pod done",
        lambda: (
            get(cluster, namespace, "pod", "vols").get("status", {}).get("phase")
            in ("Succeeded", "Failed")
        ),
        timeout=90,
    )
    logs = cluster.kubectl("logs", "-n", namespace, "vols").stdout.splitlines()
    assert logs == [f"fast A t0k {cluster.node_name} /work/here", "A t0k", "ro 30"]
    assert (cluster.agent_state_dir / "pvc" / namespace / "data" / "out").read_text() == "kept"
    assert not Path("/etc/app").exists(), "mounts never touch the host"


def test_init_containers_then_app_with_liveness_restart(cluster: Cluster, namespace: str) -> None:
    vol = {"volumeMounts": [{"name": "w", "mountPath": "/w"}]}
    inits = [
        py("one", "open('/w/order', 'a').write('1')", **vol),
        py("two", "open('/w/order', 'a').write('2')", **vol),
    ]
    live = {
        "exec": {"command": ["test", "-e", "/w/healthy"]},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    app = py(
        "app",
        "import os, time\nprint(open('/w/order').read(), flush=True)\n"
        "open('/w/healthy', 'w').close() if not os.path.exists('/w/ran') else None\n"
        "open('/w/ran', 'w').close()\ntime.sleep(2)\n"
        "os.path.exists('/w/healthy') and os.remove('/w/healthy')\ntime.sleep(600)",
        livenessProbe=live,
        **vol,
    )
    spec = pod("init", app, restart="Always", volumes=[{"name": "w", "emptyDir": {}}])
    spec["spec"]["initContainers"] = inits
    apply(cluster, namespace, spec)

    def restarted() -> Json | None:
        s = get(cluster, namespace, "pod", "init").get("status", {})
        cs = (s.get("containerStatuses") or [{}])[0]
        return s if cs.get("restartCount", 0) >= 1 else None

    status = wait_for("liveness restart", restarted, timeout=90)
    assert [c["state"]["terminated"]["exitCode"] for c in status["initContainerStatuses"]] == [0, 0]
    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 143
    assert cluster.kubectl("logs", "-n", namespace, "init", "--previous").stdout == "12\n"
    events = get(cluster, namespace, "events", "--field-selector", "reason=Killing")
    assert any("failed liveness probe" in e["message"] for e in events["items"])


def test_graceful_deletion_delivers_sigterm_first(cluster: Cluster, namespace: str) -> None:
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n    open('/w/term', 'w').write('got SIGTERM'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('up', flush=True)\ntime.sleep(600)"
    )
    container = py("c", code, volumeMounts=[{"name": "w", "mountPath": "/w"}])
    vol = {
        "name": "w",
        "hostPath": {"path": f"/tmp/localkube-test-{namespace}", "type": "DirectoryOrCreate"},
    }
    apply(cluster, namespace, pod("graceful", container, restart="Always", volumes=[vol]))
    wait_for(
        "running",
        lambda: get(cluster, namespace, "pod", "graceful")["status"].get("phase") == "Running",
    )
    wait_for("started", lambda: "up" in cluster.kubectl("logs", "-n", namespace, "graceful").stdout)
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "-n", namespace, "graceful", "--timeout=60s")
    assert time.monotonic() - t0 < 20, "a process that exits on SIGTERM needs no grace period"
    marker = Path(f"/tmp/localkube-test-{namespace}/term")
    try:
        assert marker.read_text() == "got SIGTERM"
    finally:
        marker.unlink(missing_ok=True)
        marker.parent.rmdir()
