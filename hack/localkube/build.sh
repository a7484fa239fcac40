#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl) from their Go modules, into a cache outside the repo.
# Later calls find the cache and return at once.
#
#   build.sh [--print-dir]        the control plane
#   build.sh [--print-dir] node   the real node's kubelet and kube-proxy, cached in
#                                 a directory of their own (the control plane's
#                                 cache stays valid when they are added)
#   build.sh [--print-dir] dns    CoreDNS (cluster DNS for the real node)
#   build.sh [--print-dir] s3     Versity's S3 gateway (versitygw, Apache-2.0), the S3
#                                 server of the tests and the demo (tests/objectstore)
#   build.sh [--print-dir] kueue  Kueue's manager (Apache-2.0), the job queueing controller
#                                 the Kueue path of training admission is tested against;
#                                 its CRDs are taken from the same module (crds/ beside it)
#   build.sh [--print-dir] storage  Rancher's local-path-provisioner (Apache-2.0): a
#                                 directory on the node for every claim
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_VERSION="v1.35.4"
ETCD_VERSION="v3.6.16"
COREDNS_VERSION="v1.15.0"
VERSITYGW_VERSION="$(awk '$1 == "require" && $2 == "github.com/versity/versitygw" { print $3 }' \
  "$HERE/gomod/versitygw/go.mod")"
KUEUE_VERSION="$(awk '$1 == "require" && $2 == "sigs.k8s.io/kueue" { print $3 }' \
  "$HERE/gomod/kueue/go.mod")"
LOCALPATH_VERSION="$(awk '$1 == "require" && $2 == "github.com/rancher/local-path-provisioner" { print $3 }' \
  "$HERE/gomod/localpath/go.mod")"
CACHE_ROOT="${MODELPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelpipe}"
OUT="${CACHE_ROOT}/kube/${KUBE_VERSION}-etcd${ETCD_VERSION}"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

print_dir=0
if [[ "${1:-}" == "--print-dir" ]]; then print_dir=1; shift; fi
TARGET="${1:-control-plane}"
if [[ "$TARGET" == node ]]; then
  OUT="${CACHE_ROOT}/kube/${KUBE_VERSION}-node"
  BINARIES=(kubelet kube-proxy)
elif [[ "$TARGET" == dns ]]; then
  OUT="${CACHE_ROOT}/kube/coredns-${COREDNS_VERSION}"
  BINARIES=(coredns)
elif [[ "$TARGET" == s3 ]]; then
  OUT="${CACHE_ROOT}/versitygw/${VERSITYGW_VERSION}"
  BINARIES=(versitygw)
elif [[ "$TARGET" == kueue ]]; then
  OUT="${CACHE_ROOT}/kueue/${KUEUE_VERSION}"
  BINARIES=(kueue)
elif [[ "$TARGET" == storage ]]; then
  OUT="${CACHE_ROOT}/local-path-provisioner/${LOCALPATH_VERSION}"
  BINARIES=(local-path-provisioner)
elif [[ "$TARGET" != control-plane ]]; then
  echo "error: unknown target '$TARGET' (control-plane, node, dns, s3, kueue, storage)" >&2; exit 2
fi
if [[ $print_dir == 1 ]]; then echo "$OUT"; exit 0; fi

complete=1
for b in "${BINARIES[@]}"; do [[ -x "$OUT/$b" ]] || complete=0; done
if [[ $complete == 1 ]]; then echo "$OUT"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
error: Go is not installed, and the local cluster is built from Go modules.
  Install Go 1.25 or newer (Debian: apt-get install golang-go, if new enough,
  or the official tarball from go.dev/dl) and make sure 'go' is on PATH.
  Then run 'make cluster-up' again. The build is cached in:
    $OUT
MSG
  exit 3
fi

mkdir -p "$OUT"
TMP="$(mktemp -d "$OUT/.build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s)
echo ">>> Building $TARGET binaries (${BINARIES[*]}) into $OUT" >&2
echo ">>> This is a one-time cold build (roughly 10-30 min on 2 cores); later starts reuse it." >&2

