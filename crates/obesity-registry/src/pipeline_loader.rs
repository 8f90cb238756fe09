//! Feature pipelines of any kind: a version records which kind of transform it holds, and the
//! registry turns the stored bytes back into that transform with the loader the application
//! registered for the kind — the way [`ClassifierLoader`](crate::ClassifierLoader) does for
//! models.
//!
//! The default kind, [`DEFAULT_PIPELINE_KIND`], is `obesity_features`' [`FittedPipeline`]
//! (stored as `pipeline.json`, no tag), so every version registered before kinds existed
//! loads as it did. Any other kind is stored as `pipeline.bin` with the version tag
//! [`PIPELINE_KIND_TAG`]; [`Registry::load`](crate::Registry::load) calls the loader
//! registered with [`Registry::with_pipeline_loader`](crate::Registry::with_pipeline_loader)
//! and hands the result back as a [`CustomPipeline`] to downcast.
//!
//! ```
//! use std::sync::Arc;
//! use obesity_registry::{CustomPipeline, PipelineLoader};
//!
//! /// An application's own transform: scales every column by a constant.
//! struct Scale(f32);
//!
//! let loader: PipelineLoader = Arc::new(|bytes: &[u8]| {
//!     let text = std::str::from_utf8(bytes)?;
//!     let factor: f32 = text.trim().parse()?;
//!     Ok(Arc::new(Scale(factor)) as Arc<dyn std::any::Any + Send + Sync>)
//! });
//! let value = loader(b"2.5").expect("loads");
//! let pipeline = CustomPipeline::new("my_app.Scale", value);
//! assert_eq!(pipeline.downcast_ref::<Scale>().map(|s| s.0), Some(2.5));
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The pipeline kind of a version without a [`PIPELINE_KIND_TAG`]:
/// `obesity_features::FittedPipeline`, stored as JSON.
pub const DEFAULT_PIPELINE_KIND: &str = "obesity_features.FittedPipeline";

/// Version tag naming the kind of a pipeline that is not the default one.
pub const PIPELINE_KIND_TAG: &str = "pipeline_kind";

/// File name of a pipeline of a kind other than the default one (its bytes are the
/// application's own format).
pub const CUSTOM_PIPELINE_FILE: &str = "pipeline.bin";

/// The error a [`PipelineLoader`] returns: any error, boxed.
pub type PipelineLoadError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a stored pipeline's bytes back into the application's transform.
pub type PipelineLoader = Arc<
    dyn Fn(&[u8]) -> std::result::Result<Arc<dyn Any + Send + Sync>, PipelineLoadError>
        + Send
        + Sync,
>;

/// A loaded pipeline of an application's own kind.
#[derive(Clone)]
pub struct CustomPipeline {
    kind: String,
    value: Arc<dyn Any + Send + Sync>,
}

impl CustomPipeline {
    /// Wraps a loaded transform of `kind`.
    pub fn new(kind: impl Into<String>, value: Arc<dyn Any + Send + Sync>) -> Self {
        CustomPipeline {
            kind: kind.into(),
            value,
        }
    }

    /// The kind the version recorded (the key its loader was registered under).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The transform as its concrete type, or `None` when it is another type.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.value.downcast_ref::<T>()
    }

    /// The shared transform, for handing to another thread.
    pub fn value(&self) -> &Arc<dyn Any + Send + Sync> {
        &self.value
    }
}

impl std::fmt::Debug for CustomPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomPipeline")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The loaders a registry knows, by kind.
#[derive(Clone, Default)]
pub(crate) struct PipelineLoaders {
    by_kind: BTreeMap<String, PipelineLoader>,
}

impl PipelineLoaders {
    pub(crate) fn insert(&mut self, kind: String, loader: PipelineLoader) {
        self.by_kind.insert(kind, loader);
    }

    pub(crate) fn get(&self, kind: &str) -> Option<&PipelineLoader> {
        self.by_kind.get(kind)
    }

    /// Every kind this registry can load, the default one first, for error messages.
    pub(crate) fn known(&self) -> String {
        std::iter::once(DEFAULT_PIPELINE_KIND)
            .chain(self.by_kind.keys().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
