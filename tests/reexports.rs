//! An application names ndarray and chrono through the crates, never through its own
//! dependency: every crate's re-export must be the very same crate version, or a user on
//! another ndarray gets "multiple different versions of crate ndarray" (issue 13, item 5).
//! These functions only compile when the types are identical; the test calls through them.

use obesity_mlops::data::synth;
use obesity_mlops::features::{FeatureConfig, FeaturePipeline};
use obesity_mlops::forest::{ForestParams, ModelStrategy};

fn features_to_forest(
    x: obesity_mlops::features::ndarray::Array2<f32>,
) -> obesity_mlops::forest::ndarray::Array2<f32> {
    x
}

fn forest_to_eval(
    x: obesity_mlops::forest::ndarray::Array2<f32>,
) -> obesity_mlops::eval::ndarray::Array2<f32> {
    x
}

fn eval_to_everything(
    x: obesity_mlops::eval::ndarray::Array2<f32>,
) -> obesity_mlops::ndarray::Array2<f32> {
    let x: obesity_mlops::monitor::ndarray::Array2<f32> = x;
    let x: obesity_mlops::onnx::ndarray::Array2<f32> = x;
    let x: obesity_mlops::registry::ndarray::Array2<f32> = x;
    let x: obesity_mlops::serve::ndarray::Array2<f32> = x;
    x
}

fn same_clock(
    t: obesity_mlops::monitor::chrono::DateTime<obesity_mlops::chrono::Utc>,
) -> obesity_mlops::registry::chrono::DateTime<obesity_mlops::serve::chrono::Utc> {
    t
}

#[test]
fn a_matrix_built_through_the_reexports_feeds_every_crate() {
    let records = synth::generate(120, 3);
    let pipeline = FeaturePipeline::new(FeatureConfig::default());
    let fitted = pipeline.fit(&records).expect("fit");
    let dataset = fitted.dataset(&records).expect("dataset");
    let x = eval_to_everything(forest_to_eval(features_to_forest(dataset.x.clone())));
    let params = ForestParams::builder()
        .n_estimators(5)
        .seed(1)
        .build()
        .expect("params");
    let model = params
        .fit(x.view(), dataset.y.view(), dataset.n_classes())
        .expect("fit forest");
    let proba = model.predict_proba(x.view()).expect("predict");
    assert_eq!(proba.dim(), (120, dataset.n_classes()));
    let now = obesity_mlops::chrono::Utc::now();
    assert_eq!(same_clock(now), now);
}

#[test]
fn the_obesity_grid_lives_with_the_obesity_example_and_has_216_candidates() {
    let grid = obesity_mlops::grid::obesity_forest_grid();
    assert_eq!(grid.candidates().expect("candidates").len(), 216);
}
