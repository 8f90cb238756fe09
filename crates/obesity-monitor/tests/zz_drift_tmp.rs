#[path = "it/drift.rs"]
mod drift;
#[path = "it/drift_reference.rs"]
mod drift_reference;
