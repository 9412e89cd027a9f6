//! The round-trip benchmark, generic over the runtime (filled in below).
