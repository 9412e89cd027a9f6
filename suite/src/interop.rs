//! Live interop smoke (filled in below).
