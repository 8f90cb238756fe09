//! [`Registry`]: registered models, versions with their artifacts, stages, aliases, loading,
//! comparison and promotion, over any [`Store`].

use std::collections::BTreeMap;
use std::sync::Arc;

use obesity_features::FittedPipeline;
use obesity_forest::{Classifier, ModelError};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lineage::{Comparison, Lineage};
use crate::logged::{CreateLoggedModel, LoggedModelStatus};
use crate::mlmodel::{
    InputExample, MLMODEL_FILE, ModelDir, ModelDirSpec, NativeFiles, OnnxArtifact, PythonEnv,
    RESERVED_FILES,
};
use crate::model_uri::ModelRef;
use crate::pipeline_loader::{
    CUSTOM_PIPELINE_FILE, CustomPipeline, DEFAULT_PIPELINE_KIND, PIPELINE_KIND_TAG, PipelineLoader,
    PipelineLoaders,
};
use crate::promotion::{DataCheck, PromotionDecision, PromotionOutcome, PromotionPolicy};
use crate::signature::Signature;
use crate::store::{CreateModelVersion, ModelVersion, RegisteredModel, Stage, Store, Tag};
use crate::validate;

/// Version tag holding the run-relative folder of the version's artifacts.
pub const ARTIFACT_PATH_TAG: &str = "artifact_path";
/// The same tag as written by earlier versions of this crate; still read.
const LEGACY_ARTIFACT_PATH_TAG: &str = "obesity.artifact_path";
/// File name of the serialised classifier inside the version's artifact folder.
pub const MODEL_FILE: &str = "model.bin";
/// File name of the fitted feature pipeline (JSON).
pub const PIPELINE_FILE: &str = "pipeline.json";
/// File name of the signature (JSON).
pub const SIGNATURE_FILE: &str = "signature.json";
/// File name of the lineage document (JSON).
pub const LINEAGE_FILE: &str = "lineage.json";

/// Turns model bytes back into a classifier. The default is
/// [`default_classifier_loader`]; tests and other model crates can plug in their own.
pub type ClassifierLoader =
    Arc<dyn Fn(&[u8]) -> std::result::Result<Box<dyn Classifier>, ModelError> + Send + Sync>;

/// The one place model bytes become a classifier by default: `obesity_forest`'s loader.
pub fn default_classifier_loader(
    bytes: &[u8],
) -> std::result::Result<Box<dyn Classifier>, ModelError> {
    obesity_forest::load_classifier(bytes)
}

/// Everything needed to register a new version. Built with [`NewVersion::new`] and the
/// setters.
#[derive(Debug, Clone)]
pub struct NewVersion {
    name: String,
    run_id: String,
    model: Vec<u8>,
    pipeline_json: Option<Vec<u8>>,
    custom_pipeline: Option<(String, Vec<u8>)>,
    signature: Option<Signature>,
    lineage: Lineage,
    description: Option<String>,
    tags: BTreeMap<String, String>,
    artifact_path: String,
    extra: Vec<(String, Vec<u8>)>,
    onnx: Option<OnnxArtifact>,
    input_example: Option<InputExample>,
    python_env: PythonEnv,
}

impl NewVersion {
    /// A version of model `name` produced by run `run_id`, with the classifier's bytes (from
    /// `Classifier::to_bytes`). Lineage starts as [`Lineage::current`]; params and metrics not
    /// given are copied from the run.
    pub fn new(name: impl Into<String>, run_id: impl Into<String>, model: Vec<u8>) -> Self {
        NewVersion {
            name: name.into(),
            run_id: run_id.into(),
            model,
            pipeline_json: None,
            custom_pipeline: None,
            signature: None,
            lineage: Lineage::current(),
            description: None,
            tags: BTreeMap::new(),
            artifact_path: "model".into(),
            extra: Vec::new(),
            onnx: None,
            input_example: None,
            python_env: PythonEnv::default(),
        }
    }

    /// The fitted feature pipeline the model was trained behind. By default, none.
    pub fn pipeline(mut self, pipeline: &FittedPipeline) -> Result<Self> {
        let json = pipeline.to_json().map_err(|e| Error::InvalidState {
            what: format!("feature pipeline of {}", self.name),
            reason: e.to_string(),
        })?;
        self.pipeline_json = Some(json.into_bytes());
        self.custom_pipeline = None;
        Ok(self)
    }

