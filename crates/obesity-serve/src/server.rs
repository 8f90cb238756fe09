//! [`Server`]: binds the socket, serves the router, polls the aliases, and shuts down
//! gracefully.

use std::future::Future;
use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::error::{Result, ServeError};
use crate::reload;
use crate::routes::router;
use crate::state::AppState;

/// A bound, loaded service, ready to [`run`](Server::run).
///
/// # Examples
///
/// ```no_run
/// use obesity_serve::{ServeConfig, Server};
///
/// # async fn demo() -> Result<(), obesity_serve::ServeError> {
/// let config = ServeConfig {
///     model: "models:/obesity-classifier@champion".into(),
///     ..ServeConfig::new("./mlruns")
/// };
/// let server = Server::bind(config).await?;
/// println!("listening on http://{}", server.local_addr()?);
/// server.run().await // until SIGINT or SIGTERM
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
}

impl Server {
    /// Loads the configured versions ([`AppState::load`]) and binds `host:port`.
    ///
    /// # Errors
    /// Those of [`AppState::load`], and [`ServeError::Io`] when the address cannot be bound.
    pub async fn bind(config: ServeConfig) -> Result<Self> {
        let state = AppState::load(config).await?;
        Self::with_state(state).await
    }

    /// Binds `host:port` of an already loaded state.
    ///
    /// # Errors
    /// [`ServeError::Io`] when the address cannot be bound.
    pub async fn with_state(state: AppState) -> Result<Self> {
        let (host, port) = (state.config().host.clone(), state.config().port);
        let listener = TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|source| ServeError::Io {
                what: format!("binding {host}:{port}"),
                source,
            })?;
        Ok(Server { state, listener })
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The OS error, if the socket has none.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|source| ServeError::Io {
            what: "reading the bound address".into(),
            source,
        })
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT (Ctrl-C) or SIGTERM, then shuts down gracefully: see
    /// [`run_until`](Self::run_until).
    ///
    /// # Errors
    /// [`ServeError::Io`] if serving fails.
    pub async fn run(self) -> Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then stops accepting connections, lets the requests
    /// in flight finish, stops the alias poller, and flushes the prediction log and the
    /// experiment state.
    ///
    /// # Errors
    /// [`ServeError::Io`] if serving fails.
    pub async fn run_until<F>(self, signal: F) -> Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Server { state, listener } = self;
        let addr = listener.local_addr().ok();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let policy = crate::policy::spawn(
            state.clone(),
            state.config().check_interval,
            stop_rx.clone(),
        );
        let retrainer = crate::retrain::spawn(
            state.clone(),
            state.config().retrain_check_interval,
            stop_rx.clone(),
        );
        let poller = reload::spawn_poller(state.clone(), state.config().poll_interval, stop_rx);
        tracing::info!(
            address = ?addr,
            model = %state.model_name(),
            version = state.primary_version(),
            "serving"
        );
        // Responses are written whole, so Nagle's algorithm would only add delay.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, router(state.clone()))
            .with_graceful_shutdown(async move {
                signal.await;
                tracing::info!("shutting down: finishing requests in flight");
            })
            .await;
        let _ = stop_tx.send(true);
        let _ = poller.await;
        let _ = policy.await;
        // A retrain in progress is not waited for: it may take minutes.
        retrainer.abort();
        state.shutdown().await;
        tracing::info!("stopped; prediction log flushed");
        served.map_err(|source| ServeError::Io {
            what: "serving".into(),
            source,
        })
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM (what Kubernetes and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Runs the service on its own multi-threaded tokio runtime until SIGINT or SIGTERM: what
/// `obesity serve` and `cargo run --example serve` call, so neither needs tokio itself.
///
/// # Errors
/// Those of [`Server::bind`] and [`Server::run`], and [`ServeError::Io`] when the runtime
/// cannot start.
pub fn run_blocking(config: ServeConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("obesity-serve")
        .build()
        .map_err(|source| ServeError::Io {
            what: "starting the tokio runtime".into(),
            source,
        })?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        eprintln!(
            "obesity-serve: listening on http://{}",
            server.local_addr()?
        );
        server.run().await
    })
}

/// A [`Server`] on its own tokio runtime, for programs without one (examples, tests): it
/// serves from [`start`](Self::start) until [`stop`](Self::stop) (or drop), and
/// [`block_on`](Self::block_on) runs the state's async methods from plain threads.
#[derive(Debug)]
pub struct BackgroundServer {
    state: AppState,
    addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl BackgroundServer {
    /// Loads `config`, lets `setup` prepare the state (e.g.
    /// [`AppState::attach_retrainer`]), binds, and serves on a runtime of its own.
    ///
    /// # Errors
    /// Those of [`Server::bind`], of `setup`, and [`ServeError::Io`] when the runtime cannot
    /// start.
    pub fn start(config: ServeConfig, setup: impl FnOnce(&AppState) -> Result<()>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("obesity-serve")
            .build()
            .map_err(|source| ServeError::Io {
                what: "starting the tokio runtime".into(),
                source,
            })?;
        let server = runtime.block_on(async move {
            let state = AppState::load(config).await?;
            setup(&state)?;
            Server::with_state(state).await
        })?;
        let addr = server.local_addr()?;
        let state = server.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(BackgroundServer {
            state,
            addr,
            runtime,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs `future` (e.g. `state.check_retrain()`) on the server's runtime and waits for it.
    /// Not from inside an async context.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Stops gracefully (see [`Server::run_until`]) and waits for it.
    ///
    /// # Errors
    /// [`ServeError::Io`] if serving failed.
    pub fn stop(mut self) -> Result<()> {
        self.shut()
    }

    fn shut(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => self
                .runtime
                .block_on(task)
                .map_err(|e| ServeError::Task(format!("the server task failed: {e}")))?,
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let _ = self.shut();
    }
}
