//! Placeholder: filled in by the crate that owns this bench.
fn main() {}
