"""Predictions benchmark: the engine's forecast() and train_model() over pg-wire against
statsforecast and scikit-learn on the same data and the same splits. Run by scripts/bench-ml.sh,
which starts the engine and passes its port."""

import json
import struct
import sys
import time
import warnings

import numpy as np
import pandas as pd
import psycopg

warnings.filterwarnings("ignore")
PORT = int(sys.argv[1])
conn = psycopg.connect(f"host=127.0.0.1 port={PORT} user=spirit password=spirit dbname=spirit", autocommit=True)


def series():
    """Classic public seasonal series shipped in Python packages: (name, dates, values, season, horizon)."""
    import statsmodels.api as sm
    from statsforecast.utils import AirPassengers

    out = [("AirPassengers (monthly)", pd.date_range("1949-01-01", periods=144, freq="MS"), np.asarray(AirPassengers, float), 12, 12)]
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    out.append(("Mauna Loa CO2 (monthly)", co2.index, co2.to_numpy(), 12, 24))
    elnino = sm.datasets.elnino.load_pandas().data.drop(columns="YEAR").to_numpy().ravel()
    out.append(("El Nino SST (monthly)", pd.date_range("1950-01-01", periods=len(elnino), freq="MS"), elnino.astype(float), 12, 12))
    macro = sm.datasets.macrodata.load_pandas().data
    out.append(("US real GDP (quarterly)", pd.date_range("1959-01-01", periods=len(macro), freq="QS"), macro["realgdp"].to_numpy(), 4, 8))
    sun = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()
    out.append(("Sunspots (yearly)", pd.date_range("1700-01-01", periods=len(sun), freq="YS"), sun.astype(float) + 1.0, 1, 10))
    return out


def scores(train, test, point, lower, upper, season):
    m = max(season, 1)
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    return {
        "MAPE": float(np.mean(np.abs(test - point) / np.abs(test))),
        "MASE": float(np.mean(np.abs(test - point)) / scale),
        "coverage": float(np.mean((lower <= test) & (test <= upper))),
    }


def engine_forecast(name, dates, values, h):
    table = "bench_" + "".join(c if c.isalnum() else "_" for c in name.lower())[:40]
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} (ts DATE, y DOUBLE)")
        rows = ", ".join(f"(DATE '{d.date()}', {float(v)!r})" for d, v in zip(dates, values))
        cur.execute(f"INSERT INTO {table} VALUES {rows}")
        cutoff = dates[len(dates) - h].date()
        sql = (f"SELECT forecast_value, prediction_interval_lower_bound, prediction_interval_upper_bound, model "
               f"FROM forecast('SELECT * FROM {table} WHERE ts < ''{cutoff}''', 'ts', 'y', {h}, 0.95) ORDER BY forecast_timestamp")
        cur.execute(sql)  # warm-up: plugin instance, caches
        start = time.perf_counter()
        cur.execute(sql)
        rows = cur.fetchall()
        seconds = time.perf_counter() - start
    arr = np.array([r[:3] for r in rows], float)
    return arr[:, 0], arr[:, 1], arr[:, 2], seconds, rows[0][3]


def statsforecast_models(dates, values, h, season, freq):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    df = pd.DataFrame({"unique_id": "s", "ds": dates[:-h], "y": values[:-h]})
    out = {}
    for model in (AutoARIMA(season_length=season), AutoETS(season_length=season), AutoTheta(season_length=season)):
        sf = StatsForecast(models=[model], freq=freq, n_jobs=1)
        sf.forecast(df=df, h=h, level=[95])  # numba compiles on the first call
        start = time.perf_counter()
        fc = sf.forecast(df=df, h=h, level=[95])
        seconds = time.perf_counter() - start
        name = repr(model)
        out[name] = (fc[name].to_numpy(), fc[f"{name}-lo-95"].to_numpy(), fc[f"{name}-hi-95"].to_numpy(), seconds)
    return out


