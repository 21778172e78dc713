//! Predictions as SQL on a real server, with the bundled model plugins (forecasting, gbt,
//! linear) built by scripts/build-plugins.sh and loaded from the data dir: forecasts of a table
//! created over the wire, training and predicting, the model registry and its versions, the
//! domain functions over the demo data (checked against the simulation's planted truths), and
//! every kind of bad input as an SQL error that leaves the connection usable.

use spirit_core::demo::truths;
use spirit_tests::plugins::{build_and_install, failure, server_with_plugins, value};
use spirit_tests::{spirit, text_rows};
use tokio_postgres::Client;

const MODELS: &[&str] = &["forecasting", "gbt", "linear"];

/// The monthly airline passengers of Box & Jenkins (1949-1960), the classic seasonal series.
const AIR_PASSENGERS: [u32; 144] = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170,
    170, 158, 133, 114, 140, 145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166, 171, 180,
    193, 181, 183, 218, 230, 242, 209, 191, 172, 194, 196, 196, 236, 235, 229, 243, 264, 272, 237,
    211, 180, 201, 204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229, 242, 233, 267, 269,
    270, 315, 364, 347, 312, 274, 237, 278, 284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271,
    306, 315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336, 340, 318, 362, 348, 363, 435,
    491, 505, 404, 359, 310, 337, 360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405, 417,
    391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432,
];

fn num(cell: &Option<String>) -> f64 {
    cell.as_deref().expect("a value").parse().expect("a number")
}

