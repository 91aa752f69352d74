#!/usr/bin/env bash
# Builds envx and runs the everyday job on the sample in fixtures/sample, in a scratch folder.
# The scratch folder holds a private key (.env.keys) while the demo runs; it is removed on
# every exit, including errors and Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

demo="$(mktemp -d "${TMPDIR:-/tmp}/envx-demo.XXXXXX")"
cleanup() {
  if [ -n "${demo:-}" ] && [ -d "$demo" ]; then
    # Overwrite the private key before unlinking it.
    if [ -f "$demo/.env.keys" ]; then
      head -c "$(wc -c < "$demo/.env.keys")" /dev/zero > "$demo/.env.keys" || true
    fi
    rm -rf "$demo"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Ask cargo where it put the binary: that honours CARGO_TARGET_DIR (relative or absolute),
# build.target-dir in a cargo config, and the default target/ alike.
envx="$(cargo build --release --manifest-path "$root/Cargo.toml" --bin envx \
  --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\/envx\)".*/\1/p' | tail -n 1)"
if [ -z "$envx" ] || [ ! -x "$envx" ]; then
  echo "demo: cargo did not report the envx binary it built" >&2
  exit 1
fi

cp "$root/fixtures/sample/.env.production" "$demo/"
cd "$demo"
echo "== envx encrypt -f .env.production   (in $demo)"
"$envx" encrypt -f .env.production
echo
echo "== the file, ready to commit:"
cat .env.production
echo
echo "== envx ls"
"$envx" ls
echo
echo "== envx run -f .env.production -- sh -c '...'   (the child sees plaintext; no private key)"
"$envx" run -f .env.production -- sh -c \
  'echo "DB_PASSWORD has ${#DB_PASSWORD} characters; DATABASE_URL=$DATABASE_URL"; env | grep -c "^DOTENV_PRIVATE_KEY" || true'
