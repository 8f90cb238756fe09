#[path = "it/mlflow_client.rs"]
mod mlflow_client;
#[path = "it/mlflow_server.rs"]
mod mlflow_server;
#[path = "it/mlflow_interop.rs"]
mod mlflow_interop;
mod conformance { pub(crate) fn run_all(_: &dyn obesity_registry::Store) {} }
