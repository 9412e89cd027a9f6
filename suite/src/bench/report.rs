//! The results: a table on stdout, then one line per measurement prefixed `JSON ` (what
//! `scripts/bench-runtimes.sh` merges across runtimes).

use pool_measure::{json_line, med, median, round, rounded, Column, Table};
use serde_json::{json, Value};

use super::config::{Client, Config, Transport};
use super::external::Rows;
use super::measure::{Latency, Throughput};

/// Throughput ratio pool/raw that the pool aims for.
const RATIO_GOAL: f64 = 0.85;
/// How much the pool may add to the raw client's median latency, in µs.
const P50_DELTA_GOAL_US: f64 = 15.0;

/// Every repetition of one runtime on one transport.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) runtime: &'static str,
    pub(crate) transport: Transport,
    pub(crate) raw_tp: Vec<Throughput>,
    pub(crate) pool_tp: Vec<Throughput>,
    pub(crate) raw_lat: Vec<Latency>,
    pub(crate) pool_lat: Vec<Latency>,
}

/// A row's medians.
struct Summary {
    raw_tp: f64,
    pool_tp: f64,
    raw_cpu: f64,
    pool_cpu: f64,
    raw_srv: f64,
    pool_srv: f64,
    raw_p50: f64,
    pool_p50: f64,
    raw_p99: f64,
    pool_p99: f64,
}

impl Summary {
    fn of(row: &Row) -> Summary {
        Summary {
            raw_tp: med(&row.raw_tp, |t| t.msgs_per_s),
            pool_tp: med(&row.pool_tp, |t| t.msgs_per_s),
            raw_cpu: med(&row.raw_tp, |t| t.client_cpu_us_per_req),
            pool_cpu: med(&row.pool_tp, |t| t.client_cpu_us_per_req),
            raw_srv: med(&row.raw_tp, |t| t.server_cpu_us_per_req),
            pool_srv: med(&row.pool_tp, |t| t.server_cpu_us_per_req),
            raw_p50: med(&row.raw_lat, |l| l.p50_us),
            pool_p50: med(&row.pool_lat, |l| l.p50_us),
            raw_p99: med(&row.raw_lat, |l| l.p99_us),
            pool_p99: med(&row.pool_lat, |l| l.p99_us),
        }
    }

    fn ratio(&self) -> f64 {
        self.pool_tp / self.raw_tp
    }

    fn p50_delta(&self) -> f64 {
        self.pool_p50 - self.raw_p50
    }
}

/// Prints the table and the JSON lines for `rows`.
pub(crate) fn report(config: &Config, rows: &[Row]) {
    let mut table = Table::new(vec![
        Column::left("runtime"),
        Column::left("tr"),
        Column::right("raw msg/s").group(),
        Column::right("pool msg/s"),
        Column::right("ratio"),
        Column::right("raw cpu").unit("µs/req").group(),
        Column::right("pool cpu").unit("µs/req"),
        Column::right("raw srv").unit("µs/req").group(),
        Column::right("pool srv").unit("µs/req"),
        Column::right("raw p50").unit("µs").group(),
        Column::right("pool p50").unit("µs"),
        Column::right("Δp50").unit("µs"),
        Column::right("raw p99").unit("µs").group(),
        Column::right("pool p99").unit("µs"),
    ]);
    for row in rows {
        let s = Summary::of(row);
        table.row([
            row.runtime.to_owned(),
            row.transport.name().to_owned(),
            format!("{:.0}", s.raw_tp),
            format!("{:.0}", s.pool_tp),
            format!("{:.3}", s.ratio()),
            format!("{:.2}", s.raw_cpu),
            format!("{:.2}", s.pool_cpu),
            format!("{:.2}", s.raw_srv),
            format!("{:.2}", s.pool_srv),
            format!("{:.1}", s.raw_p50),
            format!("{:.1}", s.pool_p50),
            format!("{:+.1}", s.p50_delta()),
            format!("{:.1}", s.raw_p99),
            format!("{:.1}", s.pool_p99),
        ]);
    }
    println!(
        "\nroundtrip: pool vs raw zeromq DEALER on the same runtime; {} server in a separate \
         process; medians of {} reps; {} in flight for {:.1} s; latency {} round trips after {} \
         warm-up; invokation_timeout {:?}",
        config.server,
        config.reps,
        config.window,
        config.secs.as_secs_f64(),
        config.lat_n,
        config.lat_warmup,
        config.invokation_timeout
    );
    println!(
        "{}ratio = pool/raw throughput (goal ≥ {RATIO_GOAL}); Δp50 = pool − raw (goal ≤ \
         +{P50_DELTA_GOAL_US} µs); cpu = this process's threads' run time per request during the \
         timed window; srv = the server process's\n",
        table.render()
    );
    for row in rows {
        for line in json_lines(config, row) {
            println!("{}", json_line(&line));
        }
    }
}

