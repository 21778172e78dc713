#!/usr/bin/env bash
# Builds the bundled plugins (plugins/*) as WebAssembly components (wasm32-wasip2), with the
# recipe in ../shared/TOOLCHAIN.md: Debian's Rust builds the wasm32 standard library from source
# (the rustup toolchain has none and cannot download one). scripts/setup.sh installs the packages.
# Output: $SPIRIT_PLUGINS_OUT (default $HOME/.cache/spirit/plugins)/<name>/{<name>.wasm,plugin.toml}
# for the bundled plugins (plugins/*), and $SPIRIT_TEST_PLUGINS_OUT (default
# $HOME/.cache/spirit/test-plugins) for the plugins only the tests load (plugins/testing/*).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${SPIRIT_PLUGINS_OUT:-$HOME/.cache/spirit/plugins}"
test_out="${SPIRIT_TEST_PLUGINS_OUT:-$HOME/.cache/spirit/test-plugins}"
# Its own target dir: another compiler than the engine's, so nothing may be shared.
export CARGO_TARGET_DIR="${SPIRIT_PLUGINS_TARGET:-$HOME/.cache/spirit/plugins-target}"
export PATH="/usr/lib/llvm-22/bin:/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-L /usr/lib/wasm32-wasi"
# Connectors and models are built by separate cargo runs: a plugin enables the SDK's `connector`
# or `model` feature, and one run would unify them, linking both worlds into every component.
packages_of_kind() {
  local kind="$1" toml
  for toml in plugins/*/plugin.toml plugins/testing/*/plugin.toml; do
    grep -q "^kind = \"$kind\"" "$toml" && echo "-p $(basename "$(dirname "$toml")")"
  done
}
for kind in connector model; do
  # shellcheck disable=SC2046 # one word per package flag
  (cd plugins && /usr/bin/cargo build --quiet --release --locked --target wasm32-wasip2 \
    -Zbuild-std=std,panic_abort $(cd .. && packages_of_kind "$kind"))
done
# Each plugin directory is written whole into a temporary one and renamed into place, so an
# engine watching the output never loads a half-copied plugin.
install_plugins() {
  local from="$1" to="$2"
  for dir in "$from"/*/; do
    local name
    name=$(basename "$dir")
    [[ -f "$dir/plugin.toml" ]] || continue
    mkdir -p "$to"
    local staging="$to/.$name.new"
    rm -rf "$staging" && mkdir -p "$staging"
    cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/$name.wasm" "$staging/$name.wasm"
    cp "$dir/plugin.toml" "$staging/plugin.toml"
    rm -rf "$to/$name" && mv "$staging" "$to/$name"
  done
}
install_plugins plugins "$out"
install_plugins plugins/testing "$test_out"
echo "plugins: built $(ls "$out" | tr '\n' ' ')into $out; test plugins into $test_out"
