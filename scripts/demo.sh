#!/usr/bin/env bash
# Builds envx and runs the everyday job on the sample in fixtures/sample, in a scratch folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --manifest-path "$root/Cargo.toml" --bin envx
envx="$root/target/release/envx"
demo="$(mktemp -d)"
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
