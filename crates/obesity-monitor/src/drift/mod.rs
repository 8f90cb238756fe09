//! Drift detectors.
