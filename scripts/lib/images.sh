# shellcheck shell=bash
# Helpers for scripts/build-images (sourced, never executed).
#
# Why the choices (facts in ../shared/HOST-NOTES.md):
# - The engine is Debian's Docker 20.10. The `docker` client on PATH may be a newer one without
#   the buildx plugin, so BuildKit is not available through it; the classic builder
#   (DOCKER_BUILDKIT=0) works with both clients, so it is used everywhere.
# - There is no container registry: when the default base image is missing it is bootstrapped
#   with debootstrap and `docker import`ed.

IMAGES_ROOT=${PINACLED_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IMAGES_DIR="$IMAGES_ROOT/images"
IMAGES_PREFIX=${PINACLED_IMAGE_PREFIX:-pinacled}
# Dependency order: every image is built after its parent.
IMAGES_ALL=(base nextjs mastra)
IMAGES_DEFAULT_DEBIAN=pinacled/debian:trixie
IMAGES_DEBIAN_MIRROR=${PINACLED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# shellcheck disable=SC2034 # used by scripts/build-images
IMAGES_HASH_LABEL=dev.pinacle.inputs-hash
IMAGES_AUTO_CA_DIR=${PINACLED_AUTO_CA_DIR:-/usr/local/share/ca-certificates}

export DOCKER_BUILDKIT=0
DOCKER=${PINACLED_DOCKER:-docker}

img_say() { printf '[build-images] %s\n' "$*" >&2; }
img_die() { img_say "error: $*"; exit 1; }
img_header() { printf '\n==> %s\n' "$*" >&2; }

img_version() {
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$IMAGES_ROOT/package.json" | head -n1
}

img_known() {
  local n
  for n in "${IMAGES_ALL[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

# The parent of each image; base's is the Debian root (a build argument, overridable).
img_parent() {
  case $1 in
    base) printf '%s\n' "${PINACLED_BASE_IMAGE:-$IMAGES_DEFAULT_DEBIAN}" ;;
    *) printf '%s/base:%s\n' "$IMAGES_PREFIX" "$IMAGES_VERSION" ;;
  esac
}

img_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

img_id() { "$DOCKER" image inspect -f '{{.Id}}' "$1"; }

img_label() {
  "$DOCKER" image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

img_size_mb() {
  local bytes
  bytes=$("$DOCKER" image inspect -f '{{.Size}}' "$1")
  echo $((bytes / 1000000))
}

# Bootstrap Debian trixie (minbase) and import it, only when the default base is missing.
# Sources include trixie-updates and trixie-security, like Debian's registry image.
img_ensure_debian() {
  local ref=$1
  img_exists "$ref" && return 0
  if [ "$ref" != "$IMAGES_DEFAULT_DEBIAN" ]; then
    img_say "base image $ref is not present; trying to pull it"
    "$DOCKER" pull "$ref" || img_die "cannot pull $ref; build it or unset PINACLED_BASE_IMAGE"
    return 0
  fi
  command -v debootstrap >/dev/null || img_die "debootstrap is missing (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || img_die "bootstrapping $ref needs root (debootstrap)"
  img_header "bootstrapping $ref with debootstrap (minbase trixie from $IMAGES_DEBIAN_MIRROR)"
  local root
  root=$(mktemp -d /tmp/pinacled-debian.XXXXXX)
  if ! debootstrap --variant=minbase trixie "$root/rootfs" "$IMAGES_DEBIAN_MIRROR" >"$root/debootstrap.log" 2>&1; then
    tail -n 30 "$root/debootstrap.log" >&2
    rm -rf "$root"
    img_die "debootstrap failed"
  fi
  rm -f "$root/rootfs/etc/apt/sources.list"
  cat >"$root/rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $IMAGES_DEBIAN_MIRROR
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$root/rootfs/var/cache/apt/archives/"*.deb "$root/rootfs/var/lib/apt/lists/"*
  tar -C "$root/rootfs" --numeric-owner -c . |
    "$DOCKER" import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --message "debootstrap --variant=minbase trixie" - "$ref" >/dev/null
  rm -rf "$root"
  img_say "imported $ref ($(img_size_mb "$ref") MB)"
}

# Resolve --ca-cert values (files or "auto") into a list of readable PEM files.
# Fills the global array IMG_CA_FILES.
IMG_CA_FILES=()
img_add_ca() {
  local spec=$1 f
  if [ "$spec" = auto ]; then
    local found=0
    for f in "$IMAGES_AUTO_CA_DIR"/*.crt; do
      [ -f "$f" ] || continue
      IMG_CA_FILES+=("$f")
      found=1
    done
    [ $found = 1 ] || img_say "--ca-cert auto: no *.crt in $IMAGES_AUTO_CA_DIR, building without extra CAs"
    return 0
  fi
  [ -r "$spec" ] || img_die "CA certificate $spec is not a readable file"
  grep -q 'BEGIN CERTIFICATE' "$spec" || img_die "$spec is not a PEM certificate"
  IMG_CA_FILES+=("$spec")
}

# The inputs of one image: every file of its directory (path + content), the parent image's
# id and the build arguments. Extra CA certificates are deliberately not an input: they only
# let the build reach the npm registry and never change what ends up in the image.
img_inputs_hash() {
  local name=$1 parent_id=$2
  shift 2
  {
    (cd "$IMAGES_DIR/$name" && find . \( -name node_modules -o -name .next -o -name .mastra \) -prune -o \
      -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    printf 'parent %s\n' "$parent_id"
    printf 'arg %s\n' "$@"
  } | sha256sum | cut -c1-32
}

# A temporary build context: the image directory plus certs/extra-ca.pem (empty without CAs).
img_make_context() {
  local name=$1 ctx f
  ctx=$(mktemp -d /tmp/pinacled-ctx-"$name".XXXXXX)
  cp -a "$IMAGES_DIR/$name/." "$ctx/"
  # Leftovers of running a template on the host are not inputs.
  find "$ctx" \( -name node_modules -o -name .next -o -name .mastra \) -prune -exec rm -rf {} +
  mkdir -p "$ctx/certs"
  : >"$ctx/certs/extra-ca.pem"
  for f in "${IMG_CA_FILES[@]}"; do
    cat "$f" >>"$ctx/certs/extra-ca.pem"
    printf '\n' >>"$ctx/certs/extra-ca.pem"
  done
  printf '%s\n' "$ctx"
}

# The classic builder leaves untagged images behind: the builder stage of every build (kept
# as layer cache) and the previous final image when a tag moves. Keep the newest builder stage
# of NAME; drop older ones and every superseded final image of NAME. (Builder stages of nextjs
# and mastra inherit base's labels, hence the check for dev.pinacle.builder.)
img_prune() {
  local name=$1 id stale=()
  while read -r id; do
    [ -n "$id" ] && stale+=("$id")
  done < <("$DOCKER" images -q --no-trunc -f dangling=true -f "label=dev.pinacle.builder=$name" | tail -n +2)
  while read -r id; do
    [ -n "$id" ] && [ -z "$(img_label "$id" dev.pinacle.builder)" ] && stale+=("$id")
  done < <("$DOCKER" images -q --no-trunc -f dangling=true -f "label=org.opencontainers.image.title=pinacled-$name")
  [ ${#stale[@]} -eq 0 ] || "$DOCKER" rmi "${stale[@]}" >/dev/null 2>&1 || true
}
