//! The `obesity` command line.
fn main() {}
