//! Integration tests of obesity-data: one binary, one module per topic.

mod any_schema;
mod bad_input;
mod common;
mod fixture;
mod hostile;
mod line_numbers;
mod loading;
mod properties;
mod report;
mod schema_file;
mod snapshot;
mod split;
mod uci;
