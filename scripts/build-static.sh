#!/usr/bin/env bash
# Builds statically linked envx and envx-proxy for Linux x86_64 and prints their paths, sizes
# and linkage.
#
# With the musl target installed (`rustup target add x86_64-unknown-linux-musl`), the binary
# is built against musl. Without it, it is built against glibc's static libraries
# (`-C target-feature=+crt-static`; needs libc6-dev, which provides libc.a): envx resolves no
# user or host names, the one thing a static glibc binary cannot do well.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if rustup target list --installed 2>/dev/null | grep -qx 'x86_64-unknown-linux-musl'; then
  target=x86_64-unknown-linux-musl
  flags=""
else
  target=x86_64-unknown-linux-gnu
  flags="-C target-feature=+crt-static"
  echo "build-static: the musl target is not installed; linking glibc statically instead" >&2
fi
# --target keeps RUSTFLAGS off build scripts and proc macros, which must stay dynamic.
# envx-proxy is built too: `envx run --proxy` hands over to it, and it must sit beside envx.
built="$(RUSTFLAGS="${RUSTFLAGS:-} $flags" cargo build --release --manifest-path "$root/Cargo.toml" \
  --bin envx --bin envx-proxy --target "$target" --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')"
for name in envx envx-proxy; do
  bin="$(printf '%s\n' "$built" | grep "/$name\$" | tail -n 1)"
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "build-static: cargo did not report the $name binary it built" >&2
    exit 1
  fi
  # A static binary has no program interpreter (no PT_INTERP) and needs no shared library.
  if command -v readelf >/dev/null && readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
    echo "build-static: $bin is dynamically linked" >&2
    exit 1
  fi
  if command -v readelf >/dev/null && readelf -d "$bin" | grep -q '(NEEDED)'; then
    echo "build-static: $bin needs shared libraries" >&2
    exit 1
  fi
  "$bin" --version >/dev/null
  echo "$bin: $(wc -c < "$bin") bytes, static ($target)"
done
