# shellcheck shell=bash
# A supported Node.js for the daemon and the test suite (sourced by host.sh, never executed).
#
# Debian 12's nodejs is 18, older than the daemon supports (20). When `node` is missing or older
# than NODE_MIN_MAJOR, this installs the pinned Node 20 from the npm registry, which these
# hosts reach (nodejs.org and GitHub they do not): package node-linux-<arch> holds the official
# build's bin/node and its headers, package npm holds npm. Both are checked against the
# registry's sha512 pinned below, unpacked under /usr/local/lib/pinacled/ and linked into
# /usr/local/bin (ahead of /usr/bin in PATH, so Debian's own nodejs package stays untouched).
# npm is pointed at the unpacked headers (npm_config_nodedir): native addons (better-sqlite3)
# then build without fetching headers from nodejs.org.

NODE_MIN_MAJOR=${NODE_MIN_MAJOR:-20}
NODE_VERSION=20.20.2
NPM_VERSION=10.9.9
NODE_REGISTRY=${NODE_REGISTRY:-https://registry.npmjs.org}
NODE_PREFIX_ROOT=${NODE_PREFIX_ROOT:-/usr/local/lib/pinacled}
NODE_BIN_DIR=${NODE_BIN_DIR:-/usr/local/bin}

# sha512 integrity of each tarball, as the registry publishes it (dist.integrity).
declare -A NODE_INTEGRITY=(
  [x64]='PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ=='
  [arm64]='LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg=='
)
NPM_INTEGRITY='1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg=='

_node_say() { printf '[pinacled] %s\n' "$*" >&2; }

# The major version of the `node` on PATH, or 0 when there is none (or it does not run).
node_major() {
  local v
  v=$(node -p 'process.versions.node' 2>/dev/null) || { echo 0; return; }
  echo "${v%%.*}"
}

# Downloads $1 to $2 and checks it against the base64 sha512 $3.
_node_fetch() {
  local url=$1 out=$2 want=$3 got
  curl -fsSL --retry 3 -o "$out" "$url" || { _node_say "error: cannot download $url"; return 1; }
  got=$(openssl dgst -sha512 -binary "$out" | base64 -w0)
  [ "$got" = "$want" ] || { _node_say "error: $url does not match its pinned sha512"; return 1; }
}

# Installs the pinned Node and npm unless a new enough `node` is already on PATH.
ensure_node() {
  local major arch prefix tmp
  major=$(node_major)
  if [ "$major" -ge "$NODE_MIN_MAJOR" ]; then return 0; fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) _node_say "error: no pinned Node build for $(uname -m); install Node >= $NODE_MIN_MAJOR yourself"; return 1 ;;
  esac
  if [ "$major" = 0 ]; then
    _node_say "no Node.js found: installing Node $NODE_VERSION and npm $NPM_VERSION from $NODE_REGISTRY"
  else
    _node_say "Node.js $(node --version) is older than $NODE_MIN_MAJOR: installing Node $NODE_VERSION and npm $NPM_VERSION from $NODE_REGISTRY into $NODE_BIN_DIR"
  fi
  command -v curl >/dev/null && command -v openssl >/dev/null || { _node_say "error: curl and openssl are needed to install Node"; return 1; }
  prefix="$NODE_PREFIX_ROOT/node-$NODE_VERSION-$arch"
  if [ ! -x "$prefix/bin/node" ] || [ ! -f "$prefix/lib/node_modules/npm/package.json" ]; then
    tmp=$(mktemp -d)
    _node_fetch "$NODE_REGISTRY/node-linux-$arch/-/node-linux-$arch-$NODE_VERSION.tgz" "$tmp/node.tgz" "${NODE_INTEGRITY[$arch]}" &&
      _node_fetch "$NODE_REGISTRY/npm/-/npm-$NPM_VERSION.tgz" "$tmp/npm.tgz" "$NPM_INTEGRITY" || { rm -rf "$tmp"; return 1; }
    rm -rf "$prefix.partial"
    mkdir -p "$prefix.partial/lib/node_modules/npm"
    tar -xzf "$tmp/node.tgz" -C "$prefix.partial" --strip-components=1
    tar -xzf "$tmp/npm.tgz" -C "$prefix.partial/lib/node_modules/npm" --strip-components=1
    # node-gyp reads the headers' version from here when npm_config_nodedir points at the prefix.
    printf 'nodedir=%s\n' "$prefix" >"$prefix.partial/lib/node_modules/npm/npmrc"
    rm -rf "$tmp" "$prefix"
    mv "$prefix.partial" "$prefix"
  fi
  mkdir -p "$NODE_BIN_DIR"
  ln -sfn "$prefix/bin/node" "$NODE_BIN_DIR/node"
  ln -sfn "$prefix/lib/node_modules/npm/bin/npm-cli.js" "$NODE_BIN_DIR/npm"
  ln -sfn "$prefix/lib/node_modules/npm/bin/npx-cli.js" "$NODE_BIN_DIR/npx"
  hash -r
  [ "$(node_major)" -ge "$NODE_MIN_MAJOR" ] || { _node_say "error: installed Node $NODE_VERSION, but \`node\` on PATH is still $(node --version 2>/dev/null || echo missing): is $NODE_BIN_DIR on PATH?"; return 1; }
  _node_say "Node $(node --version), npm $(npm --version) in $NODE_BIN_DIR"
}