async fn create_air(client: &Client) {
    let values: Vec<String> = AIR_PASSENGERS
        .iter()
        .enumerate()
        .map(|(i, p)| format!("(DATE '{}-{:02}-01', {p})", 1949 + i / 12, i % 12 + 1))
        .collect();
    client
        .batch_execute(&format!(
            "CREATE TABLE air (month DATE, passengers INTEGER); INSERT INTO air VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
}

/// A table the user just created: forecast 1960 from the years before it, within 10 % MAPE,
/// with intervals that hold the truth; then forecast past the data and decompose it.
#[tokio::test]
async fn forecasts_a_table_the_user_just_created() {
    let (server, _dir) = server_with_plugins(MODELS, &[]);
    let client = server.connect().await;
    create_air(&client).await;

    let forecast = text_rows(
        &client,
        "SELECT forecast_timestamp, forecast_value, prediction_interval_lower_bound, \
           prediction_interval_upper_bound, standard_error, confidence_level, model \
         FROM forecast('SELECT * FROM air WHERE month < DATE ''1960-01-01''', 'month', \
           'passengers', 12, 0.95) ORDER BY forecast_timestamp",
    )
    .await;
    assert_eq!(forecast.len(), 12);
    assert!(
        forecast[0][0]
            .as_deref()
            .unwrap()
            .starts_with("1960-01-01 00:00:00")
    );
    assert!(
        forecast[11][0]
            .as_deref()
            .unwrap()
            .starts_with("1960-12-01 00:00:00")
    );
    let mut ape = 0.0;
    let mut covered = 0;
    for (row, truth) in forecast.iter().zip(&AIR_PASSENGERS[132..]) {
        let (point, lower, upper) = (num(&row[1]), num(&row[2]), num(&row[3]));
        let truth = f64::from(*truth);
        ape += (point - truth).abs() / truth;
        covered += usize::from(lower <= truth && truth <= upper);
        assert!(num(&row[4]) > 0.0);
        assert_eq!(num(&row[5]), 0.95);
    }
    let mape = ape / 12.0;
    assert!(mape < 0.10, "MAPE {mape:.3}, model {:?}", forecast[0][6]);
    assert!(covered >= 10, "95 % intervals held {covered} of 12");

    let ahead = text_rows(
        &client,
        "SELECT count(*), min(forecast_timestamp) FROM forecast('air', 'month', 'passengers', 24)",
    )
    .await;
    assert_eq!(ahead[0][0].as_deref(), Some("24"));
    assert!(
        ahead[0][1]
            .as_deref()
            .unwrap()
            .starts_with("1961-01-01 00:00:00")
    );

    // Six months are too few for seasons: a trend line answers and says so.
    let short = text_rows(
        &client,
        "SELECT count(*), max(model) FROM forecast('SELECT * FROM air WHERE month < DATE ''1949-07-01''', \
           'month', 'passengers', 3)",
    )
    .await;
    assert_eq!(short[0][0].as_deref(), Some("3"));
    let model = short[0][1].as_deref().unwrap();
    assert!(
        model.starts_with("linear trend (fallback: 6 points"),
        "{model}"
    );

    let explained = text_rows(
        &client,
        "SELECT time_series_type, count(*), \
           max(abs(time_series_data - trend - seasonal - coalesce(residual, 0))) \
         FROM explain_forecast('air', 'month', 'passengers', 12) GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(explained[0][0].as_deref(), Some("forecast"));
    assert_eq!(explained[0][1].as_deref(), Some("12"));
    assert_eq!(explained[1][0].as_deref(), Some("history"));
    assert_eq!(explained[1][1].as_deref(), Some("144"));
    // History decomposes exactly (MSTL works in f32).
    assert!(num(&explained[1][2]) < 0.01, "{explained:?}");
}

/// A daily series with a weekly pattern and one planted spike: the spike is the anomaly.
#[tokio::test]
async fn detects_a_planted_anomaly() {
    let (server, _dir) = server_with_plugins(MODELS, &[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE visits AS SELECT CAST(to_timestamp_seconds(1735689600 + value * 86400) AS DATE) AS day, \
               100 + 20 * (value % 7) + CASE WHEN value = 40 THEN 400 ELSE 0 END + (value * 37 % 11) AS n \
             FROM range(84)",
        )
        .await
        .unwrap();
    let flagged = text_rows(
        &client,
        "SELECT ts, value, anomaly_probability FROM detect_anomalies('visits', 'day', 'n') \
         WHERE is_anomaly ORDER BY anomaly_probability DESC",
    )
    .await;
    assert!(!flagged.is_empty(), "no anomaly found");
    assert!(
        flagged[0][0]
            .as_deref()
            .unwrap()
            .starts_with("2025-02-10 00:00:00"),
        "{flagged:?}"
    );
    assert!(flagged.len() <= 4, "too many anomalies: {flagged:?}");
}

/// train_model → spirit.models → predict → retrain (version 2) → deploy_model back to 1, on a
/// table with a known rule; a third-party-style call by plugin name; regression.
#[tokio::test]
async fn trains_predicts_and_versions_models() {
    let (server, _dir) = server_with_plugins(MODELS, &[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE signups AS SELECT value AS id, \
               CAST(value * 7919 % 1000 AS DOUBLE) / 10 AS visits, \
               CAST(value * 104729 % 100 AS DOUBLE) AS age, \
               value % 3 = 0 AS newsletter, \
               CASE WHEN value * 7919 % 1000 + 300 * CAST(value % 3 = 0 AS INTEGER) > 600 THEN 'yes' ELSE 'no' END AS converted \
             FROM range(2000)",
        )
        .await
        .unwrap();
    let trained = text_rows(
        &client,
        "SELECT name, version, task, algorithm, metrics FROM train_model('conversion', \
           'classification', 'SELECT visits, age, newsletter, converted FROM signups', 'converted')",
    )
    .await;
    assert_eq!(trained[0][0].as_deref(), Some("conversion"));
    assert_eq!(trained[0][1].as_deref(), Some("1"));
    assert_eq!(trained[0][3].as_deref(), Some("gbt"));
    let metrics: serde_json::Value =
        serde_json::from_str(trained[0][4].as_deref().unwrap()).unwrap();
    assert!(metrics["auc"].as_f64().unwrap() > 0.95, "{metrics}");
    assert!(metrics["accuracy"].as_f64().unwrap() > 0.9, "{metrics}");
    assert_eq!(metrics["baseline"]["algorithm"], "logistic_regression");
    assert!(
        metrics["baseline"]["auc"].as_f64().unwrap() > 0.8,
        "{metrics}"
    );

    let predicted = text_rows(
        &client,
        "SELECT id, prediction, probability FROM predict('conversion', \
           'SELECT id, visits, age, newsletter FROM signups WHERE id IN (1, 2, 3)') ORDER BY id",
    )
    .await;
    assert_eq!(predicted.len(), 3);
    for row in &predicted {
        let p = num(&row[2]);
        assert!((0.0..=1.0).contains(&p));
        let class = row[1].as_deref().unwrap();
        assert_eq!(class, if p >= 0.5 { "yes" } else { "no" });
    }
    // id 1: 7919 % 1000 = 919 > 600 → yes.
    assert_eq!(predicted[0][1].as_deref(), Some("yes"));

    // By plugin name, as a third party's plugin would be called; a new version, deployed.
    let second = text_rows(
        &client,
        "SELECT version, algorithm FROM train_model('conversion', 'classification', \
           'SELECT visits, age, newsletter, converted FROM signups', 'converted', \
           '{\"algorithm\": \"linear\"}')",
    )
    .await;
    assert_eq!(
        second[0],
        vec![Some("2".into()), Some("logistic_regression".into())]
    );
    let deployed = text_rows(
        &client,
        "SELECT version FROM spirit.models WHERE name = 'conversion' AND deployed",
    )
    .await;
    assert_eq!(deployed, vec![vec![Some("2".into())]]);
    text_rows(&client, "SELECT * FROM deploy_model('conversion', 1)").await;
    let models = text_rows(
        &client,
        "SELECT version, deployed, task, training_rows > 1000 FROM spirit.models \
         WHERE name = 'conversion' ORDER BY version",
    )
    .await;
    assert_eq!(
        models[0],
        vec![
            Some("1".into()),
            Some("t".into()),
            Some("classification".into()),
            Some("t".into())
        ]
    );
    assert_eq!(models[1][1].as_deref(), Some("f"));
    let evaluated = text_rows(&client, "SELECT algorithm, metric, value FROM evaluate_model('conversion') WHERE metric = 'auc' ORDER BY algorithm").await;
    assert_eq!(evaluated.len(), 2, "{evaluated:?}");

    let regression = text_rows(
        &client,
        "SELECT metrics FROM train_model('visits_model', 'regression', \
           'SELECT age, visits, visits * 2 + age AS target FROM signups', 'target')",
    )
    .await;
    let metrics: serde_json::Value =
        serde_json::from_str(regression[0][0].as_deref().unwrap()).unwrap();
    assert!(metrics["r2"].as_f64().unwrap() > 0.95, "{metrics}");
    assert!(metrics["baseline"]["rmse"].as_f64().is_some(), "{metrics}");
}

/// Every bad input is an SQL error with its SQLSTATE, and the connection keeps working.
#[tokio::test]
async fn bad_input_is_a_clear_error() {
    let (server, _dir) = server_with_plugins(MODELS, &[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE s (day DATE, v DOUBLE, label VARCHAR, one INTEGER);
             INSERT INTO s SELECT CAST(to_timestamp_seconds(1735689600 + value * 86400) AS DATE), value * 1.5, \
               CASE WHEN value % 2 = 0 THEN 'a' ELSE 'b' END, 1 FROM range(40);
             CREATE TABLE short (day DATE, v DOUBLE);
             INSERT INTO short VALUES (DATE '2025-01-01', 1), (DATE '2025-01-02', 2);
             CREATE TABLE flat (day DATE, v DOUBLE);
             INSERT INTO flat SELECT CAST(to_timestamp_seconds(1735689600 + value * 86400) AS DATE), 5 FROM range(30);
             CREATE TABLE holes (day DATE, v DOUBLE);
             INSERT INTO holes SELECT CAST(to_timestamp_seconds(1735689600 + value * 86400) AS DATE), value FROM range(30) WHERE value <> 10;
             CREATE TABLE nulls (day DATE, v DOUBLE);
             INSERT INTO nulls SELECT CAST(to_timestamp_seconds(1735689600 + value * 86400) AS DATE), CASE WHEN value = 5 THEN NULL ELSE value END FROM range(30);",
        )
        .await
        .unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "SELECT * FROM forecast('short', 'day', 'v', 5)",
            "22023",
            "at least 3",
        ),
        (
            "SELECT * FROM forecast('flat', 'day', 'v', 5)",
            "22023",
            "constant",
        ),
        (
            "SELECT * FROM forecast('holes', 'day', 'v', 5)",
            "22023",
            "gap",
        ),
        (
            "SELECT * FROM forecast('nulls', 'day', 'v', 5)",
            "22023",
            "NULL",
        ),
        (
            "SELECT * FROM forecast('s', 'day', 'v', 0)",
            "22023",
            "at least 1",
        ),
        (
            "SELECT * FROM forecast('s', 'day', 'v', -3)",
            "22023",
            "at least 1",
        ),
        (
            "SELECT * FROM forecast('s', 'day', 'v', 100000)",
            "22023",
            "at most",
        ),
        (
            "SELECT * FROM forecast('s', 'day', 'v', 5, 1.5)",
            "22023",
            "between 0 and 1",
        ),
        (
            "SELECT * FROM forecast('s', 'day', 'nope', 5)",
            "42703",
            "nope",
        ),
        (
            "SELECT * FROM forecast('s', 'label', 'v', 5)",
            "22023",
            "DATE or TIMESTAMP",
        ),
        ("SELECT * FROM forecast('s', 'day', 'v')", "22023", "takes"),
        (
            "SELECT * FROM predict('no_such_model', 's')",
            "42883",
            "no_such_model",
        ),
        (
            "SELECT * FROM train_model('m', 'classification', 's', 'missing')",
            "42703",
            "missing",
        ),
        (
            "SELECT * FROM train_model('m', 'classification', 'SELECT v, day, label FROM s', 'label')",
            "22023",
            "\"day\"",
        ),
        (
            "SELECT * FROM train_model('m', 'classification', 'SELECT v, one FROM s', 'one')",
            "22023",
            "one class",
        ),
        (
            "SELECT * FROM train_model('m', 'clustering', 's', 'v')",
            "22023",
            "task",
        ),
        (
            "SELECT * FROM train_model('m', 'regression', 'SELECT v, one FROM s', 'v', '{\"algorithm\": \"nope\"}')",
            "42883",
            "nope",
        ),
        (
            "SELECT * FROM train_model('m', 'regression', 'SELECT v, one FROM s', 'v', 'not json')",
            "22023",
            "JSON",
        ),
        (
            "SELECT * FROM train_model('m', 'regression', 'DROP TABLE s', 'v')",
            "",
            "",
        ),
        ("SELECT * FROM forecast_revenue(0)", "22023", "horizon_days"),
        (
            "SELECT * FROM demand_forecast(1000)",
            "22023",
            "horizon_days",
        ),
    ];
    for (sql, code, text) in cases {
        let (sqlstate, message) = failure(&client, sql).await;
        if !code.is_empty() {
            assert_eq!(sqlstate, *code, "{sql}: {message}");
            assert!(message.contains(text), "{sql}: {message}");
        }
        assert_eq!(
            value(&client, "SELECT 1").await.as_deref(),
            Some("1"),
            "after {sql}"
        );
    }
    // The refused DDL did nothing.
    assert_eq!(
        value(&client, "SELECT count(*) FROM s").await.as_deref(),
        Some("40")
    );
}

/// The domain functions answer on the demo data; the elasticities the simulation planted are
/// inside the intervals price_recommendations() gives.
#[tokio::test]
async fn domain_functions_answer_on_the_demo_data() {
    let (server, _dir) = server_with_plugins(MODELS, &[]);
    let client = server.connect().await;

    let revenue = text_rows(
        &client,
        "SELECT channel, count(*), min(prediction_interval_lower_bound <= forecast_value \
           AND forecast_value <= prediction_interval_upper_bound), min(forecast_value) \
         FROM forecast_revenue(30) GROUP BY channel ORDER BY channel",
    )
    .await;
    let channels: Vec<&str> = revenue.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(channels, ["B2B", "B2B2C", "B2C", "all"]);
    for row in &revenue {
        assert_eq!(row[1].as_deref(), Some("30"));
        assert_eq!(row[2].as_deref(), Some("t"));
        assert!(num(&row[3]) > 0.0, "{row:?}");
    }

    let churn = text_rows(
        &client,
        "SELECT count(*), min(churn_probability), max(churn_probability), \
           count(DISTINCT risk_segment), max(model), \
           count(*) FILTER (WHERE risk_segment = 'high' AND top_factors <> '') \
         FROM churn_risk()",
    )
    .await;
    assert!(num(&churn[0][0]) > 1000.0, "{churn:?}");
    assert!(num(&churn[0][1]) >= 0.0 && num(&churn[0][2]) <= 1.0);
    assert_eq!(churn[0][3].as_deref(), Some("3"), "{churn:?}");
    assert!(
        churn[0][4].as_deref().unwrap().starts_with("gbt"),
        "{churn:?}"
    );
    assert!(num(&churn[0][5]) > 0.0, "{churn:?}");
    let metrics = value(
        &client,
        "SELECT metrics FROM spirit.models WHERE name = 'churn_risk' AND deployed",
    )
    .await
    .unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    assert!(metrics["auc"].as_f64().unwrap() > 0.6, "{metrics}");
    assert_eq!(metrics["baseline"]["algorithm"], "logistic_regression");

    let tours = value(&client, "SELECT count(*) FROM tours").await.unwrap();
    let demand = text_rows(
        &client,
        "SELECT count(*), count(DISTINCT forecast_date), min(expected_bookings) >= 0, \
           avg(expected_bookings) > 0, max(utilisation) > 0 FROM demand_forecast(14)",
    )
    .await;
    assert_eq!(num(&demand[0][0]), 14.0 * tours.parse::<f64>().unwrap());
    assert_eq!(demand[0][1].as_deref(), Some("14"));
    assert_eq!(
        demand[0][2..],
        [Some("t".into()), Some("t".into()), Some("t".into())]
    );
    let one = value(&client, "SELECT count(*) FROM demand_forecast(7, 1)").await;
    assert_eq!(one.as_deref(), Some("7"));

    let prices = text_rows(
        &client,
        "SELECT category, min(elasticity), min(elasticity_lower), max(elasticity_upper), \
           min(optimal_price > 0) FROM price_recommendations() GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(prices.len(), truths::CATEGORIES.len());
    for row in &prices {
        let category = row[0].as_deref().unwrap();
        let truth = truths::CATEGORIES
            .iter()
            .find(|c| c.0 == category)
            .unwrap()
            .2;
        let (estimate, lower, upper) = (num(&row[1]), num(&row[2]), num(&row[3]));
        assert!(
            lower <= truth && truth <= upper,
            "{category}: planted {truth}, estimated {estimate} in [{lower}, {upper}]"
        );
        assert_eq!(row[4].as_deref(), Some("t"));
    }

    let leads = text_rows(
        &client,
        "SELECT count(*), min(probability) >= 0, max(probability) <= 1, \
           count(*) = (SELECT count(*) FROM leads WHERE stage NOT IN ('won', 'lost')) \
         FROM booking_probability()",
    )
    .await;
    assert!(num(&leads[0][0]) > 0.0);
    assert_eq!(
        leads[0][1..],
        [Some("t".into()), Some("t".into()), Some("t".into())]
    );

    let registered = text_rows(&client, "SELECT DISTINCT name FROM spirit.models WHERE name IN ('churn_risk', 'demand_forecast', 'booking_probability') ORDER BY 1").await;
    assert_eq!(registered.len(), 3);
}

/// With ML_MODELS_PATH, artifacts are files there (written whole), and predictions read them.
#[tokio::test]
async fn artifacts_go_to_ml_models_path() {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().display().to_string();
    let (server, _dir) = server_with_plugins(MODELS, &[("ML_MODELS_PATH", path.as_str())]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE pairs AS SELECT value AS x, value * 3 + 1 AS y FROM range(200)",
        )
        .await
        .unwrap();
    let trained = text_rows(
        &client,
        "SELECT version FROM train_model('line', 'regression', 'SELECT x, y FROM pairs', 'y', \
           '{\"algorithm\": \"linear_regression\"}')",
    )
    .await;
    assert_eq!(trained[0][0].as_deref(), Some("1"));
    let artifact = files.path().join("line/v1.bin");
    assert!(std::fs::metadata(&artifact).unwrap().len() > 0);
    let predicted = text_rows(
        &client,
        "SELECT prediction FROM predict('line', 'SELECT 10 AS x')",
    )
    .await;
    assert!((num(&predicted[0][0]) - 31.0).abs() < 1e-3, "{predicted:?}");

    // A missing file is a clear error, not a wrong answer.
    std::fs::remove_file(&artifact).unwrap();
    let (code, message) = failure(&client, "SELECT * FROM predict('line', 'SELECT 10 AS x')").await;
    assert_eq!(code, "58030", "{message}");
    assert!(message.contains("v1.bin"), "{message}");
}

/// A third party's model: `spirit plugin new --kind model`, built and installed into a running
/// server, trains and predicts through SQL by the plugin's name.
#[tokio::test]
async fn a_new_model_plugin_trains_by_its_name() {
    let (server, data_dir) = server_with_plugins(MODELS, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = spirit(&[
        "plugin",
        "new",
        "my_mean",
        "--kind",
        "model",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crate_dir = dir.path().join("my_mean");
    build_and_install(&crate_dir, &data_dir.path().join("plugins"));
    let listed = spirit(&[
        "plugin",
        "test",
        crate_dir.join("dist/my_mean").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("algorithm mean (regression)"), "{text}");

    let client = server.connect().await;
    let mut loaded = None;
    for _ in 0..300 {
        loaded = value(
            &client,
            "SELECT status FROM spirit.plugins WHERE name = 'my_mean'",
        )
        .await;
        if loaded.as_deref() == Some("loaded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(loaded.as_deref(), Some("loaded"));
    client
        .batch_execute("CREATE TABLE obs AS SELECT value AS x, CAST(value % 10 AS DOUBLE) AS y FROM range(100)")
        .await
        .unwrap();
    let trained = text_rows(
        &client,
        "SELECT algorithm, metrics FROM train_model('avg', 'regression', 'SELECT x, y FROM obs', 'y', \
           '{\"algorithm\": \"my_mean\"}')",
    )
    .await;
    assert_eq!(trained[0][0].as_deref(), Some("mean"));
    let metrics: serde_json::Value =
        serde_json::from_str(trained[0][1].as_deref().unwrap()).unwrap();
    let mean = metrics["model"]["mean"].as_f64().unwrap();
    assert!((mean - 4.5).abs() < 1.0, "{metrics}");
    let predicted = text_rows(
        &client,
        "SELECT prediction FROM predict('avg', 'SELECT 7 AS x')",
    )
    .await;
    assert_eq!(num(&predicted[0][0]), mean);
}
