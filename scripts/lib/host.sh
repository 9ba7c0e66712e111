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
  apt_install docker.io runsc busybox-static iptables debootstrap ca-certificates
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

# Merge {"runtimes": {"runsc": {...}}} into daemon.json without touching any other key.
# Prints "changed" when the file was rewritten.
merge_runsc_runtime() {
  local args_json=$1
  mkdir -p "$(dirname "$DOCKER_DAEMON_JSON")"
  node - "$DOCKER_DAEMON_JSON" "$RUNSC_PATH" "$args_json" <<'NODE'
const fs = require('node:fs');
const [file, path, argsJson] = process.argv.slice(2);
let cfg = {};
if (fs.existsSync(file)) {
  const text = fs.readFileSync(file, 'utf8').trim();
  if (text) {
    try { cfg = JSON.parse(text); } catch (e) {
      console.error(`${file} is not valid JSON (${e.message}); fix it by hand, pinacled will not overwrite it`);
      process.exit(3);
    }
  }
}
const want = { path, runtimeArgs: JSON.parse(argsJson) };
const have = cfg.runtimes && cfg.runtimes.runsc;
if (JSON.stringify(have) === JSON.stringify(want)) process.exit(0);
cfg.runtimes = { ...(cfg.runtimes || {}), runsc: want };
const tmp = `${file}.pinacled-tmp`;
fs.writeFileSync(tmp, JSON.stringify(cfg, null, 2) + '\n');
fs.renameSync(tmp, file);
console.log('changed');
NODE
}

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

reload_dockerd() {
  if _systemd_running && systemctl is-active -q docker 2>/dev/null; then
    systemctl reload docker || systemctl restart docker
  else
    pkill -HUP -x dockerd || true
  fi
  # SIGHUP reloads runtimes asynchronously; wait until `docker info` lists the new config.
  local i
  for i in $(seq 1 40); do
    docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && return 0
    sleep 0.25
  done
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

# Runs a throwaway container under runsc; prints `uname -r` from inside, fails when runsc fails.
_runsc_probe() {
  local name="pinacled-runsc-probe-$$"
  local out rc=0
  # On the default bridge, as pods with a network: netstack's failure shows only with one.
  out=$(timeout 60 docker run --rm --name "$name" --runtime=runsc --label dev.pinacle.probe=true \
    "$TEST_IMAGE" uname -r 2>&1) || rc=$?
  docker rm -f "$name" >/dev/null 2>&1 || true
  [ $rc = 0 ] || { printf '%s\n' "$out" >&2; return 1; }
  printf '%s\n' "$out"
}

# Register runsc and find out whether its own network stack (netstack) works on this kernel.
# The packaged runsc refuses netstack on new kernels ("cannot run with network enabled in root
# network namespace", gVisor issue 10704); then we fall back to --network=host, which still runs
# each pod in its own network namespace (HOST-NOTES).
configure_runsc() {
  local current
  current=$(node -e '
    const fs=require("fs"); try { const c=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));
    const r=c.runtimes&&c.runtimes.runsc; if(r) console.log(JSON.stringify(r.runtimeArgs||[])); } catch {}' \
    "$DOCKER_DAEMON_JSON")
  if [ -n "$current" ] && docker info --format '{{json .Runtimes}}' | grep -q '"runsc"'; then
    # Already registered: verify it still runs, and keep the configuration as it is.
    if _runsc_probe >/dev/null 2>&1; then return 0; fi
    say "the registered runsc runtime fails a probe; probing again"
  fi
  if [ "$(merge_runsc_runtime '[]')" = changed ]; then reload_dockerd; fi
  local out
  if out=$(_runsc_probe 2>/tmp/pinacled-runsc-probe.err); then
    say "runsc with its own network stack works (uname -r in the sandbox: $out)"
    return 0
  fi
  if grep -q 'network enabled in root network namespace' /tmp/pinacled-runsc-probe.err; then
    say "runsc's own network stack fails on this kernel (gVisor issue 10704):"
    say "  registering runsc with --network=host: pods keep their own network namespace, but"
    say "  network syscalls reach the host kernel instead of gVisor's netstack"
  else
    say "runsc probe failed: $(tail -n 3 /tmp/pinacled-runsc-probe.err | tr '\n' ' ')"
    say "trying runsc with --network=host"
  fi
  cleanup_orphan_runsc_tasks
  if [ "$(merge_runsc_runtime '["--network=host"]')" = changed ]; then reload_dockerd; fi
  out=$(_runsc_probe) || { cleanup_orphan_runsc_tasks; die "runsc does not start containers on this host"; }
  say "runsc works with --network=host (uname -r in the sandbox: $out)"
}

# Everything the daemon and the tests need from the host, in order.
host_setup() {
  need_root
  ensure_engine_packages
  ensure_node_deps
  start_dockerd
  ensure_test_image
  configure_runsc
}
