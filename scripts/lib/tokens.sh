# shellcheck shell=bash
# The token files, shared by ./scripts/up and scripts/install-systemd (sourced, never executed):
# one home for their names and their creation, so both set up the same files.
#
#   /etc/pinacled/tokens         API tokens, one per line (full access: pods, exec, logs)
#   /etc/pinacled/metrics-token  the metrics-only token: GET /metrics, 403 on every other route
#                                (what Prometheus gets, so a scrape config cannot delete pods)
#
# The caller defines say(). Files are created once (mode 0600), never overwritten.

PINACLED_ETC_DEFAULT=/etc/pinacled
PINACLED_ETC=${PINACLED_ETC:-$PINACLED_ETC_DEFAULT}
PINACLED_API_TOKENS_NAME=tokens
PINACLED_METRICS_TOKEN_NAME=metrics-token

# ensure_token_file FILE WHAT [OWNER]: one random token (32 random bytes, base64 without +/=)
# in FILE when it is missing or empty; the daemon refuses a file group or others can read.
ensure_token_file() {
  local file=$1 what=$2 owner=${3:-}
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '=+/\n' >"$file" && echo >>"$file")
    say "created $what file $file"
  fi
  chmod 600 "$file"
  if [ -n "$owner" ]; then chown "$owner" "$file"; fi
}

# adopt_legacy_token_file DIR: ./scripts/up wrote DIR/token before the name became `tokens`;
# renaming it keeps the token clients already use.
adopt_legacy_token_file() {
  local dir=$1
  if [ -s "$dir/token" ] && [ ! -e "$dir/$PINACLED_API_TOKENS_NAME" ]; then
    mv "$dir/token" "$dir/$PINACLED_API_TOKENS_NAME"
    say "renamed $dir/token to $dir/$PINACLED_API_TOKENS_NAME"
  fi
}

# ensure_token_files DIR [OWNER]: both files in DIR (scripts/install-systemd).
ensure_token_files() {
  local dir=$1 owner=${2:-}
  adopt_legacy_token_file "$dir"
  ensure_token_file "$dir/$PINACLED_API_TOKENS_NAME" "API token" "$owner"
  ensure_token_file "$dir/$PINACLED_METRICS_TOKEN_NAME" "metrics token" "$owner"
}

# export_token_env: for ./scripts/up. Unless the operator passed a token itself, the daemon reads
# the default files (created when missing); exports the variables it reads.
export_token_env() {
  if [ -z "${PINACLED_TOKEN:-}" ]; then
    [ -n "${PINACLED_TOKEN_FILE:-}" ] || adopt_legacy_token_file "$PINACLED_ETC"
    export PINACLED_TOKEN_FILE=${PINACLED_TOKEN_FILE:-$PINACLED_ETC/$PINACLED_API_TOKENS_NAME}
    ensure_token_file "$PINACLED_TOKEN_FILE" "API token"
  fi
  if [ -z "${PINACLED_METRICS_TOKEN:-}" ]; then
    export PINACLED_METRICS_TOKEN_FILE=${PINACLED_METRICS_TOKEN_FILE:-$PINACLED_ETC/$PINACLED_METRICS_TOKEN_NAME}
    ensure_token_file "$PINACLED_METRICS_TOKEN_FILE" "metrics token"
  fi
}
