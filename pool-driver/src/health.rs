//! What the log says of a link's health (a server's request connection, or its event
//! publisher), rate-limited so that a peer that stays down does not flood the log.
//!
//! Policy, per link:
//! * a link that was up and is lost: `warn`, with the endpoint and the cause;
//! * a failed attempt of a link that is down (connect refused or timed out, handshake never
//!   answered, ...): `warn` for the first failure and whenever the cause changes, `debug` for
//!   every repeat of the same cause (one per backoff attempt);
//! * a link up again after a reported problem: `info`, with the count of failed attempts; a
//!   server's first readiness is `info` too, an event publisher's first connection `debug`
//!   (publisher links open and close with the subscriptions).
//!
//! Invariant: the state is the link's own (the engine keeps one per server, a subscriber task
//! one per publisher link), so no lock is taken here and nothing here blocks.

/// Which kind of link a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watched {
    /// A server's request connection (DEALER).
    Server,
    /// A server's event publisher (SUB).
    Publisher,
}

/// One link's health, as far as the log has told it.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// The link is up (a server answered its HANDSHAKE, a publisher connected).
    up: bool,
    /// The cause last reported at `warn`, while the link is down.
    reported: Option<String>,
    /// Attempts that failed since the link was last up.
    failures: u64,
}

/// What a failure is, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The link was up: it is lost.
    Lost,
    /// The link was down, and this cause is new.
    NewCause,
    /// The link was down for this very cause already.
    Repeat,
}

impl Health {
    /// Counts a failure with `cause` and says what kind it is.
    pub(crate) fn fail(&mut self, cause: &str) -> Failure {
        self.failures += 1;
        let kind = if self.up {
            Failure::Lost
        } else if self.reported.as_deref() == Some(cause) {
            Failure::Repeat
        } else {
            Failure::NewCause
        };
        self.up = false;
        if kind != Failure::Repeat {
            self.reported = Some(cause.to_owned());
        }
        kind
    }

    /// Marks the link up; returns the failed attempts since it was last up, if a problem had
    /// been reported (`None`: nothing was wrong before).
    pub(crate) fn recover(&mut self) -> Option<u64> {
        self.up = true;
        let failures = std::mem::take(&mut self.failures);
        self.reported.take().map(|_| failures)
    }

    /// Counts a failure and logs it at the level the policy gives.
    pub(crate) fn report_failure(
        &mut self,
        what: Watched,
        server: &str,
        endpoint: &str,
        cause: &str,
    ) {
        let name = what.name();
        match self.fail(cause) {
            Failure::Lost => tracing::warn!(server, endpoint, cause, "{name} lost"),
            Failure::NewCause => tracing::warn!(
                server,
                endpoint,
                cause,
                "{name} unreachable (repeats of this cause are logged at debug)"
            ),
            Failure::Repeat => {
                let failures = self.failures;
                tracing::debug!(
                    server,
                    endpoint,
                    cause,
                    failures,
                    "{name} still unreachable"
                );
            }
        }
    }

    /// Marks the link up and logs it at the level the policy gives.
    pub(crate) fn report_up(&mut self, what: Watched, server: &str, endpoint: &str) {
        let name = what.name();
        match (self.recover(), what) {
            (Some(failed_attempts), _) => {
                tracing::info!(
                    server,
                    endpoint,
                    failed_attempts,
                    "{name} {} again",
                    what.up()
                );
            }
            (None, Watched::Server) => tracing::info!(server, endpoint, "{name} {}", what.up()),
            (None, Watched::Publisher) => {
                tracing::debug!(server, endpoint, "{name} {}", what.up());
            }
        }
    }
}

impl Watched {
    /// The link's name in a log message.
    fn name(self) -> &'static str {
        match self {
            Watched::Server => "server",
            Watched::Publisher => "event publisher",
        }
    }

    /// The word for "up".
    fn up(self) -> &'static str {
        match self {
            Watched::Server => "ready",
            Watched::Publisher => "connected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Failure, Health};

    #[test]
    fn a_down_link_warns_once_per_cause_and_counts_its_failures() {
        let mut health = Health::default();
        assert_eq!(health.fail("refused"), Failure::NewCause);
        assert_eq!(health.fail("refused"), Failure::Repeat);
        assert_eq!(health.fail("refused"), Failure::Repeat);
        assert_eq!(health.fail("timed out"), Failure::NewCause);
        assert_eq!(health.fail("refused"), Failure::NewCause);
        assert_eq!(
            health.recover(),
            Some(5),
            "five failed attempts before it came up"
        );
    }

    #[test]
    fn a_link_that_was_up_is_lost_then_down() {
        let mut health = Health::default();
        assert_eq!(health.recover(), None, "first time up: nothing was wrong");
        assert_eq!(health.fail("closed"), Failure::Lost);
        assert_eq!(health.fail("closed"), Failure::Repeat);
        assert_eq!(health.recover(), Some(2));
        assert_eq!(
            health.fail("closed"),
            Failure::Lost,
            "up again: a loss is news"
        );
    }
}