# Mirror what kubernetes' hack/lib/version.sh passes, so /version is honest.
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=${KUBE_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=35"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

if [[ "$TARGET" == node ]]; then
  echo ">>> kubernetes ${KUBE_VERSION}: kubelet kube-proxy (a few minutes more, once)" >&2
  (cd "$HERE/gomod/kube" && CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$TMP/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy 2>&1 \
    | awk '{n++; if (n % 200 == 0) { printf(">>>   compiled %d packages (last: %s)\n", n, $0) > "/dev/stderr" } }')
  ETCD_VERSION=none
elif [[ "$TARGET" == dns ]]; then
  echo ">>> CoreDNS ${COREDNS_VERSION}" >&2
  (cd "$HERE/gomod/coredns" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$TMP/coredns" github.com/coredns/coredns)
  KUBE_VERSION="coredns-${COREDNS_VERSION}"; ETCD_VERSION=none
elif [[ "$TARGET" == s3 ]]; then
  echo ">>> versitygw ${VERSITYGW_VERSION} (about 11 min cold on 2 busy cores)" >&2
  (cd "$HERE/gomod/versitygw" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.Version=${VERSITYGW_VERSION}" \
    -o "$TMP/versitygw" github.com/versity/versitygw/cmd/versitygw)
  KUBE_VERSION="versitygw-${VERSITYGW_VERSION}"; ETCD_VERSION=none
elif [[ "$TARGET" == kueue ]]; then
  echo ">>> kueue ${KUEUE_VERSION} (the manager; several minutes cold)" >&2
  (cd "$HERE/gomod/kueue" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$TMP/kueue" sigs.k8s.io/kueue/cmd/kueue)
  # The CRDs and webhook configurations of the same version, from the module cache.
  src="$(cd "$HERE/gomod/kueue" && go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)"
  mkdir -p "$OUT/crds"
  cp "$src"/config/components/crd/bases/*.yaml "$OUT/crds/"
  cp "$src"/config/components/webhook/manifests.yaml "$OUT/webhooks.yaml"
  chmod u+w "$OUT"/crds/*.yaml "$OUT/webhooks.yaml"
  KUBE_VERSION="kueue-${KUEUE_VERSION}"; ETCD_VERSION=none
elif [[ "$TARGET" == storage ]]; then
  echo ">>> local-path-provisioner ${LOCALPATH_VERSION} (about 2 min cold)" >&2
  (cd "$HERE/gomod/localpath" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.VERSION=${LOCALPATH_VERSION}" \
    -o "$TMP/local-path-provisioner" github.com/rancher/local-path-provisioner)
  KUBE_VERSION="local-path-provisioner-${LOCALPATH_VERSION}"; ETCD_VERSION=none
else
echo ">>> [1/2] etcd ${ETCD_VERSION}" >&2
(cd "$HERE/gomod/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$TMP/etcd" .)
echo ">>> [2/2] kubernetes ${KUBE_VERSION}: kube-apiserver kube-controller-manager kube-scheduler kubectl ($(($(date +%s) - start))s elapsed)" >&2
(cd "$HERE/gomod/kube" && CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$TMP/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl 2>&1 \
  | awk '{n++; if (n % 200 == 0) { printf(">>>   compiled %d packages (last: %s)\n", n, $0) > "/dev/stderr" } }')
fi
for b in "${BINARIES[@]}"; do
  [[ -x "$TMP/$b" ]] || { echo "error: $b was not built" >&2; exit 1; }
  mv "$TMP/$b" "$OUT/$b"
done
secs=$(($(date +%s) - start))
printf '{"kube": "%s", "etcd": "%s", "buildSeconds": %d, "go": "%s"}\n' \
  "$KUBE_VERSION" "$ETCD_VERSION" "$secs" "$(go env GOVERSION)" > "$OUT/build-info.json"
echo ">>> Built in ${secs}s: $OUT" >&2
echo "$OUT"
