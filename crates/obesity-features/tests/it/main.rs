//! Integration tests of obesity-features: one binary, one module per topic.

mod any_table;
mod common;
mod dataset;
mod encoding;
mod generated;
mod numeric;
mod persist;
mod properties;
mod scaling;
mod table_equivalence;
mod uci_reference;
mod unseen;
