//! Integration tests of obesity-forest (one binary; see each module).
//!
//! This binary links `allocation-counter`, which installs a counting global allocator, so
//! `alloc::single_row_prediction_allocates_nothing` can prove the one-row path allocates
//! nothing.

mod alloc;
mod awkward;
mod common;
mod custom;
mod determinism;
mod golden;
mod inputs;
mod isa;
mod kernels;
mod layers;
mod linfa;
mod params;
mod persist;
mod quality;
mod resealed;
mod stats;
