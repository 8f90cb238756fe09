//! The production loop of examples/production_loop.rs, shortened (small forests, 100 ms
//! checks, an injected clock for the retrain trigger, seeded populations): every step must
//! happen, and no request may fail on the way.

#[path = "../examples/production_loop.rs"]
#[allow(dead_code)]
mod production_loop;

use production_loop::{LoopOptions, run};

#[test]
fn the_production_loop_runs_from_drift_to_a_promoted_challenger() {
    let r = run(&LoopOptions::short()).expect("the loop");
    // The drift and the accuracy drop were detected and reached the webhook receiver.
    assert!(r.open_alerts.iter().any(|k| k == "drift"), "{r:?}");
    assert!(r.open_alerts.iter().any(|k| k == "accuracy_drop"), "{r:?}");
    assert!(
        r.webhook_alerts.iter().any(|n| n == "ObesityDataDrift"),
        "{r:?}"
    );
    assert!(
        r.webhook_alerts.iter().any(|n| n == "ObesityAccuracyDrop"),
        "{r:?}"
    );
    assert!(r.drifted_accuracy < 0.8, "the drift should hurt: {r:?}");
    // The retrain registered a new version as challenger, the experiment was between them.
    assert_eq!(r.challenger, 2, "{r:?}");
    assert_eq!(r.experiment, "auto-v2-vs-v1", "{r:?}");
    assert!(r.arms.0 >= 40 && r.arms.1 >= 40, "{r:?}");
    // The alias moved and the server serves the winner, without one failed request.
    assert_eq!(r.champion_after, 2, "{r:?}");
    assert_eq!(r.served_after, 2, "{r:?}");
    assert!(r.requests > 0, "{r:?}");
    assert_eq!(r.failed, 0, "{r:?}");
    // The retrain is in the audit trail, and the dashboard shows it and the promotion.
    assert!(r.audit_outcomes.iter().any(|o| o == "succeeded"), "{r:?}");
    assert!(r.dashboard_shows_loop, "{r:?}");
}
