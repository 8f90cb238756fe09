//! Property tests: the filter parser never panics, and values survive the local store.

use obesity_registry::{Filter, Metric, OrderBy, Param, Store, Tag};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_filter_parser_never_panics(input in "\\PC{0,60}") {
        let _ = Filter::parse(&input);
        let _ = OrderBy::parse(&input);
    }

    #[test]
    fn filter_errors_point_inside_the_input(
        input in "(metrics|params|tags)\\.[a-z]{1,5} ?(=|!=|<|>|>=|<=|~|LIKE)? ?('[a-z]*'|[0-9.]{1,4}|[a-z]+)?( and| or)?"
    ) {
        if let Err(obesity_registry::Error::Filter { position, .. }) = Filter::parse(&input) {
            prop_assert!(position <= input.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn params_tags_and_metrics_round_trip_through_the_local_store(
        value in "\\PC{0,40}( |\n|\r\n)?",
        metric in prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
        ],
        step in any::<i64>(),
    ) {
        let (_d, _s, local) = crate::temp_store();
        let (_, run) = crate::conformance::new_run(&local, "prop");
        local
            .log_batch(
                &run,
                &[Metric { key: "m".into(), value: metric, timestamp_ms: 1, step }],
                &[Param::new("p", value.clone())],
                &[Tag::new("t", value.clone())],
            )
            .expect("log");
        let got = local.get_run(&run).expect("get");
        prop_assert_eq!(got.param("p"), Some(value.as_str()));
        prop_assert_eq!(got.tag("t"), Some(value.as_str()));
        let m = got.data.metrics.get("m").expect("metric");
        prop_assert_eq!(m.value.to_bits() == metric.to_bits() || (m.value.is_nan() && metric.is_nan()), true);
        prop_assert_eq!(m.step, step);
    }
}
