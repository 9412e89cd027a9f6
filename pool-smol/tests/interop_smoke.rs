//! A live smoke test against a real hololinked 0.4.2 server on this adapter (pool-suite's
//! interop module; the venv comes from scripts/python-venvs.sh).

mod harness;

pool_suite::interop_smoke_tests!(harness::Smol);
