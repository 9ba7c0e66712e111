# shellcheck shell=bash
# gVisor for ./scripts/up and ./scripts/test (sourced by host.sh, never executed).
#
# Two steps, both idempotent:
#   install_current_runsc  gets the newest runsc this host can reach, beside the distribution's
#   register_runsc         probes which build + network stack really starts a pod here, and
#                          registers the best one in dockerd as `runsc`, plus one runtime per
#                          platform (`runsc-systrap`, `runsc-ptrace`) with the same build and network
#
# Why (measured, see README "gVisor builds"): Debian 12's runsc is a 2022 build whose only
# platform is ptrace (200k syscalls: 15 s); Debian 13's 2024 build defaults to systrap (1.4 s)
# and is one static binary that runs on Debian 12, so we take that one file and nothing else
# from 13. Both builds refuse gVisor's own network stack (netstack) under Docker on this kernel:
# their "am I in the root network namespace" check looks for /proc/sys/net/core/rmem_default,
# which this kernel shows in every namespace (gVisor issue 10704, fixed upstream in
# release-20240801, which no reachable registry carries). A wrapper that runs runsc in a private
# mount namespace with an empty tmpfs over /proc/sys/net makes the check pass; netstack itself
# never reads the host's /proc/sys/net. `--network=host` stays the last fallback, said loudly.

