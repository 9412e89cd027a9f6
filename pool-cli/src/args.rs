//! The command-line arguments every pool-using subcommand shares: which servers, which Things.

use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use pool_tokio::{hololinked_ipc_endpoint, PoolBuilder};

/// `--server ID=ENDPOINT`: a hololinked server (its id is its ROUTER identity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerArg {
    /// The server's id.
    pub id: String,
    /// `tcp://host:port` or `ipc:///path`.
    pub endpoint: String,
}

impl FromStr for ServerArg {
    type Err = String;

    fn from_str(s: &str) -> Result<ServerArg, String> {
        let (id, endpoint) = s
            .split_once('=')
            .ok_or_else(|| format!("expected ID=ENDPOINT, got {s:?}"))?;
        if id.is_empty() {
            return Err(format!("the server id is empty in {s:?}"));
        }
        let endpoint = match endpoint {
            // hololinked's default IPC access point of a server: $HOME/.hololinked/...
            "ipc" => hololinked_ipc_endpoint(id)
                .ok_or_else(|| format!("`{id}=ipc` needs HOME to find hololinked's ipc path"))?,
            "" => return Err(format!("the endpoint is empty in {s:?}")),
            other => other.to_owned(),
        };
        Ok(ServerArg {
            id: id.to_owned(),
            endpoint,
        })
    }
}

/// `--thing THING=SERVER`: one more Thing served by SERVER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThingArg {
    /// The Thing's id.
    pub thing: String,
    /// The id of the server that serves it.
    pub server: String,
}

impl FromStr for ThingArg {
    type Err = String;

    fn from_str(s: &str) -> Result<ThingArg, String> {
        match s.split_once('=') {
            Some((thing, server)) if !thing.is_empty() && !server.is_empty() => Ok(ThingArg {
                thing: thing.to_owned(),
                server: server.to_owned(),
            }),
            _ => Err(format!("expected THING=SERVER, got {s:?}")),
        }
    }
}

/// The servers and Things a pool is built over.
#[derive(Args, Clone, Debug)]
pub struct Servers {
    /// A server, as ID=ENDPOINT (tcp://host:port, ipc:///path, or `ipc` for hololinked's default
    /// ipc path of ID). Repeatable. Its Thing defaults to its id.
    #[arg(long = "server", value_name = "ID=ENDPOINT", required = true)]
    pub servers: Vec<ServerArg>,

    /// One more Thing on a server, as THING=SERVER. Repeatable.
    #[arg(long = "thing", value_name = "THING=SERVER")]
    pub things: Vec<ThingArg>,

    /// The client id (the DEALER identity the servers see); a fresh unique one by default.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
}

impl Servers {
    /// Whether `thing` is a server id or a `--thing`.
    pub fn knows(&self, thing: &str) -> bool {
        self.servers.iter().any(|s| s.id == thing) || self.things.iter().any(|t| t.thing == thing)
    }

    /// These servers, with `thing` added to the only server when there is one server and it
    /// was not told about `thing`: that server is the one to ask (it answers INVALID_MESSAGE if
    /// it does not know the Thing either).
    pub fn asking(&self, thing: &str) -> Servers {
        let mut servers = self.clone();
        if let [only] = servers.servers.as_slice() {
            if !servers.knows(thing) {
                servers.things.push(ThingArg {
                    thing: thing.to_owned(),
                    server: only.id.clone(),
                });
            }
        }
        servers
    }

    /// A pool builder with every server and Thing; a server's own id is one of its Things.
    pub fn builder(&self) -> PoolBuilder {
        let mut builder = pool_tokio::Pool::builder();
        for server in &self.servers {
            builder = builder.server(&server.id, &server.endpoint);
        }
        for thing in &self.things {
            if !self.servers.iter().any(|s| s.id == thing.thing) {
                builder = builder.thing(&thing.thing, &thing.server);
            }
        }
        if let Some(id) = &self.client_id {
            builder = builder.client_id(id);
        }
        builder
    }
}

/// The pool's default for one connection attempt.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The shortest connection attempt a command allows.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// How long one connection attempt may take in a command whose deadline is `timeout`: half of
/// it, from 100 ms to the pool's default 2 s. An attempt to an unreachable server thus ends
/// before the deadline, and the error of a request that never got through names why
/// (`last: connect failed: ...`) instead of only that the server never became ready.
pub fn connect_timeout_for(timeout: Duration) -> Duration {
    (timeout / 2).clamp(MIN_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)
}

/// The longest duration any flag accepts, in seconds: 10 years of 365.25 days. Longer than any
/// deadline or run anyone means, and short enough that a deadline `Instant::now() + d` (and the
/// pool's microsecond clock) can never overflow.
pub const MAX_SECONDS: u64 = 315_576_000;

