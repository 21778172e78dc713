#!/usr/bin/env bash
# Builds the bundled plugins (plugins/*) as WebAssembly components (wasm32-wasip2), with the
# recipe in ../shared/TOOLCHAIN.md: Debian's Rust builds the wasm32 standard library from source
# (the rustup toolchain has none and cannot download one). scripts/setup.sh installs the packages.
# Output: $SPIRIT_PLUGINS_OUT (default $HOME/.cache/spirit/plugins)/<name>/{<name>.wasm,plugin.toml}
set -euo pipefail
cd "$(dirname "$0")/.."
out="${SPIRIT_PLUGINS_OUT:-$HOME/.cache/spirit/plugins}"
# Its own target dir: another compiler than the engine's, so nothing may be shared.
export CARGO_TARGET_DIR="${SPIRIT_PLUGINS_TARGET:-$HOME/.cache/spirit/plugins-target}"
export PATH="/usr/lib/llvm-22/bin:/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-L /usr/lib/wasm32-wasi"
(cd plugins && /usr/bin/cargo build --quiet --release --locked --target wasm32-wasip2 \
  -Zbuild-std=std,panic_abort)
for dir in plugins/*/; do
  name=$(basename "$dir")
  [[ -f "$dir/plugin.toml" ]] || continue
  mkdir -p "$out/$name"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/$name.wasm" "$out/$name/$name.wasm"
  cp "$dir/plugin.toml" "$out/$name/plugin.toml"
done
echo "plugins: built $(ls "$out" | tr '\n' ' ')into $out"
