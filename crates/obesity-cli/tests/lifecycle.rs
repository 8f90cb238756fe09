//! The life-cycle commands (`validate`, `train`, `predict`, `evaluate`, `drift`, `stage`),
//! run as a user runs them, on a model trained here on the repository's fixture.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use obesity_registry::Registry;

mod common;
use common::{failed, fixture, json, obesity_command, obesity_in, ok};

/// A temp dir with a store in which `obesity train` registered version 1 of
/// `obesity-classifier` (10 trees, 2 folds) on the fixture; returns the dir and the store.
fn trained() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("mlruns").display().to_string();
    let data = fixture("obesity_synthetic.csv").display().to_string();
    let out = dir.path().join("out").display().to_string();
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "train",
            "--data",
            &data,
            "--out",
            &out,
            "--n-estimators",
            "10",
            "--cv-folds",
            "2",
        ],
    )));
    assert_eq!(doc["model"]["version"], 1, "{doc}");
    (dir, store)
}

/// The first `n` data rows of the fixture, with or without the label column.
fn sample(dir: &Path, name: &str, n: usize, labelled: bool) -> PathBuf {
    let text = std::fs::read_to_string(fixture("obesity_synthetic.csv")).expect("fixture");
    let lines: Vec<String> = text
        .lines()
        .take(n + 1)
        .map(|l| {
            if labelled {
                l.to_owned()
            } else {
                let mut f: Vec<&str> = l.split(',').collect();
                f.pop();
                f.join(",")
            }
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write sample");
    path
}

#[test]
fn validate_prints_json_only_and_names_file_line_and_column_of_a_bad_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            fixture("obesity_synthetic.csv").to_str().unwrap(),
            "--json",
        ],
    ));
    let doc = json(&out);
    assert_eq!(
        doc["fingerprint"]["canonical"].as_str().map(str::len),
        Some(64)
    );

    // The bad row found independently of the loader: the first non-numeric Age.
    let bad = fixture("bad/non_numeric.csv");
    let text = std::fs::read_to_string(&bad).expect("fixture");
    let (index, value) = text
        .lines()
        .enumerate()
        .skip(1)
        .find_map(|(i, l)| {
            let age = l.split(',').nth(1)?;
            age.trim()
                .parse::<f64>()
                .is_err()
                .then(|| (i, age.to_owned()))
        })
        .expect("a non-numeric Age");
    let err = failed(&obesity_in(
        dir.path(),
        &["validate", bad.to_str().unwrap()],
    ));
    assert!(
        err.contains(&format!("non_numeric.csv:{}:", index + 1)),
        "{err}"
    );
    assert!(err.contains("Age") && err.contains(&value), "{err}");

    // Lenient: exit 0, the bad row listed.
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &["validate", bad.to_str().unwrap(), "--lenient", "--json"],
    )));
    assert!(doc.to_string().contains(&value), "{doc}");

    // A missing file names the file; bad usage is exit 2.
    let err = failed(&obesity_in(dir.path(), &["validate", "missing.csv"]));
    assert!(err.contains("missing.csv"), "{err}");
    assert_eq!(obesity_in(dir.path(), &["validate"]).status.code(), Some(2));
}

#[test]
fn train_reads_params_yaml_and_flags_override_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("obesity_synthetic.csv");
    std::fs::write(
        dir.path().join("params.yaml"),
        format!(
            "data:\n  path: {}\nforest:\n  n_estimators: 7\n  max_depth: 6\n  seed: 3\ncv:\n  folds: 2\n\
             registry:\n  tracking_uri: from-params\n  model_name: from-params-model\n",
            data.display()
        ),
    )
    .expect("params");
    // No flag: everything from params.yaml in the working directory, JSON only on stdout.
    let doc = json(&ok(&obesity_in(dir.path(), &["--json", "train"])));
    assert_eq!(doc["params"]["n_estimators"], "7");
    assert_eq!(doc["params"]["max_depth"], "6");
    assert_eq!(
        doc["cv"]["accuracy"]["folds"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(doc["model"]["name"], "from-params-model");
    assert!(
        dir.path().join("from-params").is_dir(),
        "tracking_uri of params.yaml used"
    );

    // Flags win over the file, `--set` reaches any key.
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--json",
            "train",
            "--n-estimators",
            "9",
            "--set",
            "forest.max_depth=4",
            "--model-name",
            "flagged",
        ],
    )));
    assert_eq!(doc["params"]["n_estimators"], "9");
    assert_eq!(doc["params"]["max_depth"], "4");
    assert_eq!(doc["model"]["name"], "flagged");
    assert_eq!(doc["model"]["version"], 1);
}

