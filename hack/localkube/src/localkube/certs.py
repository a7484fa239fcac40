"""The local cluster's PKI: one CA, serving certs, client certs, a service-account key.

Everything is generated on first start and reused afterwards, so kubeconfigs and
tokens stay valid across restarts of the same cluster. Keys are ECDSA P-256
(fast to generate); the service-account key is RSA because that is what every
Kubernetes component and client library accepts without question.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=3650)
_SERVICE_IP = "10.0.0.1"  # first address of --service-cluster-ip-range


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """Paths of every credential the cluster's components use."""

    ca: Pair
    apiserver: Pair
    admin: Pair
    controller_manager: Pair
    scheduler: Pair
    kubelet_client: Pair
    kubelet_serving: Pair
    sa_private: Path
    sa_public: Path


def ensure_pki(directory: Path) -> Pki:
    """Create the PKI in ``directory`` unless it is already complete."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = _paths(directory)
    if _complete(pki):
        return pki
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key)
    _write_pair(pki.ca, ca_cert, ca_key)
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address(_SERVICE_IP)),
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
    ]
    _issue(pki.apiserver, ca_cert, ca_key, cn="kube-apiserver", server=True, sans=sans)
    _issue(pki.admin, ca_cert, ca_key, cn="kubernetes-admin", org="system:masters")
    _issue(pki.controller_manager, ca_cert, ca_key, cn="system:kube-controller-manager")
    _issue(pki.scheduler, ca_cert, ca_key, cn="system:kube-scheduler")
    _issue(
        pki.kubelet_client,
        ca_cert,
        ca_key,
        cn="kube-apiserver-kubelet-client",
        org="system:masters",
    )
    _issue(
        pki.kubelet_serving,
        ca_cert,
        ca_key,
        cn="localkube-node",
        server=True,
        sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pki.sa_private.write_bytes(
        sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pki.sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    for path in directory.iterdir():
        path.chmod(0o600)
    return pki


def _paths(directory: Path) -> Pki:
    def pair(name: str) -> Pair:
        return Pair(cert=directory / f"{name}.crt", key=directory / f"{name}.key")

    return Pki(
        ca=pair("ca"),
        apiserver=pair("apiserver"),
        admin=pair("admin"),
        controller_manager=pair("controller-manager"),
        scheduler=pair("scheduler"),
        kubelet_client=pair("apiserver-kubelet-client"),
        kubelet_serving=pair("kubelet"),
        sa_private=directory / "sa.key",
        sa_public=directory / "sa.pub",
    )


def _complete(pki: Pki) -> bool:
    pairs = [
        pki.ca,
        pki.apiserver,
        pki.admin,
        pki.controller_manager,
        pki.scheduler,
        pki.kubelet_client,
        pki.kubelet_serving,
    ]
    files = [p.cert for p in pairs] + [p.key for p in pairs] + [pki.sa_private, pki.sa_public]
    return all(f.exists() for f in files)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = _name("localkube-ca")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue(
    pair: Pair,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    cn: str,
    org: str | None = None,
    server: bool = False,
    sans: list[x509.GeneralName] | None = None,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, org))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_pair(pair, builder.sign(ca_key, hashes.SHA256()), key)


def _write_pair(pair: Pair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _cluster_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The cluster CA in ``directory`` (made first if missing), to issue more certs from."""
    pki = ensure_pki(directory)
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    return ca_cert, ca_key


def ensure_loopback_serving(directory: Path, pair: Pair, *, cn: str) -> Pair:
    """A serving cert for 127.0.0.1 from the cluster CA in ``directory`` (once): for a host
    process the apiserver calls back, such as a webhook server (caBundle: the cluster CA)."""
    if pair.cert.exists() and pair.key.exists():
        return pair
    ca_cert, ca_key = _cluster_ca(directory)
    pair.cert.parent.mkdir(parents=True, exist_ok=True)
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    _issue(pair, ca_cert, ca_key, cn=cn, server=True, sans=sans)
    return pair


@dataclass(frozen=True)
class NodeCerts:
    """A real node's identities: the kubelet as ``system:node:<name>`` (what the
    Node authorizer and NodeRestriction key on), its serving cert for the node's
    address, and kube-proxy as ``system:kube-proxy`` (bound to system:node-proxier)."""

    kubelet_client: Pair
    kubelet_serving: Pair
    kube_proxy: Pair


def ensure_node_certs(
    directory: Path, *, node_name: str, node_ip: str, index: int = 0
) -> NodeCerts:
    """Issue node ``index``'s certs from the cluster CA in ``directory`` (once)."""
    tag = f"-{index + 1}" if index else ""

    def files(stem: str) -> Pair:
        return Pair(directory / f"{stem}{tag}.crt", directory / f"{stem}{tag}.key")

    certs = NodeCerts(
        kubelet_client=files("node-client"),
        kubelet_serving=files("node-serving"),
        kube_proxy=files("kube-proxy"),
    )
    pairs = (certs.kubelet_client, certs.kubelet_serving, certs.kube_proxy)
    if all(p.cert.exists() and p.key.exists() for p in pairs):
        return certs
    ca_cert, ca_key = _cluster_ca(directory)
    _issue(certs.kubelet_client, ca_cert, ca_key, cn=f"system:node:{node_name}", org="system:nodes")
    serving_sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(node_ip)),
        x509.DNSName(node_name),
    ]
    _issue(certs.kubelet_serving, ca_cert, ca_key, cn=node_name, server=True, sans=serving_sans)
    _issue(certs.kube_proxy, ca_cert, ca_key, cn="system:kube-proxy")
    for pair in pairs:
        pair.key.chmod(0o600)
    return certs
