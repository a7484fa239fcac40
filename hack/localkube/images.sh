#!/usr/bin/env bash
# Builds the images a real localkube node runs, without a registry:
#
#   base      a Debian bookworm root filesystem from mmdebstrap (python3, venv, git,
#             ca-certificates), imported into buildah: the local PYTHON_IMAGE
#   pause     the pod sandbox image (containerd's sandbox_image): base + sleep
#   coredns   cluster DNS: the CoreDNS binary (build.sh dns) alone, as localhost/modelpipe-coredns:local
#   s3        the S3 server `make demo` runs in the cluster: versitygw (build.sh s3) alone,
#             as localhost/modelpipe-s3:local
#   operator  operator/Dockerfile        as ghcr.io/modelpipe/modelpipe-operator:VERSION
#   trainer   trainer-image/Dockerfile   as ghcr.io/modelpipe/modelpipe-trainer:VERSION
#
# Each image is cached outside the repo by a hash of its inputs (the recipe, the
# Dockerfile and every file it copies), saved as a docker-archive that
# `ctr images import` loads into a node. Later calls with unchanged inputs return
# at once.
#
#   hack/localkube/images.sh [all|base|pause|coredns|s3|operator|trainer ...]   build (cached)
#   hack/localkube/images.sh list    "name archive ref" for each image built from
#                                    this tree's current inputs (what a node loads)
#   hack/localkube/images.sh --print-dir
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE_ROOT="${MODELPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelpipe}"
OUT="${CACHE_ROOT}/images"
VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$REPO/charts/modelpipe/Chart.yaml")"
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates,git,passwd
# The host refuses raising rlimits above its hard limits; RUN steps must ask for less.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

if [[ "${1:-}" == "--print-dir" ]]; then echo "$OUT"; exit 0; fi

bah() { buildah --root "$OUT/storage" --runroot "$OUT/run" --storage-driver overlay "$@"; }
log() { echo ">>> $*" >&2; }
hash_of() { sha256sum | cut -c1-16; }

