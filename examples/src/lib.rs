//! Examples of pool-core and pool-driver outside the three runtime adapters.
#![forbid(unsafe_code)]
