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

fn register_on(reg: &Registry, store: &Arc<dyn Store>, value: f64, data: &str) -> u64 {
    let run = Tracker::new(store.clone())
        .start_run("obesity", None)
        .expect("run");
    run.log_metric("accuracy", value).expect("metric");
    let id = run.id().to_string();
    run.finish().expect("finish");
    reg.register(NewVersion::new("m", &id, vec![0]).data_fingerprint(data))
        .expect("register")
        .version
}

/// Issue 16: the policy on an archived v1 moved it back to Staging and took `challenger`
/// from v3.
#[test]
fn policy_never_revives_an_archived_version_nor_takes_challenger_from_a_newer_one() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let policy = PromotionPolicy::default();
    let fp = "a".repeat(64);
    let v1 = register_on(&reg, &store, 0.86, &fp);
    let v2 = register_on(&reg, &store, 0.95, &fp);
    let v3 = register_on(&reg, &store, 0.87, &fp);
    reg.promote("m", v1, &policy).expect("v1");
    reg.promote("m", v2, &policy).expect("v2");
    reg.promote("m", v3, &policy).expect("v3");
    assert_eq!(
        reg.version("m", v1).expect("v1").current_stage,
        Stage::Archived
    );
    assert_eq!(reg.resolve_str("m@challenger").expect("ch").version, v3);
    let before = reg.versions("m").expect("versions");

    let d = reg
        .promote("m", v1, &policy)
        .expect("policy on archived v1");
    assert!(!d.applied, "{d}");
    assert_eq!(d.stage, Stage::Archived);
    assert!(d.aliases.is_empty());
    assert!(d.reasons.iter().any(|r| r.contains("Archived")), "{d}");
    assert_eq!(
        before,
        reg.versions("m").expect("versions"),
        "nothing moved"
    );

    // v1 brought back by hand to None: the policy would make it challenger, but v3 (newer)
    // holds challenger, so it stays where it is.
    reg.transition("m", v1, Stage::None, false)
        .expect("by hand");
    let d = reg.promote("m", v1, &policy).expect("policy on v1");
    assert!(!d.applied);
    assert_eq!(d.stage, Stage::None);
    assert!(d.reasons.iter().any(|r| r.contains("newer")), "{d}");
    assert_eq!(reg.resolve_str("m@challenger").expect("ch").version, v3);
    assert_eq!(
        reg.version("m", v3).expect("v3").current_stage,
        Stage::Staging
    );
    // The dry run says the same and changes nothing either.
    let plan = reg.plan_promotion("m", v1, &policy).expect("plan");
    assert_eq!((plan.outcome, plan.stage), (d.outcome, d.stage));
}

#[test]
fn promote_with_archive_existing_moves_champion_off_the_archived_version() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let v1 = register(&reg, &store, "accuracy", 0.95);
    let v2 = register(&reg, &store, "accuracy", 0.96);
    let v3 = register(&reg, &store, "accuracy", 0.97);
    reg.promote("m", v1, &PromotionPolicy::default())
        .expect("v1");
    reg.set_alias("m", "baseline", v1).expect("alias");
    let t = reg
        .transition_report("m", v3, Stage::Production, true)
        .expect("promote v3");
    assert_eq!(t.archived, [v1]);
    assert_eq!(t.moved_aliases, [("champion".to_owned(), v1)]);
    assert_eq!(t.stale_aliases, [("baseline".to_owned(), v1)]);
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v3);
    assert_eq!(reg.resolve_str("m@baseline").expect("baseline").version, v1);
    assert!(t.version.aliases.contains(&"champion".to_owned()));

    // Without --archive-existing nothing else moves.
    let t = reg
        .transition_report("m", v2, Stage::Production, false)
        .expect("v2");
    assert!(t.archived.is_empty() && t.moved_aliases.is_empty());
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v3);
    // Staging with archiving moves challenger the same way.
    reg.set_alias("m", "challenger", v2).expect("alias");
    reg.transition("m", v2, Stage::Staging, false)
        .expect("v2 staging");
    let t = reg
        .transition_report("m", v1, Stage::Staging, true)
        .expect("v1 staging");
    assert_eq!(t.moved_aliases, [("challenger".to_owned(), v2)]);
    assert_eq!(reg.resolve_str("m@challenger").expect("ch").version, v1);
}

#[test]
fn the_champion_rule_compares_only_versions_evaluated_on_the_same_data() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let fixture = format!("f1f1f1f1f1f1{}", "0".repeat(52));
    let uci = format!("0c10c10c10c1{}", "0".repeat(52));
    let v1 = register_on(&reg, &store, 0.99, &fixture);
    reg.promote("m", v1, &PromotionPolicy::default())
        .expect("v1");

    // Better than the champion, but on other data: not compared, kept as challenger.
    let v2 = register_on(&reg, &store, 0.995, &uci);
    let d = reg
        .promote("m", v2, &PromotionPolicy::default())
        .expect("v2");
    assert_eq!(d.outcome, PromotionOutcome::Challenger, "{d}");
    let text = d.to_string();
    assert!(text.contains("other data"), "{text}");
    assert!(
        text.contains("f1f1f1f1f1f1") && text.contains("0c10c10c10c1"),
        "{text}"
    );
    assert_eq!(d.data_fingerprint.as_deref(), Some(uci.as_str()));
    assert_eq!(reg.resolve_str("m@champion").expect("champion").version, v1);

    // Told to compare across data: it beats the champion and says so.
    let across = PromotionPolicy {
        compare_across_data: true,
        ..PromotionPolicy::default()
    };
    let d = reg.promote("m", v2, &across).expect("v2 across");
    assert_eq!(d.outcome, PromotionOutcome::Champion, "{d}");
    assert!(d.to_string().contains("across data"), "{d}");

    // Same data: compared, and the decision names the data.
    let v3 = register_on(&reg, &store, 0.999, &uci);
    let d = reg
        .promote("m", v3, &PromotionPolicy::default())
        .expect("v3");
    assert_eq!(d.outcome, PromotionOutcome::Champion, "{d}");
    assert!(
        d.to_string().contains("on the same data (0c10c10c10c1)"),
        "{d}"
    );
}