PINACLED_LIB=${PINACLED_LIB:-/usr/local/lib/pinacled}
# The runtime name pods use by default; one more per platform: $RUNSC_NAME-systrap, -ptrace.
RUNSC_NAME=${RUNSC_NAME:-runsc}
RUNSC_STATE=${RUNSC_STATE:-/var/lib/pinacled/runsc.json}
# gVisor's own release channel; most of our hosts cannot reach it (then: Debian 13's package).
GVISOR_RELEASE_URL=${GVISOR_RELEASE_URL:-https://storage.googleapis.com/gvisor/releases/release/latest/x86_64}
DEBIAN_NEXT_SUITE=${DEBIAN_NEXT_SUITE:-trixie}

# Prints the build date of a runsc binary (YYYYMMDD), or nothing.
runsc_build() {
  "$1" --version 2>/dev/null | sed -nE '1s/.*(20[0-9]{6}).*/\1/p'
}

# gVisor's release, checked against its published sha512. Fails fast where it is unreachable.
_install_runsc_release() {
  local dir=$PINACLED_LIB/runsc-release tmp
  command -v curl >/dev/null || return 1
  tmp=$(mktemp -d)
  if curl -fsS --connect-timeout 3 --max-time 60 -o "$tmp/runsc" "$GVISOR_RELEASE_URL/runsc" 2>/dev/null &&
    curl -fsS --connect-timeout 3 --max-time 10 -o "$tmp/runsc.sha512" "$GVISOR_RELEASE_URL/runsc.sha512" 2>/dev/null &&
    (cd "$tmp" && sha512sum -c runsc.sha512 >/dev/null 2>&1); then
    install -D -m 0755 "$tmp/runsc" "$dir/runsc"
    rm -rf "$tmp"
    printf '%s\n' "$dir/runsc"
    return 0
  fi
  rm -rf "$tmp"
  return 1
}

# The next Debian release's runsc package, unpacked into $PINACLED_LIB: a private apt state, so
# nothing else from that release reaches this host (apt verifies it with Debian's keyring).
_install_runsc_debian_next() {
  local dir=$PINACLED_LIB/runsc-debian-$DEBIAN_NEXT_SUITE
  local apt=/var/lib/pinacled/apt-$DEBIAN_NEXT_SUITE
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
    "$DEBIAN_NEXT_SUITE" >"$apt/sources.list"
  local o=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  # A day-old package list is fresh enough: a second setup run costs no network round trip.
  if [ -x "$dir/runsc" ] && [ -n "$(find "$apt/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    "$dir/runsc" --version >/dev/null 2>&1 && { printf '%s\n' "$dir/runsc"; return 0; }
  fi
  apt-get "${o[@]}" update -qq >/dev/null 2>&1 || return 1
  local want have=
  want=$(apt-cache "${o[@]}" policy runsc 2>/dev/null | sed -nE 's/^ *Candidate: *//p')
  [ -n "$want" ] && [ "$want" != "(none)" ] || return 1
  [ -f "$dir/VERSION" ] && have=$(cat "$dir/VERSION")
  if [ "$have" != "$want" ] || [ ! -x "$dir/runsc" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get "${o[@]}" download runsc >/dev/null 2>&1) || { rm -rf "$tmp"; return 1; }
    dpkg-deb -x "$tmp"/runsc_*.deb "$tmp/root" || { rm -rf "$tmp"; return 1; }
    install -D -m 0755 "$tmp/root/usr/bin/runsc" "$dir/runsc"
    printf '%s\n' "$want" >"$dir/VERSION"
    rm -rf "$tmp"
  fi
  "$dir/runsc" --version >/dev/null 2>&1 || return 1
  printf '%s\n' "$dir/runsc"
}

# Prints the candidate builds, newest first, one path a line; says which it found and why.
install_current_runsc() {
  local found=() p
  if p=$(_install_runsc_release); then
    say "runsc: gVisor's own release $(runsc_build "$p") ($p)"
    found+=("$p")
  elif p=$(_install_runsc_debian_next); then
    say "runsc: gVisor's release channel is unreachable; using Debian $DEBIAN_NEXT_SUITE's build $(runsc_build "$p") ($p, nothing else taken from $DEBIAN_NEXT_SUITE)"
    found+=("$p")
  else
    say "runsc: neither gVisor's release nor Debian $DEBIAN_NEXT_SUITE's package is reachable; only the distribution's build"
  fi
  [ -x "$RUNSC_PATH" ] && found+=("$RUNSC_PATH")
  local b
  for p in "${found[@]}"; do
    b=$(runsc_build "$p")
    printf '%s %s\n' "${b:-0}" "$p"
  done | sort -rn -k1,1 | awk '!seen[$1]++ {print $2}'
}

# The netstack wrapper for one build (see the header for why it exists).
_netstack_wrapper() {
  local bin=$1 w
  w="$PINACLED_LIB/runsc-netstack-$(runsc_build "$bin")"
  local body
  body=$(cat <<EOF
#!/bin/sh
# Written by pinacled's host setup. runsc's root-network-namespace check reads
# /proc/sys/net/core/rmem_default, which this kernel shows in every namespace (gVisor issue
# 10704): run runsc in a private mount namespace with an empty /proc/sys/net so the check passes.
exec unshare --mount --propagation slave sh -c 'mount -t tmpfs -o size=4k,ro none /proc/sys/net && exec "\$0" "\$@"' $bin "\$@"
EOF
)
  if [ ! -x "$w" ] || [ "$(cat "$w")" != "$body" ]; then
    mkdir -p "$PINACLED_LIB"
    printf '%s\n' "$body" >"$w.tmp" && chmod 0755 "$w.tmp" && mv "$w.tmp" "$w"
  fi
  printf '%s\n' "$w"
}

# Set and delete dockerd runtimes in one rewrite of daemon.json, keeping every other key.
# $1: JSON object {name: {path, runtimeArgs} | null}. Prints "changed" when the file changed.
set_runtimes() {
  mkdir -p "$(dirname "$DOCKER_DAEMON_JSON")"
  node - "$DOCKER_DAEMON_JSON" "$1" <<'NODE'
const fs = require('node:fs');
const [file, changesJson] = process.argv.slice(2);
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
const before = JSON.stringify(cfg);
const runtimes = { ...(cfg.runtimes || {}) };
for (const [name, spec] of Object.entries(JSON.parse(changesJson))) {
  if (spec === null) delete runtimes[name]; else runtimes[name] = spec;
}
cfg.runtimes = runtimes;
if (JSON.stringify(cfg) === before) process.exit(0);
const tmp = `${file}.pinacled-tmp`;
fs.writeFileSync(tmp, JSON.stringify(cfg, null, 2) + '\n');
fs.renameSync(tmp, file);
console.log('changed');
NODE
}

# SIGHUP makes dockerd reload its runtimes without touching running containers; wait until
# `docker info` shows exactly the runtime names of daemon.json.
reload_runtimes() {
  reload_dockerd
  local want i
  want=$(node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
    console.log(Object.keys(c.runtimes||{}).sort().join(" "))' "$DOCKER_DAEMON_JSON")
  for i in $(seq 1 80); do
    local have
    have=$(docker info --format '{{json .Runtimes}}' 2>/dev/null | node -e '
      let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const r=JSON.parse(s);
      console.log(Object.keys(r).filter(n=>n!=="runc"&&n!=="io.containerd.runc.v2"&&n!=="io.containerd.runtime.v1.linux").sort().join(" "))}catch{}})')
    local w=" $want " ok=1 n
    for n in $want; do [[ " $have " == *" $n "* ]] || ok=0; done
    for n in $have; do [[ "$w" == *" $n "* ]] || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.25
  done
  say "dockerd did not pick up the runtimes of $DOCKER_DAEMON_JSON within 20 s"
  return 1
}

# Starts a throwaway container on the default bridge (netstack's failure shows only with a
# network) under runtime $1; prints `uname -r` from inside.
probe_runtime() {
  local runtime=$1 name="pinacled-runsc-probe-$$-$RANDOM" out rc=0
  out=$(timeout 60 docker run --rm --name "$name" --runtime="$runtime" --label dev.pinacle.probe=true \
    "$TEST_IMAGE" uname -r 2>&1) || rc=$?
  docker rm -f "$name" >/dev/null 2>&1 || true
  [ $rc = 0 ] || { printf '%s\n' "$out" >&2; cleanup_orphan_runsc_tasks; return 1; }
  printf '%s\n' "$out"
}

# Probes every candidate: each build on netstack (plain, then through the wrapper), then each
# build on --network=host, newest build first. Registers the first that starts a pod as
# $RUNSC_NAME (with one runtime per platform of its build), and the fallbacks that also started
# under their own names, so tests can hold them to the same isolation checks:
#   $RUNSC_NAME-hostinet  newest build on --network=host (the last resort of the ladder)
#   $RUNSC_NAME-legacy    the distribution's build on the best network it starts with
# One daemon.json rewrite and one reload for all candidates, another for the result.
register_runsc() {
  local builds=("$@") bin w
  # Keep a registration that still passes its probe: a second run changes nothing.
  if [ -f "$RUNSC_STATE" ] && docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q "\"$RUNSC_NAME\"" &&
    [ "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).builds.join(" "))' "$RUNSC_STATE" 2>/dev/null)" = "${builds[*]}" ] &&
    probe_runtime "$RUNSC_NAME" >/dev/null 2>&1; then
    say "runsc: keeping the registration in $RUNSC_STATE ($(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(`build ${s.build}, ${s.network}, platform ${s.platform}`)' "$RUNSC_STATE"))"
    return 0
  fi
  local cands=()
  for bin in "${builds[@]}"; do
    w=$(_netstack_wrapper "$bin")
    cands+=("netstack $bin $bin" "netstack-wrapped $bin $w")
  done
  for bin in "${builds[@]}"; do cands+=("host $bin $bin"); done
  local table
  table=$(mktemp)
  local i=0 mode path specs='{' sep=''
  for c in "${cands[@]}"; do
    read -r mode bin path <<<"$c"
    specs+="$sep\"pinacled-probe-$i\":{\"path\":\"$path\",\"runtimeArgs\":$([ "$mode" = host ] && echo '["--network=host"]' || echo '[]')}"
    sep=','
    i=$((i + 1))
  done
  specs+='}'
  set_runtimes "$specs" >/dev/null && reload_runtimes
  i=0
  local why
  for c in "${cands[@]}"; do
    read -r mode bin path <<<"$c"
    if probe_runtime "pinacled-probe-$i" >/dev/null 2>/tmp/pinacled-runsc-probe.err; then
      why=ok
    else
      why=$(grep -m1 -oE 'cannot run with network enabled in root network namespace' /tmp/pinacled-runsc-probe.err ||
        grep -v '^\[pinacled\]' /tmp/pinacled-runsc-probe.err | tail -n 1)
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$bin" "$path" "$(runsc_build "$bin")" "$("$bin" --version 2>/dev/null | head -n 1)" "${why:-failed}" >>"$table"
    i=$((i + 1))
  done
  local out
  out=$(node - "$table" "$RUNSC_NAME" "$RUNSC_STATE" "$RUNSC_PATH" "$i" <<'NODE'
const fs = require('node:fs');
const [tableFile, name, stateFile, distro, count] = process.argv.slice(2);
const rows = fs.readFileSync(tableFile, 'utf8').trim().split('\n').map((l) => {
  const [mode, bin, path, build, version, result] = l.split('\t');
  return { mode, bin, path, build: Number(build) || 0, version, ok: result === 'ok', result };
});
const runtimes = {};
for (let i = 0; i < Number(count); i++) runtimes[`pinacled-probe-${i}`] = null;
for (const suffix of ['', '-systrap', '-ptrace', '-hostinet', '-legacy']) runtimes[name + suffix] = null;
const args = (r, extra = []) => [...(r.mode === 'host' ? ['--network=host'] : []), ...extra];
const best = rows.find((r) => r.ok);
if (!best) {
  console.log(JSON.stringify({ runtimes, error: rows.map((r) => `${r.mode} on ${r.build}: ${r.result}`).join('; ') }));
  process.exit(0);
}
// systrap exists since mid-2023; the 2022 build has ptrace only.
const platforms = best.build >= 20230601 ? ['systrap', 'ptrace'] : ['ptrace'];
runtimes[name] = { path: best.path, runtimeArgs: args(best) };
for (const p of platforms) runtimes[`${name}-${p}`] = { path: best.path, runtimeArgs: args(best, [`--platform=${p}`]) };
const hostinet = rows.find((r) => r.ok && r.mode === 'host');
if (hostinet && hostinet !== best) runtimes[`${name}-hostinet`] = { path: hostinet.path, runtimeArgs: args(hostinet) };
const legacy = rows.find((r) => r.ok && r.bin === distro && r.mode !== 'host');
if (legacy && legacy.bin !== best.bin) runtimes[`${name}-legacy`] = { path: legacy.path, runtimeArgs: args(legacy) };
// What each registered name runs, for /readyz, metrics and the tests.
const registered = {};
const describe = (r, platform) => ({ build: r.build, network: r.mode === 'host' ? 'host' : 'netstack', platform });
registered[name] = describe(best, platforms[0]);
for (const p of platforms) registered[`${name}-${p}`] = describe(best, p);
if (runtimes[`${name}-hostinet`]) registered[`${name}-hostinet`] = describe(hostinet, hostinet.build >= 20230601 ? 'systrap' : 'ptrace');
if (runtimes[`${name}-legacy`]) registered[`${name}-legacy`] = describe(legacy, 'ptrace');
const state = {
  registered,
  builds: [...new Set(rows.map((r) => r.bin))],
  binary: best.bin, build: best.build, version: best.version,
  network: best.mode === 'host' ? 'host' : 'netstack', wrapper: best.mode === 'netstack-wrapped',
  platform: platforms[0], platforms,
  fallbacks: Object.keys(runtimes).filter((n) => runtimes[n] && (n.endsWith('-hostinet') || n.endsWith('-legacy'))),
  probes: rows.map((r) => ({ mode: r.mode, build: r.build, result: r.result })),
};
fs.mkdirSync(require('node:path').dirname(stateFile), { recursive: true });
fs.writeFileSync(stateFile, JSON.stringify(state, null, 2) + '\n');
console.log(JSON.stringify({ runtimes, state }));
NODE
)
  rm -f "$table"
  set_runtimes "$(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).runtimes))' "$out")" >/dev/null && reload_runtimes
  local err
  err=$(node -e 'console.log(JSON.parse(process.argv[1]).error || "")' "$out")
  [ -z "$err" ] || die "no runsc build starts a pod on this host: $err"
  node -e '
    const { state: s } = JSON.parse(process.argv[1]); const n = process.argv[2];
    const say = (m) => console.error(`[pinacled] ${m}`);
    if (s.network === "host") {
      say(`runsc: WARNING: no build starts on the gVisor network stack (netstack) here; registered build ${s.build} with --network=host`);
      say("  (network syscalls of pods reach the host kernel; PINACLED_REQUIRE_NETSTACK=true refuses creates instead)");
      for (const p of s.probes) if (p.result !== "ok") say(`  rejected: ${p.mode} on ${p.build}: ${p.result}`);
    } else {
      say(`runsc: registered build ${s.build} on the gVisor network stack (netstack)${s.wrapper ? " (through the /proc/sys/net wrapper, gVisor issue 10704)" : ""}, platform ${s.platform}`);
    }
    say(`runsc: per platform: ${s.platforms.map((p) => `${n}-${p}`).join(", ")}; fallbacks: ${s.fallbacks.join(", ") || "none"}`);
  ' "$out" "$RUNSC_NAME"
}
