//! External mode (`MMPOOL_BENCH_ENDPOINT`): the clients against a server this process does not
//! start, e.g. one `mmpool serve --send-hwm 0` process that every client of
//! `scripts/bench-anchors.sh` shares. For each selected runtime: per in-flight window
//! (`MMPOOL_BENCH_WINDOWS`) and repetition a throughput run of the raw zeromq DEALER and of the
//! pool, then sequential latency of both (interleaved chunks); then, once per process, the same
//! for a raw libzmq DEALER in a blocking loop. Each throughput run also records the process's
//! peak RSS during it (`VmHWM` after resetting it through `/proc/self/clear_refs`).

use pool_driver::Pool;

use super::config::{Client, Config, External};
use super::libzmq::{libzmq_latency, libzmq_throughput, LibzmqClient};
use super::measure::{latency_of, Latency, Throughput};
use super::pool_client::{build_pool, check_pool_stats, pool_throughput, pool_throughput_requests};
use super::raw::{raw_throughput, RawTarget};
use super::{chunks, latency_rep, task, LAT_CHUNKS};
use crate::Harness;
use pool_measure::{peak_rss_kib, reset_peak_rss};

/// What libzmq's row is labelled with instead of a runtime.
pub(crate) const LIBZMQ_RUNTIME: &str = "blocking thread";

/// One throughput run and the process's peak RSS during it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) tp: Throughput,
    pub(crate) peak_rss_kib: Option<u64>,
}

/// Every repetition of one client at one window.
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) runtime: &'static str,
    pub(crate) client: Client,
    pub(crate) window: usize,
    pub(crate) reps: Vec<Sample>,
}

/// Every repetition of one client's sequential latency.
#[derive(Debug)]
pub(crate) struct LatencySeries {
    pub(crate) runtime: &'static str,
    pub(crate) client: Client,
    pub(crate) reps: Vec<Latency>,
}

/// Everything one runtime (or libzmq) measured.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) throughput: Vec<Series>,
    pub(crate) latency: Vec<LatencySeries>,
}

fn external(config: &Config) -> &External {
    config.external.as_ref().expect("external mode")
}

fn target(config: &Config) -> RawTarget {
    RawTarget {
        endpoint: external(config).endpoint.clone(),
        server_id: config.server_id,
        invokation_timeout: config.invokation_timeout,
    }
}

fn wants(config: &Config, client: Client) -> bool {
    external(config).clients.contains(&client)
}

/// `run` with the peak RSS reset before and read after.
fn sampled(run: impl FnOnce() -> Throughput) -> Sample {
    reset_peak_rss();
    let tp = run();
    Sample {
        tp,
        peak_rss_kib: peak_rss_kib(),
    }
}

fn log(runtime: &str, client: Client, window: usize, rep: usize, s: &Sample) {
    eprintln!(
        "  [{runtime}] window {window} rep {rep}: {:<6} {:>9.0} msgs/s  {:.2} µs CPU/req  peak RSS {} KiB",
        client.name(),
        s.tp.msgs_per_s,
        s.tp.client_cpu_us_per_req,
        s.peak_rss_kib.unwrap_or(0)
    );
}

/// The raw zeromq DEALER and the pool on `H`, every window and repetition, then latency.
pub(crate) fn measure<H: Harness>(config: &Config) -> Rows {
    H::block_on(measure_on::<H>(config))
}

async fn measure_on<H: Harness>(config: &Config) -> Rows {
    let ext = external(config);
    let target = target(config);
    let pool = build_pool::<H::Rt>(config, &ext.endpoint).await;
    let mut rows = Rows::default();
    for &window in &ext.windows {
        let mut raw = Series {
            runtime: H::NAME,
            client: Client::Raw,
            window,
            reps: Vec::new(),
        };
        let mut pooled = Series {
            client: Client::Pool,
            reps: Vec::new(),
            ..raw
        };
        for rep in 0..config.reps {
            if wants(config, Client::Raw) {
                reset_peak_rss();
                let run = raw_throughput::<H>(target.clone(), window, config.secs, ext.pid);
                let (w, client) = task::<H, _>(run).await;
                drop(client);
                let s = Sample {
                    tp: w.into_throughput(),
                    peak_rss_kib: peak_rss_kib(),
                };
                log(H::NAME, Client::Raw, window, rep, &s);
                raw.reps.push(s);
            }
            if wants(config, Client::Pool) {
                reset_peak_rss();
                let s = pool_rep::<H>(config, &pool, window).await;
                let s = Sample {
                    peak_rss_kib: peak_rss_kib(),
                    ..s
                };
                log(H::NAME, Client::Pool, window, rep, &s);
                pooled.reps.push(s);
            }
        }
        rows.throughput
            .extend([raw, pooled].into_iter().filter(|s| !s.reps.is_empty()));
    }
    latency_on::<H>(config, &target, &pool, &mut rows).await;
    pool.shutdown().await;
    rows
}

