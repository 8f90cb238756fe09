//! The schema-driven pipeline on a table that is not the obesity one: 4 numeric columns
//! (random, from ndarray-rand), an ordinal and an unordered categorical column, a binary
//! column and a 3-class target.

use ndarray::{Array2, Axis};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand_distr::Uniform;
use obesity_data::{ColumnData, ColumnSpec, LoadOptions, Schema, Table, load_table_bytes};
use obesity_features::{
    BinaryEncoding, Derived, FeatureError, FittedTablePipeline, FrequencyEncoding, Scaling,
    TableConfig, TablePipeline, UnseenCategory,
};

fn schema() -> Schema {
    Schema::new(vec![
        ColumnSpec::numeric("a", "m", 0.0, 10.0),
        ColumnSpec::numeric("b", "m", 0.0, 10.0),
        ColumnSpec::ordinal("size", ["S", "M", "L"]),
        ColumnSpec::numeric("c", "kg", 0.0, 10.0),
        ColumnSpec::numeric("d", "kg", 0.0, 10.0),
        ColumnSpec::categorical("colour", ["red", "green", "blue"]),
        ColumnSpec::binary("coated"),
        ColumnSpec::categorical("class", ["x", "y", "z"]).target(),
    ])
    .unwrap()
}

/// `rows` random rows: numbers uniform in [0.5, 10), codes cycling; `blue` only if `blue`.
fn table(rows: usize, seed: u64, blue: bool) -> (Table, Array2<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let numbers = Array2::random_using((rows, 4), Uniform::new(0.5, 10.0), &mut rng);
    let column = |j: usize| ColumnData::Numeric(numbers.index_axis(Axis(1), j).to_vec());
    let colours = if blue { 3 } else { 2 };
    let table = Table::from_columns(
        schema(),
        vec![
            column(0),
            column(1),
            ColumnData::Codes((0..rows).map(|i| (i % 3) as u32).collect()),
            column(2),
            column(3),
            ColumnData::Codes((0..rows).map(|i| (i % colours) as u32).collect()),
            ColumnData::Codes((0..rows).map(|i| (i % 2) as u32).collect()),
        ],
        (0..rows).map(|i| Some((i % 3) as u32)).collect(),
    )
    .unwrap();
    (table, numbers)
}

fn ratio() -> Derived {
    Derived::new("a_over_c", ["a", "c"], |v| v[0] / v[1])
}

#[test]
fn encodes_every_kind_of_column_in_the_documented_order() {
    let (train, numbers) = table(200, 1, true);
    let config = TableConfig {
        ordered: FrequencyEncoding::Ordinal,
        binary: BinaryEncoding::Single,
        scaling: Scaling::None,
        unseen: UnseenCategory::SchemaLevels,
    };
    let fitted = TablePipeline::new(config)
        .derive(ratio())
        .fit(&train)
        .unwrap();
    assert_eq!(
        fitted.feature_names(),
        [
            "a",
            "b",
            "c",
            "d",
            "a_over_c",
            "size",
            "colour=red",
            "colour=green",
            "colour=blue",
            "coated=yes"
        ]
    );
    assert_eq!(fitted.class_names(), ["x", "y", "z"]);
    let data = fitted.dataset(&train).unwrap();
    assert_eq!(data.x.dim(), (200, 10));
    for i in [0, 7, 199] {
        let row = data.x.row(i);
        assert_eq!(row[0], numbers[[i, 0]] as f32);
        assert_eq!(row[3], numbers[[i, 3]] as f32);
        assert_eq!(row[4], (numbers[[i, 0]] / numbers[[i, 2]]) as f32);
        assert_eq!(row[5], (i % 3) as f32);
        assert_eq!(row[6 + i % 3], 1.0);
        assert_eq!(row[6] + row[7] + row[8], 1.0);
        assert_eq!(row[9], (i % 2) as f32);
        assert_eq!(data.y[i], i % 3);
    }

    // One-hot for ordered columns and binary ones.
    let one_hot = TableConfig {
        ordered: FrequencyEncoding::OneHot,
        binary: BinaryEncoding::OneHot,
        ..config
    };
    let fitted = TablePipeline::new(one_hot).fit(&train).unwrap();
    assert_eq!(fitted.n_features(), 4 + 3 + 3 + 2);
    assert_eq!(
        &fitted.feature_names()[4..7],
        ["size=S", "size=M", "size=L"]
    );
    assert_eq!(&fitted.feature_names()[10..], ["coated=no", "coated=yes"]);
}