    /// The fitted feature pipeline as JSON already serialised (`FittedPipeline::to_json`);
    /// it must read back with `FittedPipeline::from_json` for [`Registry::load`] to succeed.
    /// By default, none.
    pub fn pipeline_json(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.pipeline_json = Some(json.into());
        self.custom_pipeline = None;
        self
    }

    /// A feature pipeline of the application's own `kind` (any name but
    /// [`DEFAULT_PIPELINE_KIND`], e.g. `my_app.Scaler`), as the bytes its loader reads back.
    /// Stored as `pipeline.bin` with the version tag `pipeline_kind`; [`Registry::load`]
    /// needs a loader for the kind ([`Registry::with_pipeline_loader`]). Replaces a pipeline
    /// given with [`NewVersion::pipeline`]. By default, none.
    pub fn custom_pipeline(mut self, kind: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.custom_pipeline = Some((kind.into(), bytes));
        self.pipeline_json = None;
        self
    }

    /// The input/output signature. By default, none.
    pub fn signature(mut self, signature: Signature) -> Self {
        self.signature = Some(signature);
        self
    }

    /// The version of the application that trained the model (stored in the lineage and
    /// the `lineage.app_version` tag), e.g. `env!("CARGO_PKG_VERSION")` of the app's crate.
    /// By default, none.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.lineage.app_version = version.into();
        self
    }

    /// The training data's fingerprint (hex). By default, none.
    pub fn data_fingerprint(mut self, hex: impl Into<String>) -> Self {
        self.lineage.data_fingerprint = Some(hex.into());
        self
    }

    /// Replaces the whole lineage. By default, [`Lineage::current`] plus the run's params and
    /// metrics.
    pub fn lineage(mut self, lineage: Lineage) -> Self {
        self.lineage = lineage;
        self
    }

    /// A description. By default, none.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// An extra version tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Another file stored next to the model (e.g. `reference_profile.json`).
    pub fn extra_artifact(mut self, file_name: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.extra.push((file_name.into(), bytes));
        self
    }

    /// The version as an ONNX model (e.g. from `obesity_onnx::export` with
    /// `OutputLayout::Columns`, one 1-D input per raw column): stored as `model.onnx` with the
    /// MLflow flavors `onnx` and `python_function`, so Python loads and serves the version
    /// (see [`mlmodel`](crate::mlmodel)). Its inputs must be the signature's. By default,
    /// none: the `MLmodel` then has the native flavor only.
    pub fn onnx(mut self, onnx: OnnxArtifact) -> Self {
        self.onnx = Some(onnx);
        self
    }

    /// A few input rows, stored as MLflow's `input_example.json` and
    /// `serving_input_example.json`; checked against the signature at registration. By
    /// default, none.
    pub fn input_example(mut self, example: InputExample) -> Self {
        self.input_example = Some(example);
        self
    }

    /// The Python environment written with an ONNX model. By default,
    /// [`PythonEnv::default`].
    pub fn python_env(mut self, env: PythonEnv) -> Self {
        self.python_env = env;
        self
    }

    /// The run-relative folder for the artifacts. By default, `model`.
    pub fn artifact_path(mut self, path: impl Into<String>) -> Self {
        self.artifact_path = path.into();
        self
    }
}

/// A loaded model version, ready to predict.
pub struct LoadedModel {
    /// The version's metadata.
    pub version: ModelVersion,
    /// The classifier.
    pub classifier: Box<dyn Classifier>,
    /// The fitted feature pipeline, if the version holds one of the default kind
    /// ([`DEFAULT_PIPELINE_KIND`]): `transform` request records with it before calling the
    /// classifier.
    pub pipeline: Option<FittedPipeline>,
    /// The same pipeline as the JSON bytes stored in the registry.
    pub pipeline_json: Option<Vec<u8>>,
    /// A pipeline of the application's own kind, read by the loader registered for it with
    /// [`Registry::with_pipeline_loader`]. See also [`LoadedModel::pipeline_as`].
    pub custom_pipeline: Option<CustomPipeline>,
    /// The signature, if one was registered.
    pub signature: Option<Signature>,
    /// Where the version came from.
    pub lineage: Lineage,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("name", &self.version.name)
            .field("version", &self.version.version)
            .field("classifier", &self.classifier.name())
            .field("has_pipeline", &self.pipeline.is_some())
            .field(
                "custom_pipeline",
                &self.custom_pipeline.as_ref().map(CustomPipeline::kind),
            )
            .field("has_signature", &self.signature.is_some())
            .finish()
    }
}

