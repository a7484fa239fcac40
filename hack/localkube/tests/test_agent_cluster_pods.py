"""Acceptance tests of the node agent against the real local cluster: pod spec fields.

Waiting reasons and config errors, volumes (supported, unsupported, missing), env and
mounts, exec probes, init containers and liveness restarts, and SIGTERM on deletion.
Every wait is bounded; the helpers are in cluster_helpers.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hack.localkube.tests.cluster_helpers import Json, apply, get, pod, py

from localkube.cluster import Cluster
from localkube.waiting import wait_for

pytestmark = pytest.mark.cluster


def waiting_reason(p: Json) -> tuple[str, str] | None:
    for cs in p.get("status", {}).get("containerStatuses") or []:
        w = cs.get("state", {}).get("waiting")
        if w and w.get("reason") not in (None, "ContainerCreating"):
            return w["reason"], w.get("message", "")
    return None


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