#[test]
fn standard_scaling_gives_zero_mean_unit_population_variance() {
    let (train, _) = table(500, 2, true);
    let config = TableConfig {
        scaling: Scaling::Standard,
        ..TableConfig::default()
    };
    let fitted = TablePipeline::new(config)
        .derive(ratio())
        .fit(&train)
        .unwrap();
    let x = fitted.transform(&train).unwrap().mapv(f64::from);
    for j in 0..5 {
        let column = x.column(j);
        let mean = column.mean().unwrap();
        let var = column.mapv(|v| (v - mean) * (v - mean)).mean().unwrap();
        assert!(mean.abs() < 1e-5, "column {j}: mean {mean}");
        assert!((var - 1.0).abs() < 1e-4, "column {j}: var {var}");
    }
    // Codes are not scaled.
    assert_eq!(x[[1, 5]], 1.0);
}

#[test]
fn unseen_category_rule() {
    let (train, _) = table(60, 3, false);
    let (test, _) = table(9, 4, true);
    let fit = |unseen| {
        TablePipeline::new(TableConfig {
            unseen,
            ..TableConfig::default()
        })
        .fit(&train)
        .unwrap()
    };
    // Schema levels: `colour=blue` exists although training never saw it.
    let schema_levels = fit(UnseenCategory::SchemaLevels);
    assert!(
        schema_levels
            .feature_names()
            .contains(&"colour=blue".to_owned())
    );
    assert_eq!(
        schema_levels.seen_levels("colour"),
        Some(vec!["red", "green"])
    );
    // Ignore: no column, the row is all zeros in the group.
    let ignore = fit(UnseenCategory::IgnoreUnseen);
    assert!(!ignore.feature_names().contains(&"colour=blue".to_owned()));
    let x = ignore.transform(&test).unwrap();
    let red = ignore
        .feature_names()
        .iter()
        .position(|n| n == "colour=red")
        .unwrap();
    assert_eq!(x[[2, red]] + x[[2, red + 1]], 0.0);
    // Error: names row, column, value and the seen levels.
    let err = fit(UnseenCategory::Error).transform(&test).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 2: column colour has level \"blue\", which was not seen when the pipeline was \
         fitted (rule: error); seen levels: [\"red\", \"green\"]"
    );
}

