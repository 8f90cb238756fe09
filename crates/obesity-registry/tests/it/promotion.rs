//! PromotionPolicy: thresholds, champion/challenger, never replacing a better champion.

use std::sync::Arc;

use obesity_registry::{
    NewVersion, PromotionOutcome, PromotionPolicy, Registry, Stage, Store, Tracker,
};

use crate::temp_store;

fn register(reg: &Registry, store: &Arc<dyn Store>, metric: &str, value: f64) -> u64 {
    let run = Tracker::new(store.clone())
        .start_run("obesity", None)
        .expect("run");
    run.log_metric(metric, value).expect("metric");
    let id = run.id().to_string();
    run.finish().expect("finish");
    reg.register(NewVersion::new("m", &id, vec![0]))
        .expect("register")
        .version
}

#[test]
fn thresholds_and_the_champion_guard() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let policy = PromotionPolicy::default();

    let v1 = register(&reg, &store, "accuracy", 0.92);
    let d = reg.promote("m", v1, &policy).expect("promote v1");
    assert_eq!(d.outcome, PromotionOutcome::Champion);
    assert_eq!(d.stage, Stage::Production);
    assert!(d.previous_champion.is_none());
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v1);

    // Passes the production threshold but is worse than the champion: challenger.
    let v2 = register(&reg, &store, "accuracy", 0.91);
    let d = reg.promote("m", v2, &policy).expect("promote v2");
    assert_eq!(d.outcome, PromotionOutcome::Challenger);
    assert_eq!(d.stage, Stage::Staging);
    assert_eq!(d.previous_champion, Some((v1, Some(0.92))));
    assert!(
        d.reasons.iter().any(|r| r.contains("does not beat")),
        "{:?}",
        d.reasons
    );
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v1);
    assert_eq!(
        reg.resolve_str("m@challenger").expect("challenger").version,
        v2
    );

    // A tie does not replace the champion either.
    let v3 = register(&reg, &store, "accuracy", 0.92);
    let d = reg.promote("m", v3, &policy).expect("promote v3");
    assert_eq!(d.outcome, PromotionOutcome::Challenger);
    // The previous challenger was archived by archive_existing_versions.
    assert_eq!(
        reg.version("m", v2).expect("v2").current_stage,
        Stage::Archived
    );

    // Better: becomes champion, the old champion is archived.
    let v4 = register(&reg, &store, "accuracy", 0.97);
    let d = reg.promote("m", v4, &policy).expect("promote v4");
    assert_eq!(d.outcome, PromotionOutcome::Champion);
    assert_eq!(d.aliases, ["champion"]);
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v4);
    assert_eq!(
        reg.version("m", v1).expect("v1").current_stage,
        Stage::Archived
    );
    assert_eq!(
        reg.version("m", v4).expect("v4").current_stage,
        Stage::Production
    );
    assert!(d.to_string().contains("Champion"), "{d}");

    // Between thresholds: challenger; below: left alone.
    let v5 = register(&reg, &store, "accuracy", 0.86);
    assert_eq!(
        reg.promote("m", v5, &policy).expect("v5").outcome,
        PromotionOutcome::Challenger
    );
    let v6 = register(&reg, &store, "accuracy", 0.5);
    let d = reg.promote("m", v6, &policy).expect("v6");
    assert_eq!(d.outcome, PromotionOutcome::Rejected);
    assert_eq!(d.stage, Stage::None);
    assert!(d.aliases.is_empty());
    assert_eq!(reg.version("m", v6).expect("v6").current_stage, Stage::None);
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v4);
}

#[test]
fn a_lower_is_better_metric_and_custom_thresholds() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let policy = PromotionPolicy {
        metric: "log_loss".into(),
        higher_is_better: false,
        production_threshold: 0.3,
        staging_threshold: 0.5,
        ..PromotionPolicy::default()
    };
    let v1 = register(&reg, &store, "log_loss", 0.25);
    assert_eq!(
        reg.promote("m", v1, &policy).expect("v1").outcome,
        PromotionOutcome::Champion
    );
    let v2 = register(&reg, &store, "log_loss", 0.28);
    assert_eq!(
        reg.promote("m", v2, &policy).expect("v2").outcome,
        PromotionOutcome::Challenger
    );
    let v3 = register(&reg, &store, "log_loss", 0.2);
    assert_eq!(
        reg.promote("m", v3, &policy).expect("v3").outcome,
        PromotionOutcome::Champion
    );
    let v4 = register(&reg, &store, "log_loss", 0.9);
    assert_eq!(
        reg.promote("m", v4, &policy).expect("v4").outcome,
        PromotionOutcome::Rejected
    );
}

#[test]
fn nan_or_missing_metrics_never_promote() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let v1 = register(&reg, &store, "accuracy", f64::NAN);
    let d = reg
        .promote("m", v1, &PromotionPolicy::default())
        .expect("decide");
    assert_eq!(d.outcome, PromotionOutcome::Rejected);
    let v2 = register(&reg, &store, "f1", 0.99);
    let err = reg
        .promote("m", v2, &PromotionPolicy::default())
        .unwrap_err();
    assert!(err.to_string().contains("accuracy"), "{err}");
}

#[test]
fn inconsistent_policies_are_rejected() {
    let bad = [
        PromotionPolicy {
            production_threshold: 0.8,
            staging_threshold: 0.9,
            ..Default::default()
        },
        PromotionPolicy {
            production_threshold: f64::NAN,
            ..Default::default()
        },
        PromotionPolicy {
            champion_alias: "latest".into(),
            ..Default::default()
        },
        PromotionPolicy {
            challenger_alias: "champion".into(),
            ..Default::default()
        },
    ];
    for p in bad {
        assert!(p.validate().is_err(), "{p:?}");
    }
    assert!(PromotionPolicy::default().validate().is_ok());
    // Pure decision without a store.
    let d = PromotionPolicy::default().decide("m", 3, 0.95, Some((2, Some(0.96))));
    assert_eq!(d.outcome, PromotionOutcome::Challenger);
    let d = PromotionPolicy::default().decide("m", 3, 0.95, Some((2, None)));
    assert_eq!(d.outcome, PromotionOutcome::Challenger);
}
