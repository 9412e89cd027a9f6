//! `mmpool serve --stream THING/EVENT[@RATE]`: an event the served server publishes as a
//! steady stream of `{"n":k}` payloads (pool-testkit's [`EventStream`]).

use std::str::FromStr;

use pool_testkit::EventStream;

/// The highest `@RATE` accepted, in events per second. A rate above what the publisher can send
/// is meaningless (it sends as fast as it can anyway); leave `@RATE` out for that.
pub const MAX_RATE: f64 = 1_000_000.0;

/// One `--stream THING/EVENT[@RATE]`: event EVENT of Thing THING, RATE events per second (as
/// fast as the PUB socket takes them without a rate).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamArg {
    /// The Thing whose event it is (must be one the server serves).
    pub thing: String,
    /// The event's name.
    pub event: String,
    /// Events per second; `None`: as fast as possible.
    pub rate: Option<f64>,
}

impl StreamArg {
    /// The testkit stream of this argument.
    pub fn stream(&self) -> EventStream {
        let stream = EventStream::new(&self.thing, &self.event);
        match self.rate {
            Some(rate) => stream.rate(rate),
            None => stream.as_fast_as_possible(),
        }
    }

    /// `Err` (one line) unless the Thing is one of `things`.
    pub fn check_thing(&self, things: &[String]) -> Result<(), String> {
        if things.contains(&self.thing) {
            return Ok(());
        }
        Err(format!(
            "--stream {}/{}: the server serves no Thing {:?} (it serves {})",
            self.thing,
            self.event,
            self.thing,
            things.join(", ")
        ))
    }
}

impl FromStr for StreamArg {
    type Err = String;

    fn from_str(s: &str) -> Result<StreamArg, String> {
        let (spec, rate) = match s.rsplit_once('@') {
            Some((spec, rate)) => (spec, Some(rate)),
            None => (s, None),
        };
        let Some((thing, event)) = spec.split_once('/') else {
            return Err(format!("expected THING/EVENT[@RATE], got {s:?}"));
        };
        if thing.is_empty() {
            return Err(format!(
                "the Thing is empty in {s:?} (expected THING/EVENT[@RATE])"
            ));
        }
        if event.is_empty() || event.contains('/') {
            return Err(format!(
                "expected one event name after the Thing in {s:?} (THING/EVENT[@RATE])"
            ));
        }
        let rate = rate.map(parse_rate).transpose()?;
        Ok(StreamArg {
            thing: thing.to_owned(),
            event: event.to_owned(),
            rate,
        })
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let range = || {
        format!(
            "expected a rate in events per second > 0 and <= {MAX_RATE:.0} after @, got {text:?} \
             (leave @RATE out for as fast as possible)"
        )
    };
    let rate: f64 = text.trim().parse().map_err(|_| range())?;
    // `!(..)` so that NaN is refused too.
    if !(rate > 0.0 && rate <= MAX_RATE) {
        return Err(range());
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s: StreamArg = "bench/tick".parse().unwrap();
        assert_eq!(
            s,
            StreamArg {
                thing: "bench".into(),
                event: "tick".into(),
                rate: None
            }
        );
        assert_eq!(s.stream().rate, 0.0);
        let s: StreamArg = "lab/measurement@12.5".parse().unwrap();
        assert_eq!(
            (s.thing.as_str(), s.event.as_str(), s.rate),
            ("lab", "measurement", Some(12.5))
        );
        assert_eq!(s.stream().rate, 12.5);
        assert_eq!(s.stream().payload(3), b"{\"n\":3}");
        let s: StreamArg = "a/b@1000000".parse().unwrap();
        assert_eq!(s.rate, Some(MAX_RATE));
    }

    #[test]
    fn bad_specs_say_what_is_expected() {
        for (bad, says) in [
            ("tick", "THING/EVENT"),
            ("/tick", "Thing is empty"),
            ("bench/", "event name"),
            ("bench/a/b", "event name"),
            ("bench/tick@", "rate"),
            ("bench/tick@0", "rate"),
            ("bench/tick@-3", "rate"),
            ("bench/tick@nan", "rate"),
            ("bench/tick@inf", "rate"),
            ("bench/tick@1e7", "rate"),
            ("bench/tick@fast", "rate"),
        ] {
            let e = bad.parse::<StreamArg>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_thing_must_be_served() {
        let s: StreamArg = "cam/tick".parse().unwrap();
        let things = ["lab".to_owned(), "stage".to_owned()];
        let e = s.check_thing(&things).unwrap_err();
        assert!(e.contains("\"cam\"") && e.contains("lab, stage"), "{e}");
        assert!(s.check_thing(&["cam".to_owned()]).is_ok());
    }
}
