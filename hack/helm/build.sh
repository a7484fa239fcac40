#!/usr/bin/env bash
# Builds helm from its Go module (helm.sh/helm/v3, pinned in go.mod) into a
# cache outside the repo, like hack/localkube/build.sh does for the cluster.
# Prints the path of the helm binary on stdout; progress goes to stderr.
# Later calls find the cache and return at once.
#   hack/helm/build.sh               build (or reuse) and print the binary path
#   hack/helm/build.sh --print-path  print the binary path without building
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELM_VERSION="$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" { print $3 }' "$HERE/go.mod")"
CACHE_ROOT="${MODELPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelpipe}"
OUT="${CACHE_ROOT}/helm/${HELM_VERSION}"
BIN="$OUT/helm"

if [[ -z "$HELM_VERSION" ]]; then
  echo "error: could not read the helm.sh/helm/v3 version from $HERE/go.mod" >&2
  exit 2
fi
if [[ "${1:-}" == "--print-path" ]]; then echo "$BIN"; exit 0; fi
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
error: Go is not installed, and helm is built from its Go module.
  Install Go 1.26 or newer and make sure 'go' is on PATH, then run
  hack/helm/build.sh again. The build is cached in:
    $OUT
MSG
  exit 3
fi

mkdir -p "$OUT"
TMP="$(mktemp -d "$OUT/.build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s)
echo ">>> Building helm ${HELM_VERSION} into $OUT" >&2
echo ">>> This is a one-time cold build (a few minutes on 2 cores); later calls reuse it." >&2

# Mirror helm's Makefile for a tagged build (no "+unreleased" metadata) so
# 'helm version' and the Kubernetes version that 'helm lint' and 'helm template'
# assume are honest.
cd "$HERE"
kube_minor="$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)"
pkg=helm.sh/helm/v3
ldflags="-w -s"
ldflags+=" -X $pkg/internal/version.version=${HELM_VERSION}"
ldflags+=" -X $pkg/internal/version.metadata="
# gitCommit stays empty: the module proxy does not tell us the release's commit,
# and a made-up one would be worse than none.
ldflags+=" -X $pkg/internal/version.gitTreeState=clean"
for p in "$pkg/pkg/lint/rules" "$pkg/pkg/chartutil"; do
  ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=${kube_minor}"
done

total="$(go list -deps "$pkg/cmd/helm" | wc -l)"
CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$TMP/helm" "$pkg/cmd/helm" 2>&1 \
  | awk -v total="$total" '{n++; if (n % 50 == 0) { printf(">>>   compiled %d of at most %d packages (last: %s)\n", n, total, $0) > "/dev/stderr" } }'
[[ -x "$TMP/helm" ]] || { echo "error: helm was not built" >&2; exit 1; }
"$TMP/helm" version --short >&2
mv "$TMP/helm" "$BIN"
echo ">>> Built in $(($(date +%s) - start))s: $BIN" >&2
echo "$BIN"