#[test]
fn an_unknown_config_key_names_the_key_the_file_and_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "data:\n  seed: 1\nforest:\n  n_estimators: 5\ncv:\n  folds: 2\n  fodls: 3\n";
    let line = text
        .lines()
        .position(|l| l.contains("fodls"))
        .expect("typo")
        + 1;
    let path = dir.path().join("my-params.yaml");
    std::fs::write(&path, text).expect("write");
    for args in [
        vec!["--config", path.to_str().unwrap(), "train"],
        vec!["--config", path.to_str().unwrap(), "registry", "list"],
    ] {
        let err = failed(&obesity_in(dir.path(), &args));
        assert!(err.contains("fodls"), "{err}");
        assert!(err.contains(&format!("my-params.yaml:{line}:")), "{err}");
    }
    // The same through a flag, and a top-level typo.
    let err = failed(&obesity_in(dir.path(), &["train", "--set", "cv.fodls=3"]));
    assert!(err.contains("cv.fodls"), "{err}");
    std::fs::write(
        dir.path().join("params.yaml"),
        "forrest:\n  n_estimators: 5\n",
    )
    .expect("w");
    let err = failed(&obesity_in(dir.path(), &["registry", "list"]));
    assert!(
        err.contains("forrest") && err.contains("params.yaml:1:"),
        "{err}"
    );
}

#[test]
fn predict_scores_unlabelled_rows_with_class_probabilities_and_version() {
    let (dir, store) = trained();
    let input = sample(dir.path(), "unlabelled.csv", 40, false);
    let output = dir.path().join("scored.csv");
    let summary = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "predict",
            "--model",
            "models:/obesity-classifier@champion",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    )));
    assert_eq!(summary["rows"], 40);
    assert_eq!(summary["version"], 1);

    // What the library says for the same rows.
    let registry = Registry::open(&store).expect("registry");
    let model = registry
        .load_str("models:/obesity-classifier@champion")
        .expect("load");
    let pipeline = model.pipeline.as_ref().expect("pipeline");
    let records = obesity_data::load_csv(&input, &obesity_data::LoadOptions::strict())
        .expect("load")
        .records;
    let expected = model
        .classifier
        .predict(pipeline.transform(&records).expect("x").view())
        .expect("predict");

    let text = std::fs::read_to_string(&output).expect("output");
    let mut rows = csv::Reader::from_path(&output).expect("csv");
    let header: Vec<String> = rows
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "line");
    assert_eq!(header[1], "prediction");
    let classes = pipeline.class_names();
    for (i, c) in classes.iter().enumerate() {
        assert_eq!(header[2 + i], format!("probability_{c}"));
    }
    let mut n = 0;
    for (i, row) in rows.records().enumerate() {
        let row = row.expect("row");
        assert_eq!(row[0].parse::<usize>().expect("line"), i + 2, "{text}");
        assert_eq!(&row[1], classes[expected[i]].as_str(), "row {i}");
        let p: Vec<f64> = (0..classes.len())
            .map(|k| row[2 + k].parse().expect("probability"))
            .collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{p:?}");
        assert_eq!(&row[2 + classes.len()], "obesity-classifier");
        assert_eq!(&row[3 + classes.len()], "1");
        n += 1;
    }
    assert_eq!(n, 40);
}

