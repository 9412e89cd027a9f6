//! The conformance suite: every behaviour of the pool against testkit servers, once, for every
//! runtime.
//!
//! Each test is a generic `async fn` over a [`Harness`](crate::Harness); an adapter implements
//! the harness in its own tests and runs them all with one line:
//!
//! ```ignore
//! // pool-smol/tests/conformance.rs
//! mod harness; // tests/harness/mod.rs: `struct Smol; impl pool_suite::Harness for Smol { .. }`
//!
//! pool_suite::conformance_tests!(harness::Smol);
//! ```
//!
//! which expands to one `#[test]` per function, named after it. No assertion is about timing:
//! deadlines only bound hangs.

pub mod deadlines;
pub mod events;
pub mod fanout;
pub mod faults;
pub mod hostile;
pub mod lifecycle;
pub mod load;
pub mod outcomes;
pub mod soak;
pub mod things;
pub mod transport;

/// What every test module uses.
mod prelude {
    pub(crate) use std::time::Duration;

    pub(crate) use pool_driver::{Error, Pool, PoolStats, Request, TimeoutKind, WhenFull};
    pub(crate) use pool_testkit::{Behaviour, HostileConfig, HostileKind};
    pub(crate) use serde_json::{json, Value};

    pub(crate) use crate::{
        bounded, builder, endpoint, eventually, ready_pool, secs, server, sleep, spawn, Harness,
        Transport,
    };
}

/// The tests of one binary run on parallel threads of one process. Most share it; a test that
/// measures the process itself (the soak's resident set) holds it alone, or the 16 MiB frames of
/// a hostile test running beside it would count as the soak's growth.
static PROCESS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A test's hold on the process: shared with the other tests, or alone.
#[doc(hidden)]
pub enum ProcessShare {
    /// Beside other tests.
    Shared(std::sync::RwLockReadGuard<'static, ()>),
    /// No other test runs meanwhile.
    Alone(std::sync::RwLockWriteGuard<'static, ()>),
}

/// Takes the process for one test (see [`ProcessShare`]). A test that panicked while holding
/// it has already failed; the others go on.
#[doc(hidden)]
pub fn share_process(alone: bool) -> ProcessShare {
    if alone {
        ProcessShare::Alone(PROCESS.write().unwrap_or_else(|e| e.into_inner()))
    } else {
        ProcessShare::Shared(PROCESS.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Expands to one `#[test]` per conformance test, each running on the given [`Harness`](crate::Harness).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::conformance_tests!(@each $harness;
            outcomes::properties_and_actions_over_tcp_and_ipc,
            outcomes::remote_errors_name_thing_server_and_message_id,
            outcomes::server_timeouts_are_reported_by_kind,
            outcomes::oneway_requests_end_when_sent,
            deadlines::client_deadlines_say_whether_the_server_was_ever_ready,
            deadlines::dropping_a_pending_request_cancels_it_and_its_late_reply_is_dropped,
            deadlines::absurd_durations_saturate_instead_of_panicking,
            fanout::many_things_on_one_server_and_fan_out_over_servers,
            fanout::fan_out_gives_each_thing_its_own_outcome,
            fanout::fan_out_wider_than_the_pool_is_refused_not_left_waiting,
            fanout::a_fan_out_into_a_full_pool_waits_for_its_slots_within_its_deadline,
            load::a_thousand_concurrent_requests_each_get_their_own_reply,
            load::a_full_pool_refuses_or_waits_as_configured,
            load::more_requests_than_a_router_pipe_holds_all_get_their_replies,
            load::sixteen_servers_share_one_pool_and_a_death_stays_local,
            lifecycle::bad_configuration_is_refused_at_build,
            lifecycle::servers_added_and_removed_at_run_time,
            lifecycle::shutdown_closes_requests_and_stops_every_task,
            lifecycle::dropping_the_last_handle_shuts_the_pool_down,
            lifecycle::handles_cross_threads_and_tasks,
            faults::a_server_killed_before_the_pool_starts_is_waited_for,
            faults::repeated_kills_never_lose_or_misdeliver_a_request,
            faults::killed_server_fails_in_flight_requests_and_recovers_after_restart,
            faults::a_silent_server_is_caught_by_the_liveness_probe_and_reconnected,
            faults::a_request_without_deadline_ends_when_its_server_freezes,
            hostile::hostile_servers_never_disturb_good_replies_and_every_drop_is_counted,
            hostile::each_hostile_kind_alone_is_dropped_and_counted,
            hostile::a_sixteen_mebibyte_frame_is_dropped_without_harm,
            hostile::handshake_timeout_reconnects_a_server_that_never_answers_it,
            hostile::a_reply_over_the_size_limit_ends_its_request_with_a_clear_error,
            hostile::a_flooding_server_never_disturbs_the_good_one,
            transport::a_huge_frame_header_loses_the_connection_not_the_process,
            transport::a_stream_cut_mid_frame_is_a_lost_connection,
            transport::undecodable_bytes_lose_one_connection_and_the_next_serves,
            transport::lies_during_the_zmtp_handshake_fail_the_attempt_and_the_pool_retries,
            transport::a_peer_that_always_lies_times_out_with_the_reason,
            events::events_arrive_in_order_over_tcp_and_ipc,
            events::many_subscribers_share_one_event_and_each_gets_every_one,
            events::dropping_a_subscription_unsubscribes_and_the_last_closes_the_socket,
            events::a_slow_consumer_is_bounded_and_told_how_many_it_lost,
            events::a_publisher_kill_and_restart_is_a_reported_gap,
            events::hostile_event_frames_are_dropped_counted_and_survived,
            events::an_event_nobody_subscribed_to_reaches_nobody,
            events::observe_property_yields_each_written_value,
            events::removing_the_server_or_closing_the_pool_ends_its_subscriptions,
            events::subscriptions_are_checked,
            things::a_thing_handle_reads_writes_invokes_and_reads_all,
            things::a_described_thing_refuses_unknown_names_and_read_only_writes_locally,
            things::execute_in_fans_out_over_the_chosen_things_only,
            things::servers_and_things_know_each_other_and_things_can_go,
            things::an_empty_payload_is_never_sent,
            things::a_request_deadline_reaches_the_server_and_server_timeouts_name_their_limit,
            things::a_thing_description_is_fetched_for_the_endpoints_protocol,
            things::execution_logs_come_apart_from_the_value_also_on_failure,
            things::msgpack_goes_both_ways_and_notes_are_kept,
        );
        // These measure the whole process (its resident set), so each runs while no other test
        // does.
        $crate::conformance_tests!(@alone $harness;
            soak::soak_many_requests_with_timeouts_cancellations_and_restarts,
            transport::an_oversize_frame_is_refused_at_its_header_with_memory_bounded,
            transport::endless_more_frames_stop_at_the_frame_limit_with_memory_bounded,
        );
    };
    (@each $harness:ty; $($module:ident :: $name:ident),* $(,)?) => {
        $crate::conformance_tests!(@tests $harness, false; $($module::$name),*);
    };
    (@alone $harness:ty; $($module:ident :: $name:ident),* $(,)?) => {
        $crate::conformance_tests!(@tests $harness, true; $($module::$name),*);
    };
    (@tests $harness:ty, $alone:expr; $($module:ident :: $name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let _process = $crate::conformance::share_process($alone);
                <$harness as $crate::Harness>::block_on(
                    $crate::conformance::$module::$name::<$harness>(),
                );
            }
        )*
    };
}
