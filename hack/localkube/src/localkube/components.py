"""The control plane's command lines: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler, for one cluster. Kept apart from ``cluster.py`` so that file
reads as the start-up sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localkube.node import setup as realnode

if TYPE_CHECKING:
    from localkube.cluster import Cluster

CONTROLLERS = (
    "job-controller",
    "deployment-controller",
    "replicaset-controller",
    "garbage-collector-controller",
    "endpointslice-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "namespace-controller",
    "ttl-after-finished-controller",
    # kube-root-ca.crt ConfigMaps feed the projected kube-api-access volumes.
    "root-ca-certificate-publisher-controller",
    # Binds claims to the volumes the local-path-provisioner creates for them.
    "persistentvolume-binder-controller",
    # The StorageObjectInUseProtection admission plugin puts finalizers on claims
    # and volumes; these remove them, so namespaces with PVCs finish deleting.
    "persistentvolumeclaim-protection-controller",
    "persistentvolume-protection-controller",
    "cronjob-controller",
    # The kubelet registers with the not-ready taint; this lifts it.
    "node-lifecycle-controller",
)


def etcd_args(self: Cluster) -> list[str]:
    p = self.state["ports"]
    return [
        str(self.bin_dir / "etcd"),
        "--name",
        "localkube",
        "--data-dir",
        str(self.home / "etcd"),
        "--listen-client-urls",
        f"http://127.0.0.1:{p['etcd']}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{p['etcd']}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{p['etcdPeer']}",
        "--initial-advertise-peer-urls",
        f"http://127.0.0.1:{p['etcdPeer']}",
        "--initial-cluster",
        f"localkube=http://127.0.0.1:{p['etcdPeer']}",
        "--unsafe-no-fsync",  # a throwaway dev/test store: speed over durability
        "--log-level",
        "warn",
    ]


def apiserver_args(self: Cluster) -> list[str]:
    p, pki = self.state["ports"], self.pki
    args = [
        str(self.bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={p['apiserver']}",
        f"--tls-cert-file={pki.apiserver.cert}",
        f"--tls-private-key-file={pki.apiserver.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--authorization-mode=RBAC",
        "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        f"--kubelet-client-certificate={pki.kubelet_client.cert}",
        f"--kubelet-client-key={pki.kubelet_client.key}",
        f"--kubelet-certificate-authority={pki.ca.cert}",
        "--kubelet-preferred-address-types=InternalIP",
        # Loopback here; node.setup.apiserver_args (below) puts the node's
        # authorizer, its forwarder's address and the egress proxy in.
        "--endpoint-reconciler-type=none",
        f"--requestheader-client-ca-file={pki.ca.cert}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--allow-privileged=false",
        "--profiling=false",
        f"--cert-dir={self.home / 'pki' / 'generated'}",
        "--v=1",
    ]
    return realnode.apiserver_args(args, self.node_layout)


def controller_manager_args(self: Cluster) -> list[str]:
    pki, kc = self.pki, str(self.home / "controller-manager.kubeconfig")
    return [
        str(self.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--bind-address=127.0.0.1",
        f"--secure-port={self.state['ports']['cm']}",
        f"--controllers={','.join(CONTROLLERS)}",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_private}",
        f"--root-ca-file={pki.ca.cert}",
        "--leader-elect=false",
        "--concurrent-gc-syncs=5",
        "--v=1",
    ]


def scheduler_args(self: Cluster) -> list[str]:
    kc = str(self.home / "scheduler.kubeconfig")
    return [
        str(self.bin_dir / "kube-scheduler"),
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--leader-elect=false",
        "--v=1",
    ]