#[test]
fn predict_fails_on_an_unknown_model_and_names_a_bad_input_row() {
    let (dir, store) = trained();
    let input = sample(dir.path(), "in.csv", 5, false);
    for model in [
        "models:/no-such-model@champion",
        "models:/obesity-classifier@nope",
    ] {
        let err = failed(&obesity_in(
            dir.path(),
            &[
                "--tracking-uri",
                &store,
                "predict",
                "--model",
                model,
                "--input",
                input.to_str().unwrap(),
            ],
        ));
        assert!(
            err.contains(if model.contains("nope") {
                "nope"
            } else {
                "no-such-model"
            }),
            "{err}"
        );
    }
    let bad = fixture("bad/out_of_range.csv");
    let err = failed(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "predict",
            "--model",
            "models:/obesity-classifier/1",
            "--input",
            bad.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("out_of_range.csv:"), "{err}");
    // A lenient run scores the good rows only.
    let o = obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "predict",
            "--model",
            "models:/obesity-classifier/1",
            "--input",
            bad.to_str().unwrap(),
            "--lenient",
        ],
    );
    let out = ok(&o);
    let good_rows = std::fs::read_to_string(&bad)
        .expect("fixture")
        .lines()
        .count()
        - 2;
    assert_eq!(out.lines().count(), good_rows + 1, "{out}");
}

#[test]
fn predict_to_a_closed_pipe_ends_quietly() {
    let (dir, store) = trained();
    let input = sample(dir.path(), "in.csv", 300, false);
    let mut child = obesity_command()
        .current_dir(dir.path())
        .args([
            "--tracking-uri",
            &store,
            "predict",
            "--model",
            "models:/obesity-classifier/1",
        ])
        .arg("--input")
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn evaluate_agrees_with_predict_and_refuses_unlabelled_data() {
    let (dir, store) = trained();
    let data = sample(dir.path(), "labelled.csv", 200, true);
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "evaluate",
            "--model",
            "models:/obesity-classifier@champion",
            "--data",
            data.to_str().unwrap(),
        ],
    )));
    assert_eq!(doc["rows"], 200);
    // Accuracy from predict's output against the file's own labels.
    let scored = ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "predict",
            "--model",
            "models:/obesity-classifier@champion",
            "--input",
            data.to_str().unwrap(),
        ],
    ));
    let labels: Vec<String> = std::fs::read_to_string(&data)
        .expect("data")
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap_or_default().to_owned())
        .collect();
    let predicted: Vec<String> = scored
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap_or_default().to_owned())
        .collect();
    let right = labels
        .iter()
        .zip(&predicted)
        .filter(|(a, b)| a == b)
        .count();
    let accuracy = doc["metrics"]["accuracy"].as_f64().expect("accuracy");
    assert!(
        (accuracy - right as f64 / 200.0).abs() < 1e-12,
        "{accuracy} vs {right}/200"
    );

    let text = ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "evaluate",
            "--model",
            "models:/obesity-classifier/1",
            "--data",
            data.to_str().unwrap(),
        ],
    ));
    assert!(text.contains("macro avg"), "{text}");

    let unlabelled = sample(dir.path(), "unlabelled.csv", 20, false);
    let err = failed(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "evaluate",
            "--model",
            "models:/obesity-classifier/1",
            "--data",
            unlabelled.to_str().unwrap(),
        ],
    ));
    assert!(
        err.contains("unlabelled.csv") && err.contains("NObeyesdad"),
        "{err}"
    );
    let err = failed(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "evaluate",
            "--model",
            "models:/obesity-classifier/7",
            "--data",
            data.to_str().unwrap(),
        ],
    ));
    assert!(err.contains('7'), "{err}");
}

