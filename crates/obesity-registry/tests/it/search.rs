//! The filter and order-by parser: valid forms and errors with positions.

use obesity_registry::{Comparator, Error, Filter, OrderBy, RunAttribute, SearchKey, SearchValue};

#[test]
fn parses_the_documented_forms() {
    let f = Filter::parse("metrics.accuracy > 0.9 and params.max_depth = '10'").expect("parse");
    assert_eq!(f.conditions.len(), 2);
    assert_eq!(f.conditions[0].key, SearchKey::Metric("accuracy".into()));
    assert_eq!(f.conditions[0].comparator, Comparator::Gt);
    assert_eq!(f.conditions[0].value, SearchValue::Number(0.9));
    assert_eq!(f.conditions[1].key, SearchKey::Param("max_depth".into()));
    assert_eq!(f.conditions[1].value, SearchValue::Text("10".into()));

    let f = Filter::parse(
        "tags.x != 'y' AND status = \"FINISHED\" AND attributes.run_name LIKE 'rf-%'",
    )
    .expect("parse");
    assert_eq!(f.conditions[0].comparator, Comparator::Ne);
    assert_eq!(
        f.conditions[1].key,
        SearchKey::Attribute(RunAttribute::Status)
    );
    assert_eq!(f.conditions[2].comparator, Comparator::Like);

    let f = Filter::parse(
        "metrics.`f1 macro` >= 0.8 and metrics.cv.accuracy.mean<=1e-3 and metrics.fold.1 < -2",
    )
    .expect("parse");
    assert_eq!(f.conditions[0].key, SearchKey::Metric("f1 macro".into()));
    assert_eq!(
        f.conditions[1].key,
        SearchKey::Metric("cv.accuracy.mean".into())
    );
    assert_eq!(f.conditions[1].value, SearchValue::Number(1e-3));
    assert_eq!(f.conditions[2].key, SearchKey::Metric("fold.1".into()));
    assert_eq!(f.conditions[2].value, SearchValue::Number(-2.0));

    assert!(Filter::parse("   ").expect("blank").conditions.is_empty());
    let f = Filter::parse("params.name = 'it''s'").expect("escaped quote");
    assert_eq!(f.conditions[0].value, SearchValue::Text("it's".into()));
}

fn filter_err(input: &str) -> (usize, String, String) {
    match Filter::parse(input) {
        Err(Error::Filter {
            position,
            token,
            message,
            ..
        }) => (position, token, message),
        other => panic!("{input:?}: expected a filter error, got {other:?}"),
    }
}

#[test]
fn errors_name_position_and_token() {
    let (pos, tok, msg) = filter_err("metrics.accuracy >> 0.9");
    assert_eq!((pos, tok.as_str()), (18, ">"), "{msg}");

    let (pos, tok, msg) = filter_err("metrics.accuracy > 0.9 or params.a = '1'");
    assert_eq!((pos, tok.as_str()), (23, "or"));
    assert!(msg.contains("OR is not supported"), "{msg}");

    let (pos, tok, _) = filter_err("metrics.accuracy > 'high'");
    assert_eq!((pos, tok.as_str()), (19, "'high'"));

    let (pos, tok, msg) = filter_err("params.max_depth > '10'");
    assert_eq!((pos, tok.as_str()), (17, ">"));
    assert!(msg.contains("=, !=, LIKE and ILIKE"), "{msg}");

    let (pos, tok, _) = filter_err("params.max_depth = 10");
    assert_eq!((pos, tok.as_str()), (19, "10"));

    let (pos, tok, _) = filter_err("foo.bar = '1'");
    assert_eq!((pos, tok.as_str()), (0, "foo"));

    let (pos, _, msg) = filter_err("metrics.accuracy >");
    assert_eq!(pos, 18);
    assert!(msg.contains("end of input"), "{msg}");

    let (pos, _, msg) = filter_err("params.a = 'unterminated");
    assert_eq!(pos, 11);
    assert!(msg.contains("unterminated"), "{msg}");

    let (_, tok, _) = filter_err("metrics.a > 1 and");
    assert_eq!(tok, "");

    let (pos, tok, _) = filter_err("metrics.a > 1 params.b = '2'");
    assert_eq!((pos, tok.as_str()), (14, "params"));

    let (pos, tok, _) = filter_err("metrics.a LIKE '1%'");
    assert_eq!((pos, tok.as_str()), (10, "LIKE"));

    let (pos, tok, _) = filter_err("metrics.a ~ 1");
    assert_eq!((pos, tok.as_str()), (10, "~"));

    // The message carries the position too.
    let e = Filter::parse("metrics.accuracy >> 0.9")
        .unwrap_err()
        .to_string();
    assert!(e.contains("position 18") && e.contains("\">\""), "{e}");
}

#[test]
fn order_by_clauses() {
    let o = OrderBy::parse("metrics.accuracy DESC").expect("parse");
    assert_eq!(o.key, SearchKey::Metric("accuracy".into()));
    assert!(!o.ascending);
    let o = OrderBy::parse("attributes.start_time").expect("parse");
    assert!(o.ascending);
    assert_eq!(o.key, SearchKey::Attribute(RunAttribute::StartTime));
    let o = OrderBy::parse("params.x asc").expect("parse");
    assert!(o.ascending);
    match OrderBy::parse("metrics.accuracy DOWN") {
        Err(Error::Filter {
            position, token, ..
        }) => assert_eq!((position, token.as_str()), (17, "DOWN")),
        other => panic!("{other:?}"),
    }
    assert!(OrderBy::parse("metrics.a DESC, metrics.b").is_err());
    assert!(OrderBy::parse("").is_err());
}
