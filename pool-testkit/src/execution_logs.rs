//! Execution logs, as hololinked's `LogHistoryHandler` collects them when a request's
//! `thingExecutionContext` asks `fetch_execution_logs` (docs/protocol.md; both lines).
//!
//! What it mimics (verified live on 0.4.2 and 0.3.12):
//! * each record is `{"level", "timestamp", "thread_id", "message"}`: `level` the Python level
//!   name (`WARNING`, `ERROR`), `timestamp` `%Y-%m-%dT%H:%M:%S.%f` (local time; the fake uses
//!   UTC), `thread_id` the executing thread's `threading.get_ident()` (a large integer; the fake
//!   gives a stable number per OS thread), `message` the line as the Thing logger's formatter
//!   renders it: `"{dd-mm-YYYY}T{HH:MM:SS.ffffff}Z [{level:<9}] [THING] {msg:<22} Thing={class}
//!   thing_id={id}"` (the level lowercase);
//! * records are inserted at index 0: the newest comes first;
//! * a failing operation adds, after the action's own records, `ERROR "error while executing
//!   operation - {message}"` and then `ERROR "{message}\nTraceback ..."` (`logger.exception`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The Thing class name the fake's log lines carry (`Thing=...`).
pub const THING_CLASS: &str = "TestThing";

/// One collected log record, in hololinked's key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// The Python level name, e.g. `WARNING`.
    pub level: &'static str,
    /// `%Y-%m-%dT%H:%M:%S.%f`.
    pub timestamp: String,
    /// The executing thread's id.
    pub thread_id: u64,
    /// The formatted log line.
    pub message: String,
}

/// The records of one operation, newest first.
#[derive(Debug, Default, Clone)]
pub(crate) struct LogCollector {
    records: Vec<LogRecord>,
}

impl LogCollector {
    /// Logs `message` at `level` (a Python level name) from Thing `thing_id`.
    pub(crate) fn log(&mut self, level: &'static str, thing_id: &str, message: &str) {
        self.log_with_traceback(level, thing_id, message, &[]);
    }

    /// Logs like `logger.exception`: the formatted line, then `traceback` one line each.
    pub(crate) fn log_with_traceback(
        &mut self,
        level: &'static str,
        thing_id: &str,
        message: &str,
        traceback: &[String],
    ) {
        let (date, time) = civil_now();
        let mut line = format!(
            "{date_dmy}T{time}Z [{lvl:<9}] [THING] {message:<22} Thing={THING_CLASS} thing_id={thing_id}",
            date_dmy = date.dmy(),
            lvl = level.to_lowercase(),
        );
        for l in traceback {
            line.push('\n');
            line.push_str(l);
        }
        self.records.insert(
            0,
            LogRecord {
                level,
                timestamp: format!("{}T{time}", date.ymd()),
                thread_id: thread_id(),
                message: line,
            },
        );
    }

    /// The records as a JSON array (newest first).
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.records).expect("log records always serialise")
    }

    /// The records as a JSON value.
    pub(crate) fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.records).expect("log records always serialise")
    }
}

/// A stable, Python-looking (`threading.get_ident()`-sized) id of the current OS thread.
fn thread_id() -> u64 {
    let debug = format!("{:?}", std::thread::current().id());
    let n: u64 = debug
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    139_800_000_000_000 + n * 8_392_704
}

/// A calendar date.
struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    fn ymd(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
    fn dmy(&self) -> String {
        format!("{:02}-{:02}-{:04}", self.day, self.month, self.year)
    }
}

/// Now in UTC: the date and `HH:MM:SS.ffffff`.
fn civil_now() -> (Date, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let micros = now.subsec_micros();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let time = format!(
        "{:02}:{:02}:{:02}.{micros:06}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    (civil_from_days(days), time)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a proleptic Gregorian date.
fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date { year, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0).ymd(), "1970-01-01");
        assert_eq!(civil_from_days(20_791).ymd(), "2026-12-04");
        assert_eq!(civil_from_days(11_016).dmy(), "29-02-2000");
    }

    #[test]
    fn records_newest_first() {
        let mut c = LogCollector::default();
        c.log("WARNING", "t", "hi there");
        c.log(
            "ERROR",
            "t",
            "error while executing operation - a long message",
        );
        let v = c.to_value();
        assert_eq!(v[0]["level"], "ERROR");
        assert_eq!(v[1]["level"], "WARNING");
        let m = v[1]["message"].as_str().unwrap();
        assert!(
            m.ends_with("Z [warning  ] [THING] hi there               Thing=TestThing thing_id=t"),
            "{m}"
        );
        let ts = v[1]["timestamp"].as_str().unwrap();
        assert_eq!((ts.len(), &ts[10..11], &ts[19..20]), (26, "T", "."), "{ts}");
        assert!(v[1]["thread_id"].as_u64().unwrap() > 1 << 40);
    }
}
