//! Integration tests for obesity-eval (one binary, one module per topic).

mod charts;
mod common;
mod compare;
mod cv;
mod fairness;
mod importance;
mod props;
mod search;
mod sklearn_vectors;
mod stats_reference;
mod support;
mod uci;