/// The most requests a run may keep in flight (`--inflight`): the pool's request slots and the
/// futures in flight are allocated up front, so an absurd count would abort allocating.
pub const MAX_INFLIGHT: usize = 1_000_000;

/// Seconds as given on the command line (`--timeout 2.5`): from 0 to [`MAX_SECONDS`]; negative,
/// NaN, infinite and larger values are refused.
pub fn seconds(s: &str) -> Result<Duration, String> {
    let value: f64 = s.trim().parse().map_err(|_| seconds_range(">= 0"))?;
    // `!(..)` so that NaN is refused too.
    if !(0.0..=MAX_SECONDS as f64).contains(&value) {
        return Err(seconds_range(">= 0"));
    }
    Duration::try_from_secs_f64(value).map_err(|_| seconds_range(">= 0"))
}

/// Seconds > 0 and at most [`MAX_SECONDS`] (`--duration`).
pub fn positive_seconds(s: &str) -> Result<Duration, String> {
    match seconds(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(seconds_range("> 0")),
    }
}

fn seconds_range(low: &str) -> String {
    format!("expected seconds {low} and <= {MAX_SECONDS} (10 years)")
}

/// A parser of whole numbers from 1 to `max` (`--inflight N`).
pub fn count(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {max}")),
    }
}

/// The first line of a clap error about one value (`error: invalid value 'X' for '--flag
/// <SECS>': expected ...`), escaped: the one line a bad value gets, without clap's "For more
/// information" tip.
pub fn value_error_line(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or_default();
    crate::escape::escape_controls(first).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_arguments() {
        let s: ServerArg = "a=tcp://127.0.0.1:5555".parse().unwrap();
        assert_eq!(
            (s.id.as_str(), s.endpoint.as_str()),
            ("a", "tcp://127.0.0.1:5555")
        );
        assert!("a".parse::<ServerArg>().is_err());
        assert!("=tcp://x:1".parse::<ServerArg>().is_err());
        assert!("a=".parse::<ServerArg>().is_err());
        if std::env::var_os("HOME").is_some() {
            let s: ServerArg = "demo=ipc".parse().unwrap();
            assert!(s.endpoint.starts_with("ipc://") && s.endpoint.ends_with("demo.ipc"));
        }
        let t: ThingArg = "cam=srv".parse().unwrap();
        assert_eq!((t.thing.as_str(), t.server.as_str()), ("cam", "srv"));
        assert!("cam".parse::<ThingArg>().is_err());
        assert_eq!(seconds("1.5").unwrap(), Duration::from_millis(1500));
        assert!(seconds("-1").is_err() && seconds("x").is_err());
    }

    #[test]
    fn durations_and_counts_have_a_range() {
        assert_eq!(seconds("0").unwrap(), Duration::ZERO);
        assert_eq!(seconds("-0").unwrap(), Duration::ZERO);
        let max = Duration::from_secs(MAX_SECONDS);
        assert_eq!(seconds("315576000").unwrap(), max);
        for bad in [
            "-1",
            "-1e-9",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "1e19",
            "1e400",
            "315576000.5",
            "",
        ] {
            let e = seconds(bad).unwrap_err();
            assert!(e.contains(">= 0") && e.contains("315576000"), "{bad}: {e}");
        }
        assert_eq!(positive_seconds("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["0", "1e-12", "-1", "nan", "1e19"] {
            assert!(positive_seconds(bad).unwrap_err().contains("> 0"), "{bad}");
        }
        // Every accepted duration can be added to now.
        assert!(std::time::Instant::now().checked_add(max * 2).is_some());
        let inflight = count(MAX_INFLIGHT);
        assert_eq!(inflight("1"), Ok(1));
        assert_eq!(inflight("1000000"), Ok(MAX_INFLIGHT));
        for bad in ["0", "-1", "1000001", "1000000000000", "x", "1.5"] {
            assert_eq!(
                inflight(bad),
                Err("expected a whole number from 1 to 1000000".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_connect_attempt_ends_before_the_deadline() {
        let ms = Duration::from_millis;
        assert_eq!(connect_timeout_for(ms(1000)), ms(500));
        assert_eq!(connect_timeout_for(ms(0)), ms(100));
        assert_eq!(connect_timeout_for(ms(10_000)), ms(2000));
        assert_eq!(
            connect_timeout_for(Duration::from_secs(MAX_SECONDS)),
            ms(2000)
        );
    }

    #[test]
    fn a_value_error_is_one_escaped_line() {
        let rendered = "error: invalid value '\x1b' for '--timeout <SECS>': expected\n\nFor more";
        assert_eq!(
            value_error_line(rendered),
            "error: invalid value '\\u{1b}' for '--timeout <SECS>': expected"
        );
    }
}
