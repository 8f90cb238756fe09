//! What an exported model is (structure, decoded with prost) and what it computes (through
//! the reference interpreter in `interp`), against the Rust pipeline and forest; and the
//! inputs the exporter must refuse.

mod interp;

use std::collections::{BTreeSet, HashMap};

use interp::Tensor;
use obesity_data::{Frequency, ObesityRecord, Transport, synth};
use obesity_features::{
    BinaryEncoding, FeatureConfig, FeaturePipeline, FittedPipeline, FrequencyEncoding, Scaling,
    UnseenCategory,
};
use obesity_forest::{Classifier, ForestParams, RandomForest};
use obesity_onnx::proto::{AttributeProto, ModelProto, NodeProto, data_type};
use obesity_onnx::{
    ElemType, ExportOptions, ML_OPSET, OPSET, OnnxError, OnnxModel, OutputLayout, ToOnnx, export,
    forest_to_onnx,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Training records without `CALC=Always` and `MTRANS=Bike`, and held-out records that have
/// them, so the unseen-category rules have work to do.
fn split() -> (Vec<ObesityRecord>, Vec<ObesityRecord>) {
    let all = synth::generate(900, 11);
    let (mut train, mut test): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (i, r) in all.into_iter().enumerate() {
        let rare = r.calc == Frequency::Always || r.mtrans == Transport::Bike;
        if i < 500 && !rare {
            train.push(r);
        } else if i >= 500 {
            test.push(r);
        }
    }
    // Make sure the held-out rows do contain the levels training never saw.
    test[0].calc = Frequency::Always;
    test[1].mtrans = Transport::Bike;
    (train, test)
}

fn configs() -> Vec<(&'static str, FeatureConfig)> {
    let standard = FeatureConfig::standard();
    vec![
        ("standard", standard),
        ("compact", FeatureConfig::default()),
        (
            "scaled_ignore",
            FeatureConfig {
                binary: BinaryEncoding::Single,
                scaling: Scaling::Standard,
                unseen: UnseenCategory::IgnoreUnseen,
                ..standard
            },
        ),
        (
            "scaled_ordinal_ignore",
            FeatureConfig {
                frequency: FrequencyEncoding::Ordinal,
                scaling: Scaling::Standard,
                unseen: UnseenCategory::IgnoreUnseen,
                bmi: false,
                ..standard
            },
        ),
        (
            "strict",
            FeatureConfig {
                frequency: FrequencyEncoding::Ordinal,
                unseen: UnseenCategory::Error,
                ..standard
            },
        ),
    ]
}

fn fit(
    config: FeatureConfig,
    train: &[ObesityRecord],
    trees: usize,
) -> Result<(FittedPipeline, RandomForest), Box<dyn std::error::Error>> {
    let pipeline = FeaturePipeline::new(config).fit(train)?;
    let data = pipeline.dataset(train)?;
    let params = ForestParams::builder()
        .n_estimators(trees)
        .seed(3)
        .build()?;
    let forest = RandomForest::fit(&params, data.x.view(), data.y.view(), data.n_classes())?;
    Ok((pipeline, forest))
}

/// The raw columns of `records`, as the exported model's inputs.
fn raw_inputs(records: &[ObesityRecord]) -> HashMap<String, Tensor> {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let num = |f: fn(&ObesityRecord) -> f64| Tensor::f64(records.iter().map(f).collect());
    let cat = |f: &dyn Fn(&ObesityRecord) -> String| Tensor::str(records.iter().map(f).collect());
    HashMap::from([
        ("Gender".into(), cat(&|r| r.gender.as_str().to_owned())),
        ("Age".into(), num(|r| r.age)),
        ("Height".into(), num(|r| r.height)),
        ("Weight".into(), num(|r| r.weight)),
        (
            "family_history_with_overweight".into(),
            cat(&|r| yes_no(r.family_history_with_overweight)),
        ),
        ("FAVC".into(), cat(&|r| yes_no(r.favc))),
        ("FCVC".into(), num(|r| r.fcvc)),
        ("NCP".into(), num(|r| r.ncp)),
        ("CAEC".into(), cat(&|r| r.caec.as_str().to_owned())),
        ("SMOKE".into(), cat(&|r| yes_no(r.smoke))),
        ("CH2O".into(), num(|r| r.ch2o)),
        ("SCC".into(), cat(&|r| yes_no(r.scc))),
        ("FAF".into(), num(|r| r.faf)),
        ("TUE".into(), num(|r| r.tue)),
        ("CALC".into(), cat(&|r| r.calc.as_str().to_owned())),
        ("MTRANS".into(), cat(&|r| r.mtrans.as_str().to_owned())),
    ])
}

fn ensemble(model: &ModelProto) -> Result<&NodeProto, String> {
    let graph = model.graph.as_ref().ok_or("no graph")?;
    let mut found = graph
        .node
        .iter()
        .filter(|n| n.op_type.as_deref() == Some("TreeEnsembleClassifier"));
    let node = found.next().ok_or("no TreeEnsembleClassifier")?;
    assert!(
        found.next().is_none(),
        "more than one TreeEnsembleClassifier"
    );
    Ok(node)
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> &'a AttributeProto {
    node.attribute
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

fn strings(a: &AttributeProto) -> Vec<String> {
    a.strings
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// For every feature setting, the exported graph computes exactly what the Rust pipeline and
/// forest compute: the same feature matrix bit for bit (so the same leaves, also for a row
/// right at a threshold), the same sums in the same order (so bit-identical probabilities)
/// and the same classes, also on levels training never saw (all-zero one-hot under
/// `IgnoreUnseen`).
#[test]
fn the_graph_reproduces_the_rust_pipeline_and_forest_bit_for_bit() -> TestResult {
    let (train, test) = split();
    for (name, config) in configs() {
        let (pipeline, forest) = fit(config, &train, 25)?;
        // Rows the Rust pipeline accepts (the strict rule refuses the rare levels).
        let kept: Vec<ObesityRecord> = test
            .iter()
            .filter(|r| pipeline.transform(std::slice::from_ref(r)).is_ok())
            .cloned()
            .collect();
        assert!(kept.len() > 300, "{name}: {} rows kept", kept.len());
        let x = pipeline.transform(&kept)?;
        let want = forest.predict_proba(x.view())?;
        let want_classes: Vec<String> = forest
            .predict(x.view())?
            .iter()
            .map(|&c| pipeline.class_names()[c].clone())
            .collect();

        let model = export(&pipeline, &forest, &ExportOptions::default())?;
        let decoded = OnnxModel::from_bytes(&model.to_bytes())?;
        let out = interp::run_all(decoded.proto(), raw_inputs(&kept))?;
        // The features the trees see are the pipeline's, bit for bit.
        let features = &out["features"];
        assert_eq!(features.shape, [x.nrows(), x.ncols()], "{name}");
        let got: Vec<u32> = features.as_f32()?.iter().map(|v| v.to_bits()).collect();
        let expected: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, expected, "{name}: features differ");
        let proba = out["probabilities"].as_f32()?;
        assert_eq!(out["probabilities"].shape, [kept.len(), 7], "{name}");
        let got: Vec<u32> = proba.iter().map(|p| p.to_bits()).collect();
        let expected: Vec<u32> = want.iter().map(|p| p.to_bits()).collect();
        assert_eq!(got, expected, "{name}: probabilities differ");
        assert_eq!(out["label"].as_str()?, want_classes.as_slice(), "{name}");
    }
    Ok(())
}

/// Under the `Error` rule a level not seen in `fit` is refused by both, and under
/// `SchemaLevels` a string that is no level of the schema is refused by the graph (Rust's
/// loader refuses it before a record exists).
#[test]
fn unseen_and_unknown_levels_are_refused_as_in_rust() -> TestResult {
    let (train, test) = split();
    let strict = FeatureConfig {
        unseen: UnseenCategory::Error,
        ..FeatureConfig::standard()
    };
    let (pipeline, forest) = fit(strict, &train, 5)?;
    let model = export(&pipeline, &forest, &ExportOptions::default())?;
    let row = std::slice::from_ref(&test[0]); // CALC = Always, unseen in training
    assert!(pipeline.transform(row).is_err());
    let err = interp::run(model.proto(), raw_inputs(row)).unwrap_err();
    assert!(err.contains("Always"), "{err}");

    let (pipeline, forest) = fit(FeatureConfig::standard(), &train, 5)?;
    let model = export(&pipeline, &forest, &ExportOptions::default())?;
    let mut inputs = raw_inputs(&test[2..3]);
    inputs.insert("MTRANS".into(), Tensor::str(vec!["Bicycle".into()]));
    let err = interp::run(model.proto(), inputs).unwrap_err();
    assert!(err.contains("Bicycle"), "{err}");
    Ok(())
}

/// The decoded model has the shape the issue specifies: opsets, raw inputs in file order with
/// their types, one TreeEnsembleClassifier holding every node of every tree with ids counted
/// from 0 per tree, leaf weights that are probabilities / n_trees, the class names, no
/// post-transform, and the two outputs.
#[test]
fn the_model_has_the_specified_structure() -> TestResult {
    let (train, _) = split();
    let (pipeline, forest) = fit(FeatureConfig::standard(), &train, 12)?;
    let model = export(
        &pipeline,
        &forest,
        &ExportOptions::default().metadata("k", "v"),
    )?;
    let bytes = model.to_bytes();
    let decoded = OnnxModel::from_bytes(&bytes)?;
    assert_eq!(decoded, model);
    let p = decoded.proto();

    assert_eq!(p.ir_version, Some(8));
    let opsets: Vec<(String, i64)> = p
        .opset_import
        .iter()
        .map(|o| (o.domain.clone().unwrap_or_default(), o.version.unwrap_or(0)))
        .collect();
    assert_eq!(
        opsets,
        [("".into(), OPSET), ("ai.onnx.ml".into(), ML_OPSET)]
    );
    let meta: Vec<(&str, &str)> = p
        .metadata_props
        .iter()
        .map(|m| {
            (
                m.key.as_deref().unwrap_or(""),
                m.value.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert!(meta.contains(&("k", "v")));
    assert!(
        meta.iter()
            .any(|(k, v)| *k == "obesity.feature_names" && v.contains("\"BMI\""))
    );

    let inputs = model.inputs();
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Gender",
            "Age",
            "Height",
            "Weight",
            "family_history_with_overweight",
            "FAVC",
            "FCVC",
            "NCP",
            "CAEC",
            "SMOKE",
            "CH2O",
            "SCC",
            "FAF",
            "TUE",
            "CALC",
            "MTRANS"
        ]
    );
    for i in &inputs {
        let numeric = [
            "Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE",
        ]
        .contains(&i.name.as_str());
        let want = if numeric {
            ElemType::Double
        } else {
            ElemType::String
        };
        assert_eq!(i.elem_type, Some(want), "{}", i.name);
        assert_eq!(i.shape, [None], "{}: one-dimensional, batch first", i.name);
    }
    let outputs = model.outputs();
    assert_eq!(outputs.len(), 2);
    assert_eq!(
        (
            outputs[0].name.as_str(),
            outputs[0].elem_type,
            &outputs[0].shape
        ),
        ("label", Some(ElemType::String), &vec![None])
    );
    assert_eq!(
        (
            outputs[1].name.as_str(),
            outputs[1].elem_type,
            &outputs[1].shape
        ),
        ("probabilities", Some(ElemType::Float), &vec![None, Some(7)])
    );

    let node = ensemble(p)?;
    assert_eq!(node.domain.as_deref(), Some("ai.onnx.ml"));
    assert_eq!(node.output, ["label", "probabilities"]);
    let n = forest.n_nodes();
    for name in [
        "nodes_treeids",
        "nodes_nodeids",
        "nodes_featureids",
        "nodes_truenodeids",
        "nodes_falsenodeids",
    ] {
        assert_eq!(attr(node, name).ints.len(), n, "{name}");
    }
    assert_eq!(attr(node, "nodes_values").floats.len(), n);
    let modes = strings(attr(node, "nodes_modes"));
    assert_eq!(modes.len(), n);
    let stats = forest.tree_stats();
    let leaves: usize = stats.iter().map(|s| s.n_leaves).sum();
    assert_eq!(modes.iter().filter(|m| *m == "LEAF").count(), leaves);
    assert!(modes.iter().all(|m| m == "LEAF" || m == "BRANCH_LEQ"));
    // Node ids of tree t are exactly 0..n_nodes(t).
    let tree_ids = &attr(node, "nodes_treeids").ints;
    let node_ids = &attr(node, "nodes_nodeids").ints;
    for (t, s) in stats.iter().enumerate() {
        let mut ids: Vec<i64> = tree_ids
            .iter()
            .zip(node_ids)
            .filter(|(tr, _)| **tr == t as i64)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..s.n_nodes as i64).collect::<Vec<_>>(), "tree {t}");
    }
    let features = &attr(node, "nodes_featureids").ints;
    assert!(features.iter().all(|&f| (0..32).contains(&f)));

    // Class weights: equal-length columns, and each leaf's weights add up to 1 / n_trees.
    let c_trees = &attr(node, "class_treeids").ints;
    let c_nodes = &attr(node, "class_nodeids").ints;
    let c_ids = &attr(node, "class_ids").ints;
    let weights = &attr(node, "class_weights").floats;
    assert_eq!(c_trees.len(), weights.len());
    assert_eq!(c_nodes.len(), weights.len());
    assert_eq!(c_ids.len(), weights.len());
    let mut per_leaf: HashMap<(i64, i64), f64> = HashMap::new();
    for i in 0..weights.len() {
        *per_leaf.entry((c_trees[i], c_nodes[i])).or_default() += f64::from(weights[i]);
    }
    assert_eq!(
        per_leaf.len(),
        leaves,
        "every leaf has weights, no split node has"
    );
    for (leaf, sum) in per_leaf {
        assert!(
            (sum - 1.0 / 12.0).abs() < 1e-6,
            "leaf {leaf:?} sums to {sum}"
        );
    }
    assert_eq!(
        c_ids.iter().copied().collect::<BTreeSet<_>>(),
        (0..7).collect::<BTreeSet<_>>()
    );
    assert_eq!(
        strings(attr(node, "classlabels_strings")),
        pipeline.class_names()
    );
    assert_eq!(
        attr(node, "post_transform").s.as_deref(),
        Some(b"NONE".as_slice())
    );
    assert!(
        node.attribute
            .iter()
            .all(|a| a.name.as_deref() != Some("classlabels_int64s"))
    );

    // The pipeline part: one OneHotEncoder per categorical input, BMI by Mul and Div.
    let graph = p.graph.as_ref().ok_or("no graph")?;
    let count = |op: &str| {
        graph
            .node
            .iter()
            .filter(|n| n.op_type.as_deref() == Some(op))
            .count()
    };
    assert_eq!(count("OneHotEncoder"), 8);
    assert_eq!(count("Mul"), 1);
    assert_eq!(count("Cast"), 1);
    assert_eq!(count("Sub"), 0, "no scaling in the standard pipeline");
    let names: BTreeSet<&str> = graph
        .node
        .iter()
        .filter_map(|n| n.name.as_deref())
        .collect();
    assert_eq!(names.len(), graph.node.len(), "node names are unique");
    Ok(())
}

/// The `Columns` layout gives one `[N]` output per class holding the same values.
#[test]
fn the_columns_layout_splits_the_probabilities_by_class() -> TestResult {
    let (train, test) = split();
    let (pipeline, forest) = fit(FeatureConfig::standard(), &train, 8)?;
    let tensor = export(&pipeline, &forest, &ExportOptions::default())?;
    let columns = export(
        &pipeline,
        &forest,
        &ExportOptions::with_outputs(OutputLayout::Columns),
    )?;
    let names: Vec<String> = columns.outputs().into_iter().map(|o| o.name).collect();
    let mut want = vec!["label".to_owned()];
    want.extend(
        pipeline
            .class_names()
            .iter()
            .map(|c| format!("probability_{c}")),
    );
    assert_eq!(names, want);
    assert!(columns.outputs()[1..].iter().all(|o| o.shape == [None]));

    let rows = &test[..50];
    let a = interp::run(tensor.proto(), raw_inputs(rows))?;
    let b = interp::run(columns.proto(), raw_inputs(rows))?;
    assert_eq!(a["label"], b["label"]);
    let all = a["probabilities"].as_f32()?;
    for (c, class) in pipeline.class_names().iter().enumerate() {
        let column = b[&format!("probability_{class}")].as_f32()?;
        let expected: Vec<f32> = (0..rows.len()).map(|r| all[r * 7 + c]).collect();
        assert_eq!(column, expected.as_slice(), "{class}");
    }
    Ok(())
}

/// `to_onnx()` on the forest: the float feature matrix in, the same predictions out.
#[test]
fn the_forest_alone_exports_over_its_feature_matrix() -> TestResult {
    let (train, test) = split();
    let (pipeline, forest) = fit(FeatureConfig::default(), &train, 10)?;
    let model = forest.to_onnx(pipeline.class_names())?;
    let input = &model.inputs()[0];
    assert_eq!(
        (input.name.as_str(), input.elem_type, &input.shape),
        ("features", Some(ElemType::Float), &vec![None, Some(22)])
    );
    let x = pipeline.transform(&test)?;
    let out = interp::run(
        model.proto(),
        HashMap::from([(
            "features".to_owned(),
            Tensor::f32(vec![x.nrows(), x.ncols()], x.iter().copied().collect()),
        )]),
    )?;
    let want = forest.predict_proba(x.view())?;
    let got = out["probabilities"].as_f32()?;
    assert!(
        got.iter()
            .zip(want.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    Ok(())
}

/// Inputs the exporter refuses, each with the error that names the problem.
#[test]
fn mismatched_inputs_are_errors() -> TestResult {
    let (train, _) = split();
    let (pipeline, forest) = fit(FeatureConfig::standard(), &train, 4)?;
    let data = pipeline.dataset(&train)?;
    let params = ForestParams::builder().n_estimators(4).seed(1).build()?;

    // A forest reading more columns than the pipeline makes (extra columns appended).
    let wide = ndarray::concatenate(ndarray::Axis(1), &[data.x.view(), data.x.view()])?;
    let wide_forest = RandomForest::fit(&params, wide.view(), data.y.view(), 7)?;
    let err = export(&pipeline, &wide_forest, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OnnxError::FeatureCountMismatch {
                forest: 64,
                pipeline: 32
            }
        ),
        "{err}"
    );
    // ... or fewer.
    let narrow = data
        .x
        .select(ndarray::Axis(1), &(0..30).collect::<Vec<_>>());
    let narrow_forest = RandomForest::fit(&params, narrow.view(), data.y.view(), 7)?;
    assert!(matches!(
        export(&pipeline, &narrow_forest, &ExportOptions::default()),
        Err(OnnxError::FeatureCountMismatch { forest: 30, .. })
    ));

    // A forest with another number of classes than the pipeline names.
    let eight = RandomForest::fit(&params, data.x.view(), data.y.view(), 8)?;
    let err = export(&pipeline, &eight, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OnnxError::ClassCountMismatch {
                expected: 8,
                got: 7
            }
        ),
        "{err}"
    );

    // Class names for the forest alone: wrong count, or a name twice.
    let six: Vec<String> = pipeline.class_names()[..6].to_vec();
    assert!(matches!(
        forest.to_onnx(&six),
        Err(OnnxError::ClassCountMismatch {
            expected: 7,
            got: 6
        })
    ));
    let mut twice = pipeline.class_names().to_vec();
    twice[3] = twice[2].clone();
    let err = forest_to_onnx(&forest, &twice, &ExportOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::DuplicateName { .. }), "{err}");
    assert!(err.to_string().contains(&twice[2]));

    // Bytes that are not a model, and a path that cannot be written.
    assert!(matches!(
        OnnxModel::from_bytes(&[0x0a, 0xff, 0xff]),
        Err(OnnxError::Decode(_))
    ));
    let model = forest.to_onnx(pipeline.class_names())?;
    let dir = tempfile::tempdir()?;
    let err = model
        .write(dir.path().join("missing").join("model.onnx"))
        .unwrap_err();
    assert!(matches!(err, OnnxError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing"));
    Ok(())
}

/// The file written is the model's bytes, and nothing is left beside it.
#[test]
fn write_is_atomic_and_reads_back() -> TestResult {
    let (train, _) = split();
    let (pipeline, forest) = fit(FeatureConfig::default(), &train, 3)?;
    let model = export(&pipeline, &forest, &ExportOptions::default())?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.onnx");
    model.write(&path)?;
    model.write(&path)?; // overwrite
    assert_eq!(std::fs::read(&path)?, model.to_bytes());
    let files: Vec<_> = std::fs::read_dir(dir.path())?.collect();
    assert_eq!(files.len(), 1);
    // The float32 input type of the forest-only model is what onnxruntime expects.
    let alone = forest.to_onnx(pipeline.class_names())?;
    let input = &alone.proto().graph.as_ref().ok_or("graph")?.input[0];
    let t = match input.r#type.as_ref().and_then(|t| t.value.clone()) {
        Some(obesity_onnx::proto::type_proto::Value::TensorType(t)) => t,
        None => return Err("no tensor type".into()),
    };
    assert_eq!(t.elem_type, Some(data_type::FLOAT));
    Ok(())
}
