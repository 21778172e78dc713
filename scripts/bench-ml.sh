#!/usr/bin/env bash
# Measures the quality and speed of the predictions (issue 6) against the Python references:
#   - forecasts (MAPE, MASE, 95 % interval coverage, time) on classic public seasonal series
#     shipped in Python packages, beside statsforecast's AutoARIMA, AutoETS and AutoTheta;
#   - classification (AUC, log-loss, training time) on the demo churn data and on a public data
#     set, beside scikit-learn's HistGradientBoostingClassifier and LogisticRegression.
# Writes markdown tables to stdout. Usage: scripts/bench-ml.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
export PGPASSWORD="${PGPASSWORD:-spirit}"
python3 -m pip install --quiet --disable-pip-version-check \
  "statsforecast==2.0.*" "scikit-learn==1.*" "statsmodels==0.14.*" "psycopg[binary]==3.*" 2>&1 \
  | grep -v "Running pip as the 'root' user" || true
cargo build --quiet --locked --workspace --all-targets
scripts/build-plugins.sh >/dev/null
spirit="$CARGO_TARGET_DIR/debug/spirit"
dir=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; commit $(git rev-parse --short HEAD 2>/dev/null || echo none); $(date -u +%F); debug build (plugins in release)"
mkdir -p "$dir/data/plugins"
for model in forecasting gbt linear; do
  cp -r "$HOME/.cache/spirit/plugins/$model" "$dir/data/plugins/"
done
"$spirit" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$dir/data" >"$dir/out" 2>"$dir/log" &
pid=$!
until grep -q "pg=" "$dir/out" 2>/dev/null; do sleep 0.1; done
port=$(sed -n 's/.*pg=.*:\([0-9]*\)$/\1/p' "$dir/out")
python3 scripts/bench_ml.py "$port"