impl LoadedModel {
    /// The version's pipeline as type `T`, whichever kind it is: the default
    /// [`FittedPipeline`] or an application's own. `None` when there is none or it is
    /// another type.
    pub fn pipeline_as<T: std::any::Any>(&self) -> Option<&T> {
        if let Some(p) = &self.pipeline {
            return (p as &dyn std::any::Any).downcast_ref::<T>();
        }
        self.custom_pipeline.as_ref()?.downcast_ref::<T>()
    }
}

/// The model registry over any [`Store`].
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    loader: ClassifierLoader,
    custom_loader: bool,
    pipeline_loaders: PipelineLoaders,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store.uri())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry over `store`, loading classifiers with [`default_classifier_loader`].
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry {
            store,
            loader: Arc::new(default_classifier_loader),
            custom_loader: false,
            pipeline_loaders: PipelineLoaders::default(),
        }
    }

    /// A registry over the store at a tracking URI, see [`open_store`](crate::open_store).
    pub fn open(uri: &str) -> Result<Self> {
        Ok(Registry::new(crate::open_store(uri)?))
    }

    /// Replaces the function that turns model bytes into a classifier.
    pub fn with_loader(mut self, loader: ClassifierLoader) -> Self {
        self.loader = loader;
        self.custom_loader = true;
        self
    }

    /// Registers the loader for feature pipelines of `kind` (the name given to
    /// [`NewVersion::custom_pipeline`]). The default kind, `FittedPipeline`, needs none.
    pub fn with_pipeline_loader(mut self, kind: impl Into<String>, loader: PipelineLoader) -> Self {
        self.pipeline_loaders.insert(kind.into(), loader);
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Creates the registered model if it does not exist (safe against concurrent creators).
    pub fn ensure_model(&self, name: &str) -> Result<RegisteredModel> {
        match self.store.get_registered_model(name) {
            Ok(m) => Ok(m),
            Err(e) if e.is_not_found() => match self.store.create_registered_model(name, &[], None)
            {
                Ok(m) => Ok(m),
                Err(e) if e.is_already_exists() => self.store.get_registered_model(name),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Registers a new version: uploads the model, pipeline, signature, lineage and extra
    /// files into the run's artifacts as an MLflow Model directory (`MLmodel` written last;
    /// see [`mlmodel`](crate::mlmodel)), records an MLflow 3 logged model for it where the
    /// store keeps them, then creates the version (next number, stage None, status READY)
    /// with lineage tags.
    ///
    /// Everything that can be checked is checked before the first write: the names, the
    /// MLflow signature (an ONNX input the signature lacks, or a type MLflow cannot express,
    /// is an [`Error::Signature`] naming the field), the input example.
    pub fn register(&self, new: NewVersion) -> Result<ModelVersion> {
        validate::model_name(&new.name)?;
        validate::artifact_path(&new.artifact_path)?;
        for (file, _) in &new.extra {
            validate::artifact_path(file)?;
            if file.contains('/') {
                return Err(Error::InvalidArtifactPath {
                    path: file.clone(),
                    reason: "extra artifacts are plain file names",
                });
            }
            let native = [MODEL_FILE, PIPELINE_FILE, SIGNATURE_FILE, LINEAGE_FILE];
            if RESERVED_FILES.contains(&file.as_str()) || native.contains(&file.as_str()) {
                return Err(Error::InvalidArtifactPath {
                    path: file.clone(),
                    reason: "that name belongs to the version's own files (MLflow Model \
                             directory)",
                });
            }
        }
        if let Some((kind, _)) = &new.custom_pipeline {
            validate::pipeline_kind(kind)?;
        }
        let run = self.store.get_run(&new.run_id)?;
        let mut lineage = new.lineage.clone();
        lineage.run_id = Some(run.info.run_id.clone());
        for (k, v) in &run.data.params {
            lineage.params.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, m) in &run.data.metrics {
            lineage.metrics.entry(k.clone()).or_insert(m.value);
        }
        let dir = &new.artifact_path;
        let model_dir = ModelDir::plan(ModelDirSpec {
            signature: new.signature.as_ref(),
            onnx: new.onnx.as_ref(),
            example: new.input_example.as_ref(),
            python: &new.python_env,
            native: NativeFiles {
                model: MODEL_FILE.into(),
                pipeline: match (&new.pipeline_json, &new.custom_pipeline) {
                    (Some(_), _) => Some(PIPELINE_FILE.into()),
                    (None, Some(_)) => Some(CUSTOM_PIPELINE_FILE.into()),
                    (None, None) => None,
                },
                signature: new.signature.as_ref().map(|_| SIGNATURE_FILE.into()),
                lineage: LINEAGE_FILE.into(),
            },
            run_id: &run.info.run_id,
            artifact_path: dir,
            run_start_ms: run.info.start_time,
        })?;
        let signature_json = new.signature.as_ref().map(Signature::to_json).transpose()?;
        let lineage_json = serde_json::to_vec_pretty(&lineage).map_err(|e| Error::Json {
            what: "lineage".into(),
            source: e,
        })?;
        // A second version from the same run must not overwrite the first one's files:
        // `models:/name/1` would silently load version 2's model.
        let model_path = format!("{dir}/{MODEL_FILE}");
        let existing = match self.store.list_artifacts(&run.info.run_id, Some(dir)) {
            Ok(files) => files,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        if existing.iter().any(|f| f.path == model_path) {
            return Err(Error::AlreadyExists {
                what: "model artifacts (give this version its own NewVersion::artifact_path)",
                name: format!("{}/{model_path}", run.info.run_id),
            });
        }
        let written = std::cell::Cell::new(0u64);
        let put = |file: &str, bytes: &[u8]| {
            written.set(written.get() + bytes.len() as u64);
            self.store
                .log_artifact(&run.info.run_id, &format!("{dir}/{file}"), bytes)
        };
        put(MODEL_FILE, &new.model)?;
        if let Some(p) = &new.pipeline_json {
            put(PIPELINE_FILE, p)?;
        }
        if let Some((_, bytes)) = &new.custom_pipeline {
            put(CUSTOM_PIPELINE_FILE, bytes)?;
        }
        if let Some(s) = &signature_json {
            put(SIGNATURE_FILE, s.as_bytes())?;
        }
        put(LINEAGE_FILE, &lineage_json)?;
        for (file, bytes) in &new.extra {
            put(file, bytes)?;
        }
        // MLflow 3's record of the model (the run page's "Logged models"), pointing at this
        // folder; PENDING until the MLmodel is written.
        let logged = match self.store.create_logged_model(&CreateLoggedModel {
            source_run_id: run.info.run_id.clone(),
            name: dir.clone(),
            artifact_path: dir.clone(),
            params: lineage.params.clone(),
            metrics: lineage.metrics.clone(),
            tags: Vec::new(),
        }) {
            Ok(m) => Some(m),
            Err(e) if e.is_unsupported() => None,
            Err(e) => return Err(e),
        };
        let model_id = logged.as_ref().map(|m| m.model_id.clone());
        let mlflow_files = (|| {
            for (file, bytes) in model_dir.files() {
                put(file, bytes)?;
            }
            // Last: a folder with an MLmodel is a complete MLflow Model.
            let mlmodel = model_dir.mlmodel(model_id.as_deref(), written.get())?;
            put(MLMODEL_FILE, mlmodel.as_bytes())
        })();
        if let Some(id) = &model_id {
            let status = if mlflow_files.is_ok() {
                LoggedModelStatus::Ready
            } else {
                LoggedModelStatus::Failed
            };
            let finalized = self.store.finalize_logged_model(id, status);
            mlflow_files?;
            finalized?;
        } else {
            mlflow_files?;
        }
        self.ensure_model(&new.name)?;
        let mut tags: BTreeMap<String, String> = lineage.to_tags();
        tags.insert(ARTIFACT_PATH_TAG.into(), dir.clone());
        if let Some((kind, _)) = &new.custom_pipeline {
            tags.insert(PIPELINE_KIND_TAG.into(), kind.clone());
        }
        tags.extend(new.tags.clone());
        let source = format!("{}/{}", run.info.artifact_uri.trim_end_matches('/'), dir);
        self.store.create_model_version(&CreateModelVersion {
            name: new.name.clone(),
            source,
            run_id: Some(run.info.run_id.clone()),
            tags: tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect(),
            description: new.description.clone(),
            model_id,
        })
    }

    /// The `MLmodel` of a version (MLflow's description of its flavors and signature), or
    /// `None` for a version registered before versions were MLflow Models.
    pub fn mlmodel(&self, name: &str, version: u64) -> Result<Option<String>> {
        match self.artifact(name, version, MLMODEL_FILE) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Error::Corrupt {
                    path: MLMODEL_FILE.into(),
                    reason: format!("the MLmodel of {name} version {version} is not UTF-8"),
                }),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// All registered models, by name.
    pub fn models(&self) -> Result<Vec<RegisteredModel>> {
        self.store.search_registered_models(10_000)
    }

    /// All versions of a model, by ascending number.
    pub fn versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.store.get_registered_model(name)?;
        self.store.search_model_versions(name)
    }

    /// One version by number.
    pub fn version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.store.get_model_version(name, version)
    }

    /// The version a reference (`models:/name/3`, `name@champion`, `models:/name/Production`,
    /// `models:/name/latest`) points to.
    pub fn resolve(&self, reference: &ModelRef) -> Result<ModelVersion> {
        match reference {
            ModelRef::Version { name, version } => self.store.get_model_version(name, *version),
            ModelRef::Alias { name, alias } => self.store.get_model_version_by_alias(name, alias),
            ModelRef::Stage { name, stage } => self
                .versions(name)?
                .into_iter()
                .filter(|v| v.current_stage == *stage)
                .max_by_key(|v| v.version)
                .ok_or_else(|| {
                    Error::not_found("model version", format!("{name} in stage {stage}"))
                }),
            ModelRef::Latest { name } => self
                .versions(name)?
                .into_iter()
                .max_by_key(|v| v.version)
                .ok_or_else(|| Error::not_found("model version", format!("{name} (no versions)"))),
        }
    }

    /// Parses a reference string and resolves it.
    pub fn resolve_str(&self, reference: &str) -> Result<ModelVersion> {
        self.resolve(&reference.parse()?)
    }

    /// Moves a version to a stage; with `archive_existing_versions` the versions already in
    /// that stage are archived. See [`transition_report`](Self::transition_report) for
    /// what happens to the `champion` and `challenger` aliases of the archived versions.
    pub fn transition(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        self.transition_report(name, version, stage, archive_existing_versions)
            .map(|t| t.version)
    }

    /// [`transition`](Self::transition), saying what it changed besides the version.
    ///
    /// An alias must not stay on a version this call archived when it names the role of
    /// the stage: moving a version to Production with `archive_existing_versions` moves
    /// `champion` from an archived version to it; moving one to Staging likewise moves
    /// `challenger`. (The aliases are [`PromotionPolicy`]'s defaults.) Other aliases of the
    /// archived versions stay where they are and are listed in
    /// [`StageTransition::stale_aliases`] (as far as the store lists a version's aliases in
    /// a search), so a caller can warn. The same logic runs on
    /// every store (local folder or MLflow server), since it is built on the `Store` calls.
    pub fn transition_report(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<StageTransition> {
        let defaults = PromotionPolicy::default();
        let role = match stage {
            Stage::Production => Some(defaults.champion_alias),
            Stage::Staging => Some(defaults.challenger_alias),
            _ => None,
        };
        let (before, holder) = if archive_existing_versions {
            // The alias holder is asked for directly: not every server lists aliases in a
            // version search.
            let holder = match &role {
                Some(alias) => match self.store.get_model_version_by_alias(name, alias) {
                    Ok(v) => Some((alias.clone(), v.version)),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            (self.store.search_model_versions(name)?, holder)
        } else {
            (Vec::new(), None)
        };
        let moved = self.store.transition_model_version_stage(
            name,
            version,
            stage,
            archive_existing_versions,
        )?;
        let mut report = StageTransition {
            version: moved,
            archived: Vec::new(),
            moved_aliases: Vec::new(),
            stale_aliases: Vec::new(),
        };
        for old in before
            .iter()
            .filter(|v| v.version != version && v.current_stage == stage)
        {
            report.archived.push(old.version);
            if let Some((alias, holder)) = &holder
                && *holder == old.version
            {
                self.set_alias(name, alias, version)?;
                report.moved_aliases.push((alias.clone(), old.version));
            }
            for alias in &old.aliases {
                if Some(alias) != role.as_ref() {
                    report.stale_aliases.push((alias.clone(), old.version));
                }
            }
        }
        if !report.moved_aliases.is_empty() {
            report.version = self.version(name, version)?;
        }
        Ok(report)
    }

    /// Points `alias` at `version` (moving it if it pointed elsewhere).
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.store.set_registered_model_alias(name, alias, version)
    }

    /// Removes an alias.
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.store.delete_registered_model_alias(name, alias)
    }

    /// Sets a version tag.
    pub fn set_tag(&self, name: &str, version: u64, key: &str, value: &str) -> Result<()> {
        self.store.set_model_version_tag(name, version, key, value)
    }

    fn artifact_location(&self, v: &ModelVersion) -> Result<(String, String)> {
        let run_id = v.run_id.clone().ok_or_else(|| Error::InvalidState {
            what: format!("{} version {}", v.name, v.version),
            reason: "the version has no source run, so its artifacts cannot be found".into(),
        })?;
        let dir = v
            .tags
            .get(ARTIFACT_PATH_TAG)
            .or_else(|| v.tags.get(LEGACY_ARTIFACT_PATH_TAG))
            .cloned()
            .unwrap_or_else(|| "model".into());
        validate::artifact_path(&dir)?;
        Ok((run_id, dir))
    }

    /// Reads one file of a version's artifact folder (e.g. `pipeline.json`).
    pub fn artifact(&self, name: &str, version: u64, file_name: &str) -> Result<Vec<u8>> {
        validate::artifact_path(file_name)?;
        let v = self.version(name, version)?;
        let (run_id, dir) = self.artifact_location(&v)?;
        self.store
            .download_artifact(&run_id, &format!("{dir}/{file_name}"))
    }

    /// Stores a file next to a registered version's model, e.g. the monitor's reference
    /// profile (`reference_profile.json`), which only exists after registration.
    pub fn attach_artifact(
        &self,
        name: &str,
        version: u64,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<()> {
        validate::artifact_path(file_name)?;
        let v = self.version(name, version)?;
        let (run_id, dir) = self.artifact_location(&v)?;
        self.store
            .log_artifact(&run_id, &format!("{dir}/{file_name}"), bytes)
    }

    /// Loads a version (by number, alias, stage or latest): the classifier, its pipeline JSON,
    /// its signature and lineage.
    pub fn load(&self, reference: &ModelRef) -> Result<LoadedModel> {
        let version = self.resolve(reference)?;
        let (run_id, dir) = self.artifact_location(&version)?;
        let get = |file: &str| {
            self.store
                .download_artifact(&run_id, &format!("{dir}/{file}"))
        };
        let optional = |file: &str| match get(file) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        };
        let bytes = get(MODEL_FILE)?;
        let classifier = (self.loader)(&bytes).map_err(|e| match e {
            ModelError::UnknownFormat { .. } if !self.custom_loader => Error::UnknownModelFormat {
                name: version.name.clone(),
                version: version.version,
                source: e,
            },
            e => Error::Model {
                name: version.name.clone(),
                version: version.version,
                source: e,
            },
        })?;
        let custom_pipeline = match version.tags.get(PIPELINE_KIND_TAG) {
            Some(kind) if kind != DEFAULT_PIPELINE_KIND => {
                Some(self.load_custom_pipeline(&version, kind, &get(CUSTOM_PIPELINE_FILE)?)?)
            }
            _ => None,
        };
        let pipeline_json = match custom_pipeline {
            Some(_) => None,
            None => optional(PIPELINE_FILE)?,
        };
        let pipeline = match &pipeline_json {
            Some(b) => {
                let pipeline_error = |source| Error::Pipeline {
                    name: version.name.clone(),
                    version: version.version,
                    source,
                };
                let text = String::from_utf8_lossy(b);
                Some(FittedPipeline::from_json(&text).map_err(pipeline_error)?)
            }
            None => None,
        };
        let signature = match optional(SIGNATURE_FILE)? {
            Some(b) => {
                let text = String::from_utf8(b).map_err(|_| Error::Corrupt {
                    path: format!("{dir}/{SIGNATURE_FILE}").into(),
                    reason: "not UTF-8".into(),
                })?;
                Some(Signature::from_json(&text)?)
            }
            None => None,
        };
        let lineage = self.lineage_at(&version, &run_id, &dir)?;
        Ok(LoadedModel {
            version,
            classifier,
            pipeline,
            pipeline_json,
            custom_pipeline,
            signature,
            lineage,
        })
    }

    /// Reads a pipeline of an application's kind with the loader registered for it.
    fn load_custom_pipeline(
        &self,
        version: &ModelVersion,
        kind: &str,
        bytes: &[u8],
    ) -> Result<CustomPipeline> {
        let loader = self
            .pipeline_loaders
            .get(kind)
            .ok_or_else(|| Error::NoPipelineLoader {
                name: version.name.clone(),
                version: version.version,
                kind: kind.to_owned(),
                known: self.pipeline_loaders.known(),
            })?;
        let value = loader(bytes).map_err(|source| Error::CustomPipeline {
            name: version.name.clone(),
            version: version.version,
            kind: kind.to_owned(),
            source,
        })?;
        Ok(CustomPipeline::new(kind, value))
    }

    /// Parses a reference string and loads it.
    pub fn load_str(&self, reference: &str) -> Result<LoadedModel> {
        self.load(&reference.parse()?)
    }

    /// Params, metrics and lineage of two versions side by side.
    pub fn compare(&self, name: &str, v1: u64, v2: u64) -> Result<Comparison> {
        let a = self.version(name, v1)?;
        let b = self.version(name, v2)?;
        let (la, lb) = (self.lineage(&a)?, self.lineage(&b)?);
        Ok(Comparison::with_lineage(&a, &la, &b, &lb))
    }

    /// A version's whole lineage: its `lineage.json` artifact, or for a version registered
    /// before the artifact held it (or without a source run), the lineage in its tags
    /// ([`Lineage::from_version`]).
    ///
    /// # Errors
    /// The store's errors, and [`Error::Corrupt`] for an artifact that does not parse.
    pub fn lineage(&self, v: &ModelVersion) -> Result<Lineage> {
        match self.artifact_location(v) {
            Ok((run_id, dir)) => self.lineage_at(v, &run_id, &dir),
            Err(Error::InvalidState { .. }) => Ok(Lineage::from_version(v)),
            Err(e) => Err(e),
        }
    }

    fn lineage_at(&self, v: &ModelVersion, run_id: &str, dir: &str) -> Result<Lineage> {
        let path = format!("{dir}/{LINEAGE_FILE}");
        let bytes = match self.store.download_artifact(run_id, &path) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(Lineage::from_version(v)),
            Err(e) => return Err(e),
        };
        let mut lineage: Lineage = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.clone().into(),
            reason: format!("the lineage of {} version {}: {e}", v.name, v.version),
        })?;
        if lineage.run_id.is_none() {
            lineage.run_id = v.run_id.clone();
        }
        Ok(lineage)
    }

    /// The value of the policy's metric for a version: its lineage, else its run.
    fn metric_of(&self, v: &ModelVersion, metric: &str) -> Result<Option<f64>> {
        if let Some(x) = self.lineage(v)?.metrics.get(metric) {
            return Ok(Some(*x));
        }
        match &v.run_id {
            Some(r) => Ok(self.store.get_run(r)?.metric(metric)),
            None => Ok(None),
        }
    }

    /// What [`promote`](Self::promote) would decide and change for `version`, changing
    /// nothing: the policy's decision on the version's metric (its lineage, else its run)
    /// against the champion's — counted only when both were evaluated on the same data
    /// fingerprint, unless the policy's `compare_across_data` is set — and the registry's
    /// rules on what the policy may move:
    ///
    /// - an Archived version is never brought back (the decision is reported with
    ///   `applied: false` and a reason);
    /// - `challenger` is never taken from a newer version (a higher number): an older
    ///   version that would be challenger is left where it is.
    ///
    /// The returned decision has `applied: false`.
    pub fn plan_promotion(
        &self,
        name: &str,
        version: u64,
        policy: &PromotionPolicy,
    ) -> Result<PromotionDecision> {
        policy.validate()?;
        let candidate = self.version(name, version)?;
        let value = self
            .metric_of(&candidate, &policy.metric)?
            .ok_or_else(|| Error::NotFound {
                what: "metric",
                name: format!(
                    "{} for {name} version {version} (the policy needs it)",
                    policy.metric
                ),
            })?;
        let champion = match self
            .store
            .get_model_version_by_alias(name, &policy.champion_alias)
        {
            Ok(c) => Some(c),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let data = DataCheck {
            candidate: Lineage::from_version(&candidate).data_fingerprint,
            champion: champion
                .as_ref()
                .and_then(|c| Lineage::from_version(c).data_fingerprint),
        };
        let champion_value = match &champion {
            Some(c) => Some((c.version, self.metric_of(c, &policy.metric)?)),
            None => None,
        };
        let mut decision = policy.decide_on(name, version, value, champion_value, Some(&data));
        decision.applied = false;
        let keep = |decision: &mut PromotionDecision, why: String| {
            decision.reasons.push(why);
            decision.stage = candidate.current_stage;
            decision.aliases.clear();
        };
        if candidate.current_stage == Stage::Archived
            && decision.outcome != PromotionOutcome::Rejected
        {
            keep(
                &mut decision,
                format!(
                    "v{version} is Archived: the policy never brings an archived version back \
                     (`obesity registry promote {name} {version} STAGE` does, by hand); nothing \
                     changes"
                ),
            );
        } else if decision.outcome == PromotionOutcome::Challenger {
            match self
                .store
                .get_model_version_by_alias(name, &policy.challenger_alias)
            {
                Ok(ch) if ch.version > version => keep(
                    &mut decision,
                    format!(
                        "the {} is v{}, newer than v{version}: the policy never takes it from a \
                         newer version; v{version} stays where it is",
                        policy.challenger_alias, ch.version
                    ),
                ),
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        } else if decision.outcome == PromotionOutcome::Rejected {
            decision.stage = candidate.current_stage;
        }
        Ok(decision)
    }

    /// Applies a promotion policy to `version`: [`plan_promotion`](Self::plan_promotion),
    /// then carries the decision out, touching only that version plus the documented
    /// displacement:
    ///
    /// - Champion: the version moves to Production (archiving the other Production
    ///   versions when the policy's `archive_existing_versions` is set), takes the champion
    ///   alias, and loses the challenger alias if it had it.
    /// - Challenger: the version moves to Staging (archiving the other Staging versions
    ///   likewise) and takes the challenger alias (never from a newer version, see
    ///   `plan_promotion`).
    /// - Rejected, or a decision the plan refuses to apply: nothing changes.
    ///
    /// Returns the decision with its reasons (`applied` says whether anything was done).
    pub fn promote(
        &self,
        name: &str,
        version: u64,
        policy: &PromotionPolicy,
    ) -> Result<PromotionDecision> {
        let mut decision = self.plan_promotion(name, version, policy)?;
        let previous_champion = decision.previous_champion;
        let apply = !decision.aliases.is_empty();
        match decision.outcome {
            PromotionOutcome::Champion if apply => {
                self.transition(
                    name,
                    version,
                    Stage::Production,
                    policy.archive_existing_versions,
                )?;
                self.set_alias(name, &policy.champion_alias, version)?;
                // A version cannot be both; drop a stale challenger alias on the new champion.
                if let Ok(ch) = self
                    .store
                    .get_model_version_by_alias(name, &policy.challenger_alias)
                    && ch.version == version
                {
                    self.delete_alias(name, &policy.challenger_alias)?;
                }
                if let Some((old, _)) = previous_champion
                    && old != version
                {
                    decision.reasons.push(format!(
                        "v{old} is no longer {}{}",
                        policy.champion_alias,
                        if policy.archive_existing_versions {
                            " (archived)"
                        } else {
                            ""
                        }
                    ));
                }
                decision.applied = true;
            }
            PromotionOutcome::Challenger if apply => {
                self.transition(
                    name,
                    version,
                    Stage::Staging,
                    policy.archive_existing_versions,
                )?;
                self.set_alias(name, &policy.challenger_alias, version)?;
                decision.applied = true;
            }
            PromotionOutcome::Rejected => decision.applied = true,
            _ => {}
        }
        Ok(decision)
    }
}

/// What [`Registry::transition_report`] changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTransition {
    /// The version moved, as it is now.
    pub version: ModelVersion,
    /// Versions archived because they were in the target stage.
    pub archived: Vec<u64>,
    /// Aliases moved to the version from an archived one: (alias, the version it was on).
    pub moved_aliases: Vec<(String, u64)>,
    /// Aliases left on a version this transition archived: (alias, version).
    pub stale_aliases: Vec<(String, u64)>,
}
