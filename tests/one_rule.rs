//! One concept, one home (issue 13, item 7): the registry and the monitor judge a model name
//! by the same rule, so a name one accepts is never refused by the other.

use std::sync::Arc;

use obesity_mlops::monitor::{PerformanceMonitor, SystemClock};
use obesity_mlops::registry::{LocalStore, Store};

fn registry_accepts(store: &Arc<dyn Store>, name: &str) -> bool {
    store.create_registered_model(name, &[], None).is_ok()
}

fn monitor_accepts(dir: &std::path::Path, name: &str) -> bool {
    PerformanceMonitor::open(dir, name, Arc::new(SystemClock)).is_ok()
}

#[test]
fn the_registry_and_the_monitor_accept_and_refuse_the_same_model_names() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn Store> =
        Arc::new(LocalStore::open(dir.path().join("mlruns")).expect("store"));
    let monitors = dir.path().join("monitor");
    for name in [
        "obesity-classifier",
        "churn model v2",
        "a.b_c-d",
        "..",
        ".hidden",
        "a/b",
        "a:b",
        "50%",
        " padded",
        "",
    ] {
        assert_eq!(
            registry_accepts(&store, name),
            monitor_accepts(&monitors, name),
            "{name:?}"
        );
    }
    // The name that used to split them: MLflow allows spaces, and so do both now.
    assert!(monitor_accepts(&monitors, "churn model v2"));
}