/// Per client a throughput and a latency line (medians and every repetition), then the
/// comparison (everything `scripts/bench-runtimes.sh` tabulates).
fn json_lines(config: &Config, row: &Row) -> Vec<Value> {
    let mut lines = Vec::new();
    for (client, tp, lat) in [
        (Client::Raw, &row.raw_tp, &row.raw_lat),
        (Client::Pool, &row.pool_tp, &row.pool_lat),
    ] {
        lines.push(throughput_line(config, row, client, tp));
        lines.push(latency_line(config, row, client, lat));
    }
    lines.push(compare_line(config, row, &Summary::of(row)));
    lines
}

fn throughput_line(config: &Config, row: &Row, client: Client, tp: &[Throughput]) -> Value {
    let rates: Vec<f64> = tp.iter().map(|t| t.msgs_per_s).collect();
    let cpus: Vec<f64> = tp.iter().map(|t| t.client_cpu_us_per_req).collect();
    let srvs: Vec<f64> = tp.iter().map(|t| t.server_cpu_us_per_req).collect();
    json!({
        "bench": "roundtrip",
        "metric": "throughput",
        "runtime": row.runtime,
        "transport": row.transport.name(),
        "client": client.name(),
        "in_flight": config.window,
        "secs": config.secs.as_secs_f64(),
        "msgs_per_s": round(median(rates.clone()), 1),
        "client_cpu_us_per_req": round(median(cpus.clone()), 3),
        "server_cpu_us_per_req": round(median(srvs.clone()), 3),
        "reps_msgs_per_s": rounded(rates.into_iter(), 1),
        "reps_client_cpu_us_per_req": rounded(cpus.into_iter(), 3),
        "reps_server_cpu_us_per_req": rounded(srvs.into_iter(), 3),
    })
}

fn latency_line(config: &Config, row: &Row, client: Client, lat: &[Latency]) -> Value {
    let p50s: Vec<f64> = lat.iter().map(|l| l.p50_us).collect();
    let p99s: Vec<f64> = lat.iter().map(|l| l.p99_us).collect();
    let means: Vec<f64> = lat.iter().map(|l| l.mean_us).collect();
    json!({
        "bench": "roundtrip",
        "metric": "latency",
        "runtime": row.runtime,
        "transport": row.transport.name(),
        "client": client.name(),
        "n": config.lat_n,
        "warmup": config.lat_warmup,
        "p50_us": round(median(p50s.clone()), 2),
        "p99_us": round(median(p99s.clone()), 2),
        "mean_us": round(median(means.clone()), 2),
        "reps_p50_us": rounded(p50s.into_iter(), 2),
        "reps_p99_us": rounded(p99s.into_iter(), 2),
        "reps_mean_us": rounded(means.into_iter(), 2),
    })
}

fn compare_line(config: &Config, row: &Row, s: &Summary) -> Value {
    json!({
        "bench": "roundtrip",
        "metric": "compare",
        "runtime": row.runtime,
        "transport": row.transport.name(),
        "server": config.server,
        "in_flight": config.window,
        "secs": config.secs.as_secs_f64(),
        "reps": config.reps,
        "raw_msgs_per_s": round(s.raw_tp, 1),
        "pool_msgs_per_s": round(s.pool_tp, 1),
        "throughput_ratio": round(s.ratio(), 4),
        "throughput_ratio_goal": RATIO_GOAL,
        "throughput_ok": s.ratio() >= RATIO_GOAL,
        "cpu_us_per_req_raw": round(s.raw_cpu, 3),
        "cpu_us_per_req_pool": round(s.pool_cpu, 3),
        "raw_p50_us": round(s.raw_p50, 2),
        "pool_p50_us": round(s.pool_p50, 2),
        "p50_delta_us": round(s.p50_delta(), 2),
        "p50_delta_goal_us": P50_DELTA_GOAL_US,
        "p50_ok": s.p50_delta() <= P50_DELTA_GOAL_US,
        "raw_p99_us": round(s.raw_p99, 2),
        "pool_p99_us": round(s.pool_p99, 2),
    })
}