#[test]
fn drift_compares_new_data_with_the_stored_reference_profile() {
    let (dir, store) = trained();
    // Rows like the training data: no data-set drift.
    let same = sample(dir.path(), "same.csv", 600, false);
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "drift",
            "--model",
            "models:/obesity-classifier@champion",
            "--current",
            same.to_str().unwrap(),
        ],
    )));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["report"]["dataset_drift"], false, "{doc}");

    // Everyone 40 kg heavier: Weight drifts.
    let text = std::fs::read_to_string(&same).expect("same");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let weight = header
        .split(',')
        .position(|c| c == "Weight")
        .expect("Weight");
    let mut heavier = vec![header.to_owned()];
    for l in lines {
        let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
        let w: f64 = f[weight].parse().expect("weight");
        f[weight] = format!("{}", (w + 40.0).min(170.0));
        heavier.push(f.join(","));
    }
    let shifted = dir.path().join("heavier.csv");
    std::fs::write(&shifted, heavier.join("\n")).expect("write");
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "drift",
            "--model",
            "models:/obesity-classifier@champion",
            "--current",
            shifted.to_str().unwrap(),
        ],
    )));
    let columns = doc["report"]["columns"].as_array().expect("columns");
    let w = columns
        .iter()
        .find(|c| c["column"] == "Weight")
        .expect("Weight column");
    assert_eq!(w["drifted"], true, "{w}");
    // One column in 16 is below the default alert threshold (0.1): no alert ...
    let share = doc["report"]["share_of_drifted_columns"]
        .as_f64()
        .expect("share");
    assert!((share - 1.0 / 16.0).abs() < 1e-12, "{share}");
    assert!(
        doc["alerts"].as_array().expect("alerts").is_empty(),
        "{doc}"
    );
    // ... and above a threshold set in params.yaml: the config reaches the command.
    std::fs::write(
        dir.path().join("params.yaml"),
        "alerts:\n  drift_threshold: 0.05\n",
    )
    .expect("params");
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "drift",
            "--model",
            "models:/obesity-classifier@champion",
            "--current",
            shifted.to_str().unwrap(),
        ],
    )));
    assert_eq!(doc["alert_drift_threshold"], 0.05);
    assert_eq!(doc["alerts"].as_array().map(Vec::len), Some(1), "{doc}");
    // A flag beats the file.
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "--set",
            "alerts.drift_threshold=0.5",
            "drift",
            "--model",
            "models:/obesity-classifier@champion",
            "--current",
            shifted.to_str().unwrap(),
        ],
    )));
    assert_eq!(doc["alert_drift_threshold"], 0.5);
    assert_eq!(doc["alerts"].as_array().map(Vec::len), Some(0), "{doc}");

    let err = failed(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "drift",
            "--model",
            "models:/ghost@champion",
            "--current",
            same.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("ghost"), "{err}");
}