/// One pool throughput run at `window`, with the pool's counters checked around it.
async fn pool_rep<H: Harness>(config: &Config, pool: &Pool<H::Rt>, window: usize) -> Sample {
    let ext = external(config);
    let before = pool.stats();
    let run = pool_throughput(pool.clone(), config.server_id, window, config.secs, ext.pid);
    let w = task::<H, _>(run).await;
    check_pool_stats(
        &before,
        &pool.stats(),
        pool_throughput_requests(w.completed, window),
    );
    Sample {
        tp: w.into_throughput(),
        peak_rss_kib: None,
    }
}

/// Sequential latency of the selected runtime clients, per repetition, in interleaved chunks.
async fn latency_on<H: Harness>(
    config: &Config,
    target: &RawTarget,
    pool: &Pool<H::Rt>,
    rows: &mut Rows,
) {
    let (want_raw, want_pool) = (wants(config, Client::Raw), wants(config, Client::Pool));
    let mut raw_reps = Vec::new();
    let mut pool_reps = Vec::new();
    for rep in 0..config.reps {
        let (raw, pooled) = latency_rep::<H>(config, target, pool, (want_raw, want_pool)).await;
        raw_reps.extend(raw);
        pool_reps.extend(pooled);
        eprintln!(
            "  [{}] latency rep {rep}: p50 raw {:.1} µs pool {:.1} µs",
            H::NAME,
            raw_reps.last().map_or(0.0, |l: &Latency| l.p50_us),
            pool_reps.last().map_or(0.0, |l: &Latency| l.p50_us)
        );
    }
    for (client, reps) in [(Client::Raw, raw_reps), (Client::Pool, pool_reps)] {
        if !reps.is_empty() {
            rows.latency.push(LatencySeries {
                runtime: H::NAME,
                client,
                reps,
            });
        }
    }
}

/// The libzmq DEALER: every window and repetition, then sequential latency; on this thread.
pub(crate) fn measure_libzmq(config: &Config) -> Rows {
    let ext = external(config);
    let mut rows = Rows::default();
    for &window in &ext.windows {
        let mut series = Series {
            runtime: LIBZMQ_RUNTIME,
            client: Client::Libzmq,
            window,
            reps: Vec::new(),
        };
        for rep in 0..config.reps {
            let mut client =
                LibzmqClient::connect(&ext.endpoint, config.server_id, config.invokation_timeout);
            let s = sampled(|| {
                libzmq_throughput(&mut client, window, config.secs, ext.pid).into_throughput()
            });
            log(LIBZMQ_RUNTIME, Client::Libzmq, window, rep, &s);
            series.reps.push(s);
        }
        rows.throughput.push(series);
    }
    let mut reps = Vec::new();
    for _ in 0..config.reps {
        let mut client =
            LibzmqClient::connect(&ext.endpoint, config.server_id, config.invokation_timeout);
        libzmq_latency(&mut client, config.lat_warmup);
        let mut samples = Vec::new();
        for n in chunks(config.lat_n, LAT_CHUNKS) {
            samples.extend(libzmq_latency(&mut client, n));
        }
        let l = latency_of(samples);
        eprintln!(
            "  [{LIBZMQ_RUNTIME}] latency: p50 libzmq {:.1} µs",
            l.p50_us
        );
        reps.push(l);
    }
    rows.latency.push(LatencySeries {
        runtime: LIBZMQ_RUNTIME,
        client: Client::Libzmq,
        reps,
    });
    rows
}
