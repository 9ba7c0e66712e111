# shellcheck shell=bash
# Host setup shared by ./scripts/up and ./scripts/test (sourced, never executed).
#
# Every function is idempotent: it checks before it changes anything, so a second run of
# ./scripts/up or ./scripts/test changes nothing on a host that is already set up.
# Facts behind the choices are in ../shared/HOST-NOTES.md (Debian's docker.io + runsc).

PINACLED_ROOT=${PINACLED_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DOCKER_DAEMON_JSON=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/pinacled-dockerd.log}
RUNSC_PATH=${RUNSC_PATH:-/usr/bin/runsc}
TEST_IMAGE=${PINACLED_TEST_IMAGE:-pinacled/testbox:1}

# shellcheck source=runsc.sh
source "$PINACLED_ROOT/scripts/lib/runsc.sh"
# shellcheck source=node.sh
source "$PINACLED_ROOT/scripts/lib/node.sh"

say() { printf '[pinacled] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "host setup needs root (it installs packages and configures dockerd)"
}

# apt-get only for what is missing; apt-get update at most once per run.
_apt_updated=0
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ $_apt_updated = 0 ]; then apt-get update -qq; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_engine_packages() {
  # docker.io brings dockerd + containerd + runc; runsc is gVisor; busybox-static makes the test
  # image; iptables is what dockerd programs; debootstrap builds the Debian base for pod images.
  # curl and openssl fetch and check Node (node.sh); python3, make and g++ build better-sqlite3
  # where no prebuilt binary can be downloaded (GitHub is out of reach here).
  apt_install docker.io runsc busybox-static iptables debootstrap ca-certificates curl openssl python3 make g++
}

# npm ci when node_modules is missing or older than the lockfile (stamp holds the lockfile hash).
ensure_node_deps() {
  local stamp="$PINACLED_ROOT/node_modules/.pinacled-lock-hash"
  local want
  want=$(sha256sum "$PINACLED_ROOT/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "installing Node dependencies (npm ci)"
  (cd "$PINACLED_ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
}

ensure_build() {
  local stamp="$PINACLED_ROOT/dist/.pinacled-src-hash"
  local want
  want=$(cd "$PINACLED_ROOT" && find src tsconfig.json package-lock.json -type f -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "compiling TypeScript (npm run build)"
  (cd "$PINACLED_ROOT" && rm -rf dist && npm run -s build)
  echo "$want" >"$stamp"
}

docker_up() { docker info >/dev/null 2>&1; }

# Is dockerd managed by a running init system? Then ask it; otherwise start dockerd ourselves.
_systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

start_dockerd() {
  if docker_up; then return 0; fi
  if _systemd_running; then
    say "starting docker.service"
    systemctl start docker
  else
    say "starting dockerd (no init system manages it; log: $DOCKERD_LOG)"
    # docker.service runs dockerd with LimitNOFILE=infinity; do the same, or runc refuses
    # containers whose nofile ulimit exceeds dockerd's own hard limit.
    # setsid: dockerd must not die with this shell or receive its terminal's signals.
    (ulimit -Hn 1048576 2>/dev/null && ulimit -Sn 1048576 2>/dev/null
     exec setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null) &
  fi
  local i
  for i in $(seq 1 120); do
    docker_up && { say "docker engine is up"; return 0; }
    sleep 0.5
  done
  tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
  die "dockerd did not answer within 60 s"
}

# Ask dockerd to reload daemon.json (runtimes reload without touching running containers);
# the caller waits for the result (reload_runtimes in runsc.sh).
reload_dockerd() {
  if _systemd_running && systemctl is-active -q docker 2>/dev/null; then
    systemctl reload docker || systemctl restart docker
  else
    pkill -HUP -x dockerd || true
  fi
}

# The test image: busybox-static in an empty root (no registry here; HOST-NOTES).
ensure_test_image() {
  docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 && return 0
  say "building test image $TEST_IMAGE from busybox-static"
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,workspace,www,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' -c 'CMD ["sh"]' \
    -c 'LABEL dev.pinacle.test-image=true' - "$TEST_IMAGE" >/dev/null
  rm -rf "$root"
}

# Remove sandboxes a failed runsc start can leave behind (HOST-NOTES): containerd tasks in the
# moby namespace that Docker no longer lists.
cleanup_orphan_runsc_tasks() {
  local sock=/var/run/docker/containerd/containerd.sock
  [ -S "$sock" ] || return 0
  command -v ctr >/dev/null || return 0
  local known id
  known=$(docker ps -aq --no-trunc 2>/dev/null || true)
  for id in $(ctr -a "$sock" -n moby tasks ls -q 2>/dev/null || true); do
    grep -q "$id" <<<"$known" && continue
    say "removing leftover runtime task $id"
    ctr -a "$sock" -n moby tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    ctr -a "$sock" -n moby tasks delete -f "$id" >/dev/null 2>&1 || true
    ctr -a "$sock" -n moby containers delete "$id" >/dev/null 2>&1 || true
  done
}

# Install the newest runsc the host can get and register the best working setup (runsc.sh).
configure_runsc() {
  local builds
  mapfile -t builds < <(install_current_runsc)
  [ ${#builds[@]} -gt 0 ] || die "no runsc binary on this host"
  register_runsc "${builds[@]}"
}

# Everything the daemon and the tests need from the host, in order.
host_setup() {
  need_root
  ensure_engine_packages
  ensure_node
  ensure_node_deps
  start_dockerd
  ensure_test_image
  configure_runsc
}