#[test]
fn json_round_trip_needs_the_derivation_and_the_schema() {
    let (train, _) = table(80, 5, true);
    let config = TableConfig {
        scaling: Scaling::Standard,
        ..TableConfig::default()
    };
    let fitted = TablePipeline::new(config)
        .derive(ratio())
        .fit(&train)
        .unwrap();
    let json = fitted.to_json().unwrap();
    let loaded = FittedTablePipeline::from_json(&json, &[ratio()]).unwrap();
    assert_eq!(loaded, fitted);
    assert_eq!(
        loaded.transform(&train).unwrap(),
        fitted.transform(&train).unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.json");
    fitted.save(&path).unwrap();
    assert_eq!(
        FittedTablePipeline::load(&path, &[ratio()]).unwrap(),
        fitted
    );

    assert!(matches!(
        FittedTablePipeline::from_json(&json, &[]),
        Err(FeatureError::Derivation { ref name, .. }) if name == "a_over_c"
    ));
    let other_inputs = Derived::new("a_over_c", ["b", "c"], |v| v[0] / v[1]);
    assert!(matches!(
        FittedTablePipeline::from_json(&json, &[other_inputs]),
        Err(FeatureError::Derivation { .. })
    ));
    let edited = json.replacen("\"colour=red\"", "\"colour=pink\"", 1);
    assert!(matches!(
        FittedTablePipeline::from_json(&edited, &[ratio()]),
        Err(FeatureError::InvalidPipeline { .. })
    ));
    let future = json.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
    assert!(matches!(
        FittedTablePipeline::from_json(&future, &[ratio()]),
        Err(FeatureError::UnsupportedFormatVersion { found: 2, .. })
    ));
    // A table of another schema is refused.
    let other = Table::from_records(&obesity_data::synth::generate(3, 1));
    assert!(matches!(
        fitted.transform(&other),
        Err(FeatureError::SchemaMismatch { .. })
    ));
}

#[test]
fn derivation_errors_name_the_column_and_row() {
    let (train, _) = table(10, 6, true);
    let bad_input = Derived::new("r", ["a", "size"], |v| v[0]);
    assert!(matches!(
        TablePipeline::default().derive(bad_input).fit(&train),
        Err(FeatureError::Derivation { ref name, .. }) if name == "r"
    ));
    let taken = Derived::new("b", ["a"], |v| v[0]);
    assert!(matches!(
        TablePipeline::default().derive(taken).fit(&train),
        Err(FeatureError::Derivation { .. })
    ));
    let infinite = Derived::new("inf", ["a"], |v| v[0] / 0.0);
    let err = TablePipeline::default()
        .derive(infinite)
        .fit(&train)
        .unwrap_err();
    assert!(err.to_string().starts_with("row 0: inf = inf"), "{err}");
    let empty = Table::from_columns(
        schema(),
        vec![
            ColumnData::Numeric(vec![]),
            ColumnData::Numeric(vec![]),
            ColumnData::Codes(vec![]),
            ColumnData::Numeric(vec![]),
            ColumnData::Numeric(vec![]),
            ColumnData::Codes(vec![]),
            ColumnData::Codes(vec![]),
        ],
        vec![],
    )
    .unwrap();
    assert!(matches!(
        TablePipeline::default().fit(&empty),
        Err(FeatureError::EmptyFit)
    ));
}

#[test]
fn loaded_csv_and_unlabelled_rows() {
    let csv = "a,b,size,c,d,colour,coated,class\n1,2,S,3,4,red,yes,x\n5,6,L,7,8,blue,no,\n";
    let loaded =
        load_table_bytes("t.csv", csv.as_bytes(), &schema(), &LoadOptions::strict()).unwrap();
    let fitted = TablePipeline::default().fit(&loaded.table).unwrap();
    let x = fitted.transform(&loaded.table).unwrap();
    assert_eq!(
        x.row(1).to_vec(),
        [5.0, 6.0, 7.0, 8.0, 2.0, 0.0, 0.0, 1.0, 0.0]
    );
    let err = fitted.dataset(&loaded.table).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 1: the target column class is empty, but a labelled data set was asked for \
         (use transform() for unlabelled records)"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any valid table, any settings: fit and transform never panic, every value is
        /// finite, each one-hot group holds at most one 1, and JSON reloads the same matrix.
        #[test]
        fn fit_transform_and_reload_hold_for_random_tables(
            rows in 1usize..60,
            seed in any::<u64>(),
            ordinal in any::<bool>(),
            single in any::<bool>(),
            scaled in any::<bool>(),
            unseen in 0usize..3,
        ) {
            let (train, _) = table(rows, seed, seed % 2 == 0);
            let (test, _) = table(rows, seed.wrapping_add(1), true);
            let config = TableConfig {
                ordered: if ordinal { FrequencyEncoding::Ordinal } else { FrequencyEncoding::OneHot },
                binary: if single { BinaryEncoding::Single } else { BinaryEncoding::OneHot },
                scaling: if scaled { Scaling::Standard } else { Scaling::None },
                unseen: [UnseenCategory::SchemaLevels, UnseenCategory::IgnoreUnseen, UnseenCategory::Error][unseen],
            };
            let fitted = TablePipeline::new(config).derive(ratio()).fit(&train).unwrap();
            let reloaded = FittedTablePipeline::from_json(&fitted.to_json().unwrap(), &[ratio()]).unwrap();
            for t in [&train, &test] {
                match fitted.transform(t) {
                    Ok(x) => {
                        prop_assert!(x.iter().all(|v| v.is_finite()));
                        prop_assert_eq!(x.ncols(), fitted.n_features());
                        let colour: Vec<usize> = fitted.feature_names().iter().enumerate()
                            .filter(|(_, n)| n.starts_with("colour=")).map(|(j, _)| j).collect();
                        for row in x.rows() {
                            prop_assert!(colour.iter().map(|&j| row[j]).sum::<f32>() <= 1.0);
                        }
                        prop_assert_eq!(reloaded.transform(t).unwrap(), x);
                    }
                    Err(e) => prop_assert!(
                        matches!(e, FeatureError::UnseenCategory { .. }),
                        "{e}"
                    ),
                }
            }
        }
    }
}
