"""How the agent reads pods: env resolution, mount plans, volume files, logs, IPs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from localkube.agent import crilog
from localkube.agent.containerspec import identity, unsupported_feature
from localkube.agent.envvars import NO_COMMAND, Blocked, Objects, expand, resolve_argv, resolve_env
from localkube.agent.ipam import next_free_ip
from localkube.agent.mountplan import VolumeSource, plan_mounts, plan_volumes
from localkube.agent.node import node_status
from localkube.agent.volumes import token_needs, volume_files

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "x"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "sa"},
    "status": {"podIP": "127.1.0.7"},
}
OBJECTS = Objects(
    configmaps={"cfg": {"data": {"mode": "fast", "A": "1"}}, "gone": None},
    secrets={"s": {"data": {"token": base64.b64encode(b"t0k").decode()}}},
)


def env_of(container: dict[str, Any]) -> dict[str, str] | Blocked:
    return resolve_env(
        container, POD, objects=OBJECTS, base={"PATH": "/bin"}, node_capacity={"cpu": "4"}
    )


def test_env_sources_in_order_with_expansion() -> None:
    env = env_of(
        {
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "C_"}],
            "env": [
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "URL", "value": "http://$(IP):80/$$(IP)"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {
                    "name": "OPT",
                    "valueFrom": {
                        "configMapKeyRef": {"name": "gone", "key": "k", "optional": True}
                    },
                },
            ],
        }
    )
    assert env == {
        "PATH": "/bin",
        "C_mode": "fast",
        "C_A": "1",
        "IP": "127.1.0.7",
        "URL": "http://127.1.0.7:80/$(IP)",
        "TOKEN": "t0k",
        "SA": "sa",
        "APP": "x",
        "CPU": "4",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}],
            'configmap "gone" not found',
        ),
        (
            [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "zz"}}}],
            "couldn't find key zz in ConfigMap ns/cfg",
        ),
        (
            [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}],
            'secret "nope" not found',
        ),
    ],
)
def test_unsatisfied_references_are_config_errors(env: list[dict[str, Any]], message: str) -> None:
    assert env_of({"env": env}) == Blocked("CreateContainerConfigError", message)


def test_argv_needs_a_command_and_expands_variables() -> None:
    assert resolve_argv({"image": "x"}, {}) == Blocked("CreateContainerError", NO_COMMAND)
    assert resolve_argv({"command": ["echo"], "args": ["$(A)", "$(B)"]}, {"A": "1"}) == [
        "echo",
        "1",
        "$(B)",
    ]
    assert expand("$$$(A)", {"A": "x"}.get) == "$x"


def test_run_as_non_root_without_a_uid_is_refused() -> None:
    pod = {**POD, "spec": {"securityContext": {"runAsNonRoot": True, "fsGroup": 5}}}
    refused = identity(pod, {"name": "c"})
    assert isinstance(refused, Blocked) and "runAsNonRoot" in refused.message
    who = identity(pod, {"name": "c", "securityContext": {"runAsUser": 1000}})
    assert not isinstance(who, Blocked)
    assert (who.uid, who.gid, who.groups) == (1000, None, (5,))


def test_volume_plan_and_mounts(tmp_path: Path) -> None:
    pod = {
        **POD,
        "spec": {
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {
                    "name": "data",
                    "persistentVolumeClaim": {"claimName": "models", "readOnly": True},
                },
                {"name": "cfg", "configMap": {"name": "cfg"}},
                {"name": "host", "hostPath": {"path": "/srv"}},
            ]
        },
    }
    plan = plan_volumes(pod, pod_dir=tmp_path / "pod", state_dir=tmp_path)
    assert not isinstance(plan, Blocked)
    assert plan["data"].host_path == tmp_path / "pvc" / "ns" / "models"
    assert plan["scratch"].host_path == tmp_path / "pod" / "volumes" / "scratch"
    container = {
        "volumeMounts": [
            {"name": "data", "mountPath": "/models"},
            {"name": "scratch", "mountPath": "/work", "subPath": "a"},
            {"name": "cfg", "mountPath": "/etc/app"},
        ],
        "terminationMessagePath": "/tmp/msg",
    }
    mounts = plan_mounts(
        container, plan, env={}, termination_file=tmp_path / "t", is_dir=lambda _: True
    )
    assert not isinstance(mounts, Blocked)
    assert [(m.target, m.read_only) for m in mounts] == [
        ("/models", True),
        ("/work", False),
        ("/etc/app", True),
        ("/tmp/msg", False),
    ]
    assert mounts[1].source == str(tmp_path / "pod" / "volumes" / "scratch" / "a")


def test_unsupported_volume_type_is_named(tmp_path: Path) -> None:
    pod = {**POD, "spec": {"volumes": [{"name": "v", "iscsi": {}}]}}
    blocked = plan_volumes(pod, pod_dir=tmp_path, state_dir=tmp_path)
    assert isinstance(blocked, Blocked) and blocked.reason == "UnsupportedVolume"
    assert 'volume "v" has type iscsi' in blocked.message


def test_projected_service_account_volume_files() -> None:
    volume = {
        "name": "kube-api-access-x",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "cfg", "items": [{"key": "A", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ]
        },
    }
    pod = {**POD, "spec": {**POD["spec"], "volumes": [volume]}}
    (need,) = token_needs(pod)
    assert (need.path, need.seconds, need.audience) == ("token", 3607, None)
    files = volume_files(
        volume, pod, objects=OBJECTS, tokens={("kube-api-access-x", "token"): "jwt"}
    )
    assert files == {"token": (b"jwt", 0o644), "ca.crt": (b"1", 0o644), "namespace": (b"ns", 0o644)}


def test_missing_configmap_volume_blocks_unless_optional() -> None:
    volume = {"name": "v", "configMap": {"name": "gone"}}
    blocked = volume_files(volume, POD, objects=OBJECTS, tokens={})
    assert isinstance(blocked, Blocked) and 'configmap "gone" not found' in blocked.message
    optional = {"name": "v", "configMap": {"name": "gone", "optional": True}}
    assert volume_files(optional, POD, objects=OBJECTS, tokens={}) == {}


def test_cri_log_round_trip_and_rendering() -> None:
    lines = [
        crilog.format_line(1.5, "stdout", b"hello", partial=False),
        crilog.format_line(2.0, "stderr", b"par", partial=True),
        crilog.format_line(2.1, "stderr", b"tial", partial=False),
        crilog.format_line(3.0, "stdout", b"bye", partial=False),
    ]
    entries = crilog.parse(lines)
    assert [e.text for e in entries] == [b"hello", b"partial", b"bye"]
    assert crilog.render(entries) == b"hello\npartial\nbye\n"
    assert crilog.render(entries, tail_lines=1) == b"bye\n"
    assert crilog.render(entries, limit_bytes=3) == b"hel"
    stamped = crilog.render(entries[:1], timestamps=True)
    assert stamped == b"1970-01-01T00:00:01.500000000Z hello\n"
    assert crilog.render(entries, since=crilog.timestamp(2.5)) == b"bye\n"


def test_pod_ips_are_unique_and_skip_network_and_broadcast() -> None:
    assert next_free_ip("127.1", set()) == "127.1.0.2"
    assert next_free_ip("127.1", {"127.1.0.2"}) == "127.1.0.3"
    assert next_free_ip("127.1", set(), hint=255) == "127.1.1.1"


def test_node_status_advertises_the_kubelet_port_and_ready() -> None:
    status = node_status(
        port=10250, capacity={"pods": "250"}, host_ip="127.0.0.1", since=0.0, now=1.0
    )
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_native_sidecars_are_refused_clearly() -> None:
    pod = {**POD, "spec": {"initContainers": [{"name": "side", "restartPolicy": "Always"}]}}
    refused = unsupported_feature(pod)
    assert refused is not None and refused.reason == "UnsupportedFeature"
    assert "side" in refused.message
    assert unsupported_feature(POD) is None


@pytest.mark.parametrize(
    ("mount_path", "rebound"),
    [
        ("/tmp", ["/tmp/co/proj", "/tmp/co/proj/state/workdir"]),  # hides both: bind back
        ("/tmp/co", ["/tmp/co/proj", "/tmp/co/proj/state/workdir"]),
        ("/data", []),  # hides nothing
        ("/tmp/co/proj/state/workdir", ["/tmp/co/proj/state/workdir"]),
    ],
)
def test_a_volume_over_the_project_keeps_the_venv_and_workdir_visible(
    mount_path: str, rebound: list[str]
) -> None:
    volumes = {"scratch": VolumeSource("scratch", "emptyDir", Path("/state/v/scratch"))}
    container = {"volumeMounts": [{"name": "scratch", "mountPath": mount_path}]}
    keep = ((Path("/tmp/co/proj"), True), (Path("/tmp/co/proj/state/workdir"), False))
    mounts = plan_mounts(
        container, volumes, env={}, termination_file=Path("/t"), is_dir=lambda _: True,
        keep_visible=keep,
    )  # fmt: skip
    assert not isinstance(mounts, Blocked)
    extra = mounts[1:-1]
    assert [m.target for m in extra] == rebound
    assert all(m.source == m.target for m in extra)
    assert [m.read_only for m in extra] == [p == "/tmp/co/proj" for p in rebound]
