#!/usr/bin/env bash
# Checks for the Debian packages a real localkube node, the image builds and the
# report test (a headless browser) need,
# and installs the missing ones (apt-get update; apt-get install -y ...) when it
# runs as root. Otherwise it prints the exact apt-get line and exits 3.
#
#   hack/localkube/host-packages.sh          check, install what is missing
#   hack/localkube/host-packages.sh --check  check only (exit 3 and the line if missing)
set -euo pipefail
ROOT="${LOCALKUBE_HOST_ROOT:-}"  # tests point this at a fake root

# package -> a file it installs (what we actually use from it)
declare -A NEEDS=(
  [containerd]=/usr/bin/containerd                           # the node's container runtime (CRI)
  [runc]=/usr/sbin/runc                                      # the OCI runtime containerd calls
  [containernetworking-plugins]=/usr/lib/cni/bridge          # CNI bridge, host-local, loopback
  [iptables]=/usr/sbin/iptables                              # kube-proxy's Service rules (inside the node netns)
  [conntrack]=/usr/sbin/conntrack                            # kube-proxy clears stale UDP entries
  [iproute2]=/usr/bin/ip                                     # ip netns add/del for the node's namespace
  [buildah]=/usr/bin/buildah                                 # builds the images from the Dockerfiles
  [mmdebstrap]=/usr/bin/mmdebstrap                           # the base image, without a registry
  [chromium]=/usr/bin/chromium                               # headless browser: the run report test draws its charts
)

missing=()
for pkg in "${!NEEDS[@]}"; do
  [[ -e "$ROOT${NEEDS[$pkg]}" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} == 0 ]]; then exit 0; fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort)
line="apt-get install -y --no-install-recommends ${missing[*]}"

if [[ "${1:-}" == "--check" || $(id -u) != 0 || ! -x /usr/bin/apt-get ]]; then
  cat >&2 <<MSG
error: the local cluster's node needs these Debian packages: ${missing[*]}
  Install them (as root) with:
    apt-get update && $line
MSG
  exit 3
fi

echo ">>> Installing host packages for the local node: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >&2; then
  echo "error: installing the host packages failed; run it by hand to see why:" >&2
  echo "    apt-get update && $line" >&2
  exit 3
fi