# The hash of a recipe string plus the content of files (paths relative to REPO).
inputs_hash() {
  local recipe="$1"; shift
  {
    echo "$recipe"
    [[ $# == 0 ]] || (cd "$REPO" && git ls-files -co --exclude-standard -- "$@" | LC_ALL=C sort | while read -r f; do
      [[ -f "$f" ]] && { echo "$f"; sha256sum < "$f"; }
    done)
  } | hash_of
}

have_archive() { [[ -s "$OUT/$1-$2.tar" ]]; }
# name key start: note a cold build's duration (make bench reports it)
note_build() { printf '{"name": "%s", "seconds": %d}\n' "$1" $(($(date +%s) - $3)) > "$OUT/$1-$2.build.json"; }

save() {  # name key ref: docker-archive for ctr import, written atomically
  bah push --quiet "$3" "docker-archive:$OUT/.$1-$2.tar:$3" >/dev/null
  mv "$OUT/.$1-$2.tar" "$OUT/$1-$2.tar"
  # Keep the three newest archives per image (worktrees share this cache).
  ls -t "$OUT/$1"-*.tar 2>/dev/null | tail -n +4 | while read -r old; do
    rm -f "$old" "${old%.tar}.build.log" "${old%.tar}.build.json"
  done
  bah rmi --prune >/dev/null 2>&1 || true
}

base_key() { inputs_hash "mmdebstrap --variant=apt --include=$BASE_PACKAGES $SUITE v1"; }
base_ref() { echo "localhost/modelpipe-base:$(base_key)"; }
pause_key() { inputs_hash "pause from $(base_ref) sleep v2"; }
pause_ref() { echo "localhost/modelpipe-pause:local"; }

build_base() {
  local key ref; key="$(base_key)"; ref="$(base_ref)"
  if bah inspect --type image "$ref" >/dev/null 2>&1; then return; fi
  local tarball="$OUT/base-$key.rootfs.tar"
  if [[ ! -s "$tarball" ]]; then
    local t0; t0=$(date +%s)
    log "base: mmdebstrap $SUITE with $BASE_PACKAGES (about 2 min, once)"
    mmdebstrap --quiet --format=tar --variant=apt --include="$BASE_PACKAGES" --skip=output/dev \
      "$SUITE" "$tarball.part" >&2
    mv "$tarball.part" "$tarball"
    note_build base "$key" "$t0"
  fi
  log "base: importing as $ref"
  local ctr; ctr="$(bah from scratch)"
  bah add --quiet "$ctr" "$tarball" / >/dev/null
  bah config --cmd '["/bin/bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 "$ctr"
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
}

build_pause() {
  build_base
  local key ref; ref="$(pause_ref)"; key="$(pause_key)"
  if have_archive pause "$key"; then return; fi
  log "pause: $ref (the base with a process that stays alive)"
  local ctr; ctr="$(bah from --pull-never "$(base_ref)")"
  bah config --entrypoint '["/bin/sleep"]' --cmd '["infinity"]' --user 65535:65535 "$ctr"
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
  save pause "$key" "$ref"
}

# Images of one static binary from build.sh, alone, run as user 65532 (coredns, s3).
binary_path() { echo "$("$HERE/build.sh" --print-dir "$1")/$2"; }  # build target, binary
binary_key() { inputs_hash "$2 $(sha256sum < "$(binary_path "$1" "$2")") v1"; }
binary_ref() { echo "localhost/modelpipe-$1:local"; }

build_binary() {  # image build-target binary
  local name="$1" target="$2" binary="$3"
  "$HERE/build.sh" "$target" >/dev/null
  local key ref; ref="$(binary_ref "$name")"; key="$(binary_key "$target" "$binary")"
  if have_archive "$name" "$key"; then return; fi
  log "$name: $ref (the $binary binary alone, as user 65532)"
  local ctr; ctr="$(bah from scratch)"
  bah copy --quiet "$ctr" "$(binary_path "$target" "$binary")" "/$binary" >/dev/null
  bah config --entrypoint "[\"/$binary\"]" --user 65532:65532 "$ctr"
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
  save "$name" "$key" "$ref"
}

list_binary() {  # image build-target binary: its line for `list`, once built
  [[ -x "$(binary_path "$2" "$3")" ]] || return 0
  local k; k="$(binary_key "$2" "$3")"
  if have_archive "$1" "$k"; then echo "$1 $OUT/$1-$k.tar $(binary_ref "$1")"; fi
}

# The Dockerfile, its context and the files it copies (relative to REPO).
OPERATOR_INPUTS=(operator/Dockerfile . operator/Dockerfile.dockerignore pyproject.toml README.md
  operator/requirements.lock operator/modelpipe trainer-image/contract)
TRAINER_INPUTS=(trainer-image/Dockerfile trainer-image trainer-image/requirements-build.lock
  trainer-image/requirements.lock trainer-image/pyproject.toml trainer-image/src trainer-image/contract)
dockerfile_ref() { echo "ghcr.io/modelpipe/modelpipe-$1:$VERSION"; }
dockerfile_key() {  # name dockerfile context files...
  local name="$1" dockerfile="$2"; shift 3
  inputs_hash "$name from $(base_ref) $VERSION v1" "$dockerfile" "$@"
}

build_dockerfile() {
  local name="$1" dockerfile="$2" context="$3"
  build_base
  local ref key; ref="$(dockerfile_ref "$name")"; key="$(dockerfile_key "$@")"
  if have_archive "$name" "$key"; then return; fi
  log "$name: buildah build -f $dockerfile ($ref)"
  local t0; t0=$(date +%s)
  local mounts=()
  [[ -f "$REPO/$dockerfile.dockerignore" ]] && mounts+=(--ignorefile "$REPO/$dockerfile.dockerignore")
  # Builds reach PyPI and Debian as this host does: with its CA bundle and pip config.
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] &&
    mounts+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  [[ -f /etc/pip.conf ]] && mounts+=(--volume /etc/pip.conf:/etc/pip.conf:ro)
  local logfile="$OUT/$name-$key.build.log"
  if ! (cd "$REPO" && bah build --layers --pull-never --network host "${ULIMITS[@]}" "${mounts[@]}" \
      --build-arg "PYTHON_IMAGE=$(base_ref)" --build-arg "VCS_REF=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
      -f "$dockerfile" -t "$ref" "$context") > "$logfile" 2>&1; then
    echo "error: building the $name image failed at this step:" >&2
    grep -E '^STEP [0-9]+/[0-9]+' "$logfile" | tail -1 >&2 || true
    echo "  its output ends with:" >&2
    tail -25 "$logfile" | sed 's/^/    /' >&2
    echo "  full log: $logfile" >&2
    exit 1
  fi
  save "$name" "$key" "$ref"
  note_build "$name" "$key" "$t0"
}

if [[ "${1:-}" == list ]]; then
  k="$(pause_key)"; have_archive pause "$k" && echo "pause $OUT/pause-$k.tar $(pause_ref)"
  list_binary coredns dns coredns
  list_binary s3 s3 versitygw
  k="$(dockerfile_key operator "${OPERATOR_INPUTS[@]}")"
  have_archive operator "$k" && echo "operator $OUT/operator-$k.tar $(dockerfile_ref operator)"
  k="$(dockerfile_key trainer "${TRAINER_INPUTS[@]}")"
  have_archive trainer "$k" && echo "trainer $OUT/trainer-$k.tar $(dockerfile_ref trainer)"
  exit 0
fi
for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { "$HERE/host-packages.sh"; break; }
done
mkdir -p "$OUT"
# One build at a time per cache: two runs (two worktrees, or a test beside make images)
# would build the same image twice at once and race on buildah's store.
exec 8>"$OUT/.lock"
if ! flock -n 8; then log "another images.sh is building into $OUT: waiting for it"; flock 8; fi
targets=("$@"); [[ ${#targets[@]} == 0 || "${targets[0]}" == all ]] && targets=(pause coredns s3 operator trainer)
for t in "${targets[@]}"; do
  start=$(date +%s)
  case "$t" in
    base) build_base ;;
    pause) build_pause ;;
    coredns) build_binary coredns dns coredns ;;
    s3) build_binary s3 s3 versitygw ;;
    operator) build_dockerfile operator "${OPERATOR_INPUTS[@]}" ;;
    trainer) build_dockerfile trainer "${TRAINER_INPUTS[@]}" ;;
    *) echo "error: unknown image '$t' (base, pause, coredns, s3, operator, trainer, all)" >&2; exit 2 ;;
  esac
  log "$t: ready ($(($(date +%s) - start))s)"
done