#[test]
fn the_dvc_stages_run_in_order_and_register_with_the_lock_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("obesity_synthetic.csv");
    std::fs::write(
        dir.path().join("params.yaml"),
        format!(
            "data:\n  path: {}\nforest:\n  n_estimators: 8\n  seed: 1\ncv:\n  folds: 2\n\
             registry:\n  tracking_uri: mlruns\n",
            data.display()
        ),
    )
    .expect("params");
    // A later stage before an earlier one: an error naming the missing file.
    let err = failed(&obesity_in(dir.path(), &["stage", "train"]));
    assert!(err.contains("split.json"), "{err}");
    for stage in ["featurize", "train", "evaluate"] {
        ok(&obesity_in(dir.path(), &["stage", stage]));
    }
    let build = dir.path().join("build");
    for file in [
        "features/split.json",
        "features/pipeline.json",
        "model/model.bin",
        "model/train.json",
        "cv_metrics.json",
        "metrics.json",
        "plots/confusion.csv",
        "plots/cv_folds.csv",
        "reports/confusion_matrix.svg",
    ] {
        assert!(build.join(file).is_file(), "{file} missing");
    }
    let split = json(&std::fs::read_to_string(build.join("features/split.json")).expect("split"));
    let test_rows = split["test"].as_array().expect("test").len();
    let confusion = std::fs::read_to_string(build.join("plots/confusion.csv")).expect("csv");
    assert_eq!(confusion.lines().count(), test_rows + 1);
    let metrics = json(&std::fs::read_to_string(build.join("metrics.json")).expect("metrics"));
    let right = confusion.lines().skip(1).filter(|l| {
        let (a, p) = l.split_once(',').unwrap_or_default();
        a == p
    });
    let accuracy = metrics["accuracy"].as_f64().expect("accuracy");
    assert!((accuracy - right.count() as f64 / test_rows as f64).abs() < 1e-12);

    // A dvc.lock with the train stage's hash: the version records it.
    std::fs::write(
        dir.path().join("dvc.lock"),
        "schema: '2.0'\nstages:\n  train:\n    cmd: obesity stage train\n    outs:\n    - path: build/model\n      hash: md5\n      md5: 0123456789abcdef0123456789abcdef.dir\n",
    )
    .expect("lock");
    ok(&obesity_in(dir.path(), &["stage", "register"]));
    let registered =
        json(&std::fs::read_to_string(build.join("registered.json")).expect("registered"));
    assert_eq!(registered["version"], 1);
    assert_eq!(
        registered["dvc_lock_md5"],
        "0123456789abcdef0123456789abcdef.dir"
    );
    let registry = Registry::open(dir.path().join("mlruns").to_str().unwrap()).expect("open");
    let v = registry.version("obesity-classifier", 1).expect("v1");
    assert_eq!(
        v.tags.get("dvc.lock_md5").map(String::as_str),
        Some("0123456789abcdef0123456789abcdef.dir")
    );
}

/// The README's walkthrough: train twice, list, predict, drift, compare.
#[test]
fn the_readme_walkthrough_train_list_predict_drift_compare() {
    let (dir, store) = trained();
    let data = fixture("obesity_synthetic.csv").display().to_string();
    let out = dir.path().join("out2").display().to_string();
    let second = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "train",
            "--data",
            &data,
            "--out",
            &out,
            "--n-estimators",
            "12",
            "--cv-folds",
            "2",
        ],
    )));
    assert_eq!(second["model"]["version"], 2);

    let list = ok(&obesity_in(
        dir.path(),
        &["--tracking-uri", &store, "registry", "list"],
    ));
    assert!(list.contains("obesity-classifier"), "{list}");
    // The champion is v2 only if it scored strictly better than v1 (a tie keeps v1).
    let versions = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "registry",
            "versions",
            "obesity-classifier",
        ],
    )));
    let accuracy = |i: usize| -> f64 {
        versions[i]["lineage"]["metrics"]["accuracy"]
            .as_f64()
            .unwrap_or_else(|| panic!("no accuracy in the lineage of {}", versions[i]))
    };
    let champion = if accuracy(1) > accuracy(0) {
        "champion=v2"
    } else {
        "champion=v1"
    };
    assert!(list.contains(champion), "{list}");

    let input = sample(dir.path(), "new.csv", 30, false);
    let scored = ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "predict",
            "--model",
            "models:/obesity-classifier/2",
            "--input",
            input.to_str().unwrap(),
        ],
    ));
    assert_eq!(scored.lines().count(), 31);
    assert!(
        scored
            .lines()
            .skip(1)
            .all(|l| l.ends_with(",obesity-classifier,2")),
        "{scored}"
    );

    let drift = ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "drift",
            "--model",
            "models:/obesity-classifier@champion",
            "--current",
            input.to_str().unwrap(),
        ],
    ));
    assert!(drift.contains("monitoring.drift_share"), "{drift}");

    let compare = ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "registry",
            "compare",
            "obesity-classifier",
            "1",
            "2",
        ],
    ));
    let line = compare
        .lines()
        .find(|l| l.contains("n_estimators"))
        .unwrap_or_else(|| panic!("no n_estimators row in\n{compare}"));
    assert!(line.contains("10") && line.contains("12"), "{line}");
}