/// External mode: a throughput table (per runtime, client and window), a latency table, then
/// the JSON lines (`metric` `external` per client and window, `external_latency` per client).
pub(crate) fn external_report(config: &Config, rows: &[Rows]) {
    let ext = config.external.as_ref().expect("external mode");
    println!(
        "\nroundtrip (external server {}, id {}): medians of {} reps, {:.1} s per run; latency {} \
         sequential round trips after {} warm-up; invokation_timeout {:?}",
        ext.endpoint,
        config.server_id,
        config.reps,
        config.secs.as_secs_f64(),
        config.lat_n,
        config.lat_warmup,
        config.invokation_timeout
    );
    let mut throughput = Table::new(vec![
        Column::left("runtime"),
        Column::left("client"),
        Column::right("in flight"),
        Column::right("msgs/s").group(),
        Column::right("cpu µs/rq"),
        Column::right("srv µs/rq"),
        Column::right("RSS MiB"),
    ]);
    for series in rows.iter().flat_map(|r| &r.throughput) {
        throughput.row([
            series.runtime.to_owned(),
            series.client.name().to_owned(),
            series.window.to_string(),
            format!("{:.0}", med(&series.reps, |s| s.tp.msgs_per_s)),
            format!("{:.2}", med(&series.reps, |s| s.tp.client_cpu_us_per_req)),
            match ext.pid {
                Some(_) => format!("{:.2}", med(&series.reps, |s| s.tp.server_cpu_us_per_req)),
                None => "-".to_owned(),
            },
            format!(
                "{:.1}",
                med(&series.reps, |s| s.peak_rss_kib.unwrap_or(0) as f64) / 1024.0
            ),
        ]);
    }
    let mut latency = Table::new(vec![
        Column::left("runtime"),
        Column::left("client"),
        Column::right("p50 µs").group(),
        Column::right("p99 µs"),
        Column::right("mean µs"),
    ]);
    for series in rows.iter().flat_map(|r| &r.latency) {
        latency.row([
            series.runtime.to_owned(),
            series.client.name().to_owned(),
            format!("{:.1}", med(&series.reps, |l| l.p50_us)),
            format!("{:.1}", med(&series.reps, |l| l.p99_us)),
            format!("{:.1}", med(&series.reps, |l| l.mean_us)),
        ]);
    }
    println!("{}\n{}", throughput.render(), latency.render());
    let transport = ext.endpoint.split("://").next().unwrap_or("");
    for series in rows.iter().flat_map(|r| &r.throughput) {
        let rates: Vec<f64> = series.reps.iter().map(|s| s.tp.msgs_per_s).collect();
        let cpus: Vec<f64> = series
            .reps
            .iter()
            .map(|s| s.tp.client_cpu_us_per_req)
            .collect();
        let srvs: Vec<f64> = series
            .reps
            .iter()
            .map(|s| s.tp.server_cpu_us_per_req)
            .collect();
        let rss: Vec<f64> = series
            .reps
            .iter()
            .map(|s| s.peak_rss_kib.unwrap_or(0) as f64)
            .collect();
        let line = json!({
            "bench": "roundtrip",
            "metric": "external",
            "runtime": series.runtime,
            "transport": transport,
            "endpoint": ext.endpoint,
            "client": series.client.name(),
            "in_flight": series.window,
            "secs": config.secs.as_secs_f64(),
            "reps": config.reps,
            "msgs_per_s": round(median(rates.clone()), 1),
            "client_cpu_us_per_req": round(median(cpus.clone()), 3),
            "server_cpu_us_per_req": ext.pid.map(|_| round(median(srvs.clone()), 3)),
            "peak_rss_kib": median(rss.clone()).round(),
            "reps_msgs_per_s": rounded(rates.into_iter(), 1),
            "reps_client_cpu_us_per_req": rounded(cpus.into_iter(), 3),
            "reps_peak_rss_kib": rounded(rss.into_iter(), 0),
        });
        println!("{}", json_line(&line));
    }
    for series in rows.iter().flat_map(|r| &r.latency) {
        let p50s: Vec<f64> = series.reps.iter().map(|l| l.p50_us).collect();
        let p99s: Vec<f64> = series.reps.iter().map(|l| l.p99_us).collect();
        let means: Vec<f64> = series.reps.iter().map(|l| l.mean_us).collect();
        let line = json!({
            "bench": "roundtrip",
            "metric": "external_latency",
            "runtime": series.runtime,
            "transport": transport,
            "client": series.client.name(),
            "n": config.lat_n,
            "warmup": config.lat_warmup,
            "p50_us": round(median(p50s.clone()), 2),
            "p99_us": round(median(p99s.clone()), 2),
            "mean_us": round(median(means.clone()), 2),
            "reps_p50_us": rounded(p50s.into_iter(), 2),
            "reps_p99_us": rounded(p99s.into_iter(), 2),
        });
        println!("{}", json_line(&line));
    }
}