def forecasting():
    print("\n### Forecasts (hold-out = the last `h` points; 95 % intervals)\n")
    print("| series | n | h | method | MAPE | MASE | coverage | time (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, dates, values, season, h in series():
        freq = {12: "MS", 4: "QS", 1: "YS"}[season]
        train, test = values[:-h], values[-h:]
        point, lower, upper, seconds, model = engine_forecast(name, dates, values, h)
        results = [(f"**Spirit** ({model})", scores(train, test, point, lower, upper, season), seconds)]
        for method, (p, lo, hi, s) in statsforecast_models(dates, values, h, season, freq).items():
            results.append((method, scores(train, test, p, lo, hi, season), s))
        best = min(r[1]["MASE"] for r in results)
        for method, sc, s in results:
            mark = " ←best" if sc["MASE"] == best else ""
            print(f"| {name} | {len(values)} | {h} | {method}{mark} | {sc['MAPE']:.3f} | {sc['MASE']:.3f} | {sc['coverage']:.2f} | {s * 1000:.0f} |")


MASK = (1 << 64) - 1


def mix(z):
    """SplitMix64's finaliser, as training.rs has it."""
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def held_out(row, fraction=0.2):
    """The engine's split (training.rs row_key): a hash of the row's features, then its label."""
    z = 0
    for v in row:
        z = mix(z ^ struct.unpack("<Q", struct.pack("<d", float(v)))[0])
    return (z % 10000) / 10000 < fraction


CHURN_SQL = """
SELECT CAST(count(*) AS DOUBLE) AS bookings,
  CAST(sum(b.price_paid) AS DOUBLE) AS spend,
  CAST(sum(CASE WHEN b.status IN ('cancelled', 'refunded') THEN 1 ELSE 0 END) AS DOUBLE) AS cancellations,
  CAST(max(c.nps) AS DOUBLE) AS nps,
  CAST(max(CASE WHEN c.segment = 'budget' THEN 1 ELSE 0 END) AS DOUBLE) AS segment_budget,
  CAST(max(CASE WHEN c.segment = 'business' THEN 1 ELSE 0 END) AS DOUBLE) AS segment_business,
  CAST((SELECT count(*) FROM tickets k WHERE k.customer_id = b.customer_id AND k.csat <= 2) AS DOUBLE) AS bad_tickets,
  CASE WHEN max(b.created_at) < (SELECT max(created_at) FROM bookings) - INTERVAL '365 days' THEN 1 ELSE 0 END AS churned
FROM bookings b JOIN customers c ON c.customer_id = b.customer_id
GROUP BY b.customer_id ORDER BY b.customer_id
"""


def classification_data():
    """(name, training query for the engine, rows for scikit-learn, label)."""
    from sklearn.datasets import load_breast_cancer

    out = []
    with conn.cursor() as cur:
        cur.execute(CHURN_SQL)
        cols = [d.name for d in cur.description]
        out.append(("demo churn (customers)", CHURN_SQL.replace("'", "''"), pd.DataFrame(cur.fetchall(), columns=cols).astype(float), "churned"))
        data = load_breast_cancer(as_frame=True).frame
        data.columns = [c.replace(" ", "_") for c in data.columns]
        cur.execute("DROP TABLE IF EXISTS bench_breast_cancer")
        cur.execute("CREATE TABLE bench_breast_cancer (" + ", ".join(f"{c} DOUBLE" for c in data.columns) + ")")
        rows = ", ".join("(" + ", ".join(repr(float(v)) for v in row) + ")" for row in data.itertuples(index=False))
        cur.execute(f"INSERT INTO bench_breast_cancer VALUES {rows}")
        out.append(("breast cancer (UCI, scikit-learn)", "SELECT * FROM bench_breast_cancer", data.astype(float), "target"))
    return out


def classification():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    print("\n### Classification (the engine's held-out fifth, the same rows for scikit-learn)\n")
    print("| data | rows | method | AUC | log-loss | fit time (ms) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, query, frame, label in classification_data():
        with conn.cursor() as cur:
            results = []
            for algorithm in ("gbt", "logistic_regression"):
                cur.execute(f"SELECT metrics FROM train_model('bench_{algorithm}', 'classification', '{query}', '{label}', '{{\"algorithm\": \"{algorithm}\"}}')")
                m = json.loads(cur.fetchone()[0])
                results.append((f"**Spirit** {algorithm}", m["auc"], m["log_loss"], m["fit_seconds"]))
        ordered = frame[[c for c in frame.columns if c != label] + [label]]
        test = np.array([held_out(row) for row in ordered.itertuples(index=False)])
        x, y = frame.drop(columns=label).to_numpy(), frame[label].to_numpy()
        # Missing values: HistGradientBoosting routes them itself; the logistic regression gets
        # each column's training mean, as the engine's linear plugin does.
        for method, model in (("HistGradientBoostingClassifier", HistGradientBoostingClassifier()),
                              ("LogisticRegression", make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000)))):
            start = time.perf_counter()
            model.fit(x[~test], y[~test])
            seconds = time.perf_counter() - start
            p = model.predict_proba(x[test])[:, 1]
            results.append((method, roc_auc_score(y[test], p), log_loss(y[test], p), seconds))
        best = max(r[1] for r in results)
        for method, auc, ll, s in results:
            mark = " ←best" if auc == best else ""
            print(f"| {name} | {len(frame)} | {method}{mark} | {auc:.4f} | {ll:.4f} | {s * 1000:.0f} |")


forecasting()
classification()