#[test]
fn train_grid_search_logs_each_candidate_as_a_nested_run_and_the_best_on_the_parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("mlruns").display().to_string();
    let data = fixture("obesity_synthetic.csv").display().to_string();
    let out_dir = dir.path().join("out");
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "train",
            "--data",
            &data,
            "--out",
            out_dir.to_str().unwrap(),
            "--grid-search",
            "--cv-folds",
            "2",
            "--set",
            "search.grid={n_estimators: [4, 9], max_depth: [2, null]}",
        ],
    )));
    // The table: one row per candidate; the best is the highest mean (ties: first).
    let table = std::fs::read_to_string(out_dir.join("search_results.csv")).expect("table");
    let mut rows = csv::Reader::from_reader(table.as_bytes());
    let header: Vec<String> = rows
        .headers()
        .expect("h")
        .iter()
        .map(str::to_owned)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4, "{table}");
    let mean = |r: &csv::StringRecord| r[col("mean_test_score")].parse::<f64>().expect("mean");
    let best = rows
        .iter()
        .fold(None::<&csv::StringRecord>, |b, r| match b {
            Some(b) if mean(b) >= mean(r) => Some(b),
            _ => Some(r),
        })
        .expect("a best row");
    let best_trees = &best[col("param_n_estimators")];
    assert_eq!(
        doc["params"]["n_estimators"], best_trees,
        "the model is the best candidate"
    );
    assert_eq!(doc["search"]["candidates"], 4);
    assert_eq!(doc["search"]["best_params"]["n_estimators"], best_trees);

    // The runs: the parent with best_* params and best_cv_score, four children linked to it.
    let parent_id = doc["run_id"].as_str().expect("run id").to_owned();
    let runs = json(&ok(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "--json",
            "registry",
            "runs",
            "obesity-classification",
        ],
    )));
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 5, "parent + 4 candidates");
    let tag = |run: &serde_json::Value, key: &str| -> Option<String> {
        run["data"]["tags"][key].as_str().map(str::to_owned)
    };
    let children: Vec<&serde_json::Value> = runs
        .iter()
        .filter(|r| tag(r, "mlflow.parentRunId").as_deref() == Some(parent_id.as_str()))
        .collect();
    assert_eq!(children.len(), 4);
    let parent = runs
        .iter()
        .find(|r| r["info"]["run_id"] == parent_id.as_str())
        .expect("parent run");
    assert_eq!(parent["data"]["params"]["best_n_estimators"], best_trees);
    let logged = parent["data"]["metrics"]["best_cv_score"]["value"]
        .as_f64()
        .expect("best_cv_score");
    assert!(
        (logged - mean(best)).abs() < 1e-12,
        "{logged} vs {}",
        mean(best)
    );
}

/// Issue 16: "class 2 has 1 row(s)" named an index where the user knows class names.
#[test]
fn train_names_a_class_too_small_to_split_by_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixture("obesity_synthetic.csv")).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    // Every row, except that Obesity_Type_III keeps only its first.
    let mut seen = false;
    let mut kept = vec![header.to_owned()];
    for l in lines {
        if l.trim_end().ends_with(",Obesity_Type_III") {
            if seen {
                continue;
            }
            seen = true;
        }
        kept.push(l.to_owned());
    }
    assert!(seen, "the fixture has an Obesity_Type_III row");
    let data = dir.path().join("one_type_iii.csv");
    std::fs::write(&data, kept.join("\n") + "\n").expect("write");
    let store = dir.path().join("mlruns").display().to_string();
    let err = failed(&obesity_in(
        dir.path(),
        &[
            "--tracking-uri",
            &store,
            "train",
            "--data",
            data.to_str().expect("utf-8 path"),
            "--n-estimators",
            "5",
        ],
    ));
    assert!(err.contains("class \"Obesity_Type_III\" (index"), "{err}");
    assert!(err.contains("has 1 row(s)"), "{err}");
    assert_eq!(err.matches("has 1 row(s)").count(), 1, "said once: {err}");
}
