#!/usr/bin/env bash
# Installs what building and testing Spirit Analytics needs on a fresh Debian machine.
# Idempotent and quick when everything is already there.
#   scripts/setup.sh          build tools, and the toolchain that builds the WebAssembly plugins
#                             (for `make run`)
#   scripts/setup.sh --test   also the real clients the tests drive (psql, pgjdbc, psycopg,
#                             SQLAlchemy, node-postgres, duckdb, openssl)
set -euo pipefail

want_test=false
[[ "${1:-}" == "--test" ]] && want_test=true

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in mold; do have_pkg "$pkg" || need_apt+=("$pkg"); done
if $want_test; then
  command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
  have_pkg libpostgresql-jdbc-java || need_apt+=(libpostgresql-jdbc-java)
  # Java 17 may already be installed outside apt; any java on PATH will do.
  command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
  command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
  command -v npm >/dev/null 2>&1 || need_apt+=(npm)
  # Renders report HTML to a screenshot (tests/reports.rs) and PDF (`spirit report run --out x.pdf`).
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  # The cache tests also run a redis-server of their own, which they stop mid-test.
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
fi
# Building the bundled WebAssembly plugins (scripts/build-plugins.sh), which `make run` loads:
# Debian's Rust builds the wasm32 standard library from source; see ../shared/TOOLCHAIN.md.
for pkg in rustc-web cargo-web rust-web-src lld-22 wasi-libc; do
  have_pkg "$pkg" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

if $want_test && ! python3 -c "import psycopg" 2>/dev/null; then
  echo "setup: installing psycopg 3"
  python3 -m pip install --quiet "psycopg[binary]>=3.1"
fi

if $want_test && ! python3 -c "import sqlalchemy; assert sqlalchemy.__version__ >= '2'" 2>/dev/null; then
  echo "setup: installing SQLAlchemy 2"
  python3 -m pip install --quiet "sqlalchemy>=2.0,<2.1"
fi

# The real SMTP server the report delivery tests send to.
if $want_test && ! python3 -c "import aiosmtpd" 2>/dev/null; then
  echo "setup: installing aiosmtpd"
  python3 -m pip install --quiet "aiosmtpd>=1.4,<2"
fi

# The HTTP API tests validate every answer against the OpenAPI document with openapi-core.
if $want_test && ! python3 -c "import openapi_core, requests" 2>/dev/null; then
  echo "setup: installing openapi-core and requests"
  python3 -m pip install --quiet "openapi-core>=0.19,<0.20" "requests>=2.31"
fi

# node-postgres, pinned by tests/clients/node/package-lock.json.
node_dir="$(dirname "$0")/../tests/clients/node"
if $want_test && [[ ! -d "$node_dir/node_modules/pg" ]]; then
  echo "setup: installing node-postgres"
  (cd "$node_dir" && npm ci --silent --no-audit --no-fund)
fi

# The DuckDB the engine embeds (duckdb-rs 1.20000 bundles DuckDB 2.0.0), for tests and benchmarks
# that read the store file directly; the file format must match.
DUCKDB_PY_VERSION=2.0.0
if $want_test && [[ "$(python3 -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null)" != "$DUCKDB_PY_VERSION" ]]; then
  echo "setup: installing the duckdb $DUCKDB_PY_VERSION Python package"
  python3 -m pip install --quiet "duckdb==$DUCKDB_PY_VERSION"
fi
