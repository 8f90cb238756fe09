//! Alerts out of the service: the recent-alert ring shown by `/monitoring/status` and the
//! dashboard, and the webhook notifier.
//!
//! The monitor thread decides what fires (`obesity_monitor::AlertManager`) and hands each
//! new alert or resolution to [`Notifier::notify`], a `try_send` on a bounded channel. One
//! plain thread owns the other end and gives every alert to every
//! `obesity_monitor::WebhookAlertHandler`, which POSTs it with its timeout, retries and
//! per-kind de-duplication. A receiver that hangs therefore holds up only that thread:
//! requests, `/feedback` and the drift checks go on, and a notifier that falls more than
//! [`NOTIFY_QUEUE`] alerts behind drops (and counts) the excess rather than grow.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use obesity_monitor::{Alert, Delivery, WebhookAlertHandler, WebhookConfig, WebhookFormat};
use serde::Serialize;

use crate::metrics::Metrics;

/// Alerts waiting for the notifier thread before new ones are dropped.
pub(crate) const NOTIFY_QUEUE: usize = 256;
/// Alerts (fired and resolved) kept for `/monitoring/status` and the dashboard.
pub(crate) const RECENT_ALERTS: usize = 100;

/// What one webhook has done so far, for `/monitoring/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct WebhookStats {
    /// Notifications the receiver accepted.
    pub(crate) sent: u64,
    /// Notifications that failed after every attempt.
    pub(crate) failed: u64,
    /// Notifications not sent because the receiver already knew (still firing at that
    /// severity, or a resolution of something it was never told).
    pub(crate) deduplicated: u64,
    /// Notifications dropped because the notifier was too far behind.
    pub(crate) dropped: u64,
    /// POSTs made, retries included.
    pub(crate) attempts: u64,
    /// When the last notification was handled.
    pub(crate) last_at: Option<DateTime<Utc>>,
    /// Why the last failure failed (the URL in it is redacted).
    pub(crate) last_error: Option<String>,
}

/// One webhook: its handler (shared, so its de-duplication outlives any one alert manager)
/// and its statistics.
pub(crate) struct Webhook {
    pub(crate) handler: WebhookAlertHandler,
    pub(crate) stats: Mutex<WebhookStats>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("config", self.handler.config())
            .finish_non_exhaustive()
    }
}

/// A webhook as `/monitoring/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WebhookView {
    pub(crate) url: String,
    pub(crate) format: WebhookFormat,
    pub(crate) timeout_ms: u128,
    pub(crate) max_attempts: u32,
    /// Kinds the receiver has been told are firing.
    pub(crate) firing: Vec<String>,
    #[serde(flatten)]
    pub(crate) stats: WebhookStats,
}

impl Webhook {
    pub(crate) fn view(&self) -> WebhookView {
        let c = self.handler.config();
        WebhookView {
            url: c.redacted_url(),
            format: c.format(),
            timeout_ms: c.timeout().as_millis(),
            max_attempts: c.max_attempts(),
            firing: self
                .handler
                .firing()
                .keys()
                .map(ToString::to_string)
                .collect(),
            stats: self
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// The sending half: cheap, never blocks.
#[derive(Debug)]
pub(crate) struct Notifier {
    tx: Option<SyncSender<Alert>>,
    pub(crate) webhooks: Arc<[Arc<Webhook>]>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Starts the notifier thread when there is a webhook; without one, `notify` does
    /// nothing.
    pub(crate) fn start(configs: &[WebhookConfig], metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let webhooks: Arc<[Arc<Webhook>]> = configs
            .iter()
            .map(|c| {
                Arc::new(Webhook {
                    handler: WebhookAlertHandler::new(c.clone()),
                    stats: Mutex::new(WebhookStats::default()),
                })
            })
            .collect();
        if webhooks.is_empty() {
            return Ok(Notifier {
                tx: None,
                webhooks,
                metrics,
            });
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(NOTIFY_QUEUE);
        let hooks = webhooks.clone();
        let m = metrics.clone();
        // Detached: it ends when the monitor thread drops the sender. Shutdown does not
        // wait for it, since a hung receiver could hold it for the webhooks' worst case.
        std::thread::Builder::new()
            .name("obesity-alerts".into())
            .spawn(move || deliver_all(&rx, &hooks, &m))?;
        Ok(Notifier {
            tx: Some(tx),
            webhooks,
            metrics,
        })
    }

    /// Queues `alert` for every webhook without waiting.
    pub(crate) fn notify(&self, alert: &Alert) {
        let Some(tx) = &self.tx else { return };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            tx.try_send(alert.clone())
        {
            tracing::warn!(kind = %alert.kind, "alert notifier is behind; notification dropped");
            for w in self.webhooks.iter() {
                w.stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .dropped += 1;
                self.metrics.alert_notification("dropped");
            }
        }
    }
}

fn deliver_all(rx: &Receiver<Alert>, hooks: &[Arc<Webhook>], metrics: &Metrics) {
    for alert in rx {
        for w in hooks {
            let result = w.handler.deliver(&alert);
            let mut stats = w.stats.lock().unwrap_or_else(PoisonError::into_inner);
            stats.last_at = Some(Utc::now());
            match result {
                Ok(Delivery::Sent { attempts }) => {
                    stats.sent += 1;
                    stats.attempts += u64::from(attempts);
                    metrics.alert_notification("sent");
                }
                Ok(_) => {
                    stats.deduplicated += 1;
                    metrics.alert_notification("deduplicated");
                }
                Err(e) => {
                    if let obesity_monitor::MonitorError::WebhookDelivery { attempts, .. } = &e {
                        stats.attempts += u64::from(*attempts);
                    }
                    stats.failed += 1;
                    stats.last_error = Some(e.to_string());
                    metrics.alert_notification("failed");
                    tracing::error!(
                        kind = %alert.kind,
                        resolved = alert.resolved,
                        error = %e,
                        "alert notification not delivered"
                    );
                }
            }
        }
    }
}

/// The most recent alerts, newest last.
#[derive(Debug, Default)]
pub(crate) struct RecentAlerts(Mutex<VecDeque<Alert>>);

impl RecentAlerts {
    pub(crate) fn push(&self, alert: Alert) {
        let mut ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() == RECENT_ALERTS {
            ring.pop_front();
        }
        ring.push_back(alert);
    }

    /// Newest first.
    pub(crate) fn newest_first(&self) -> Vec<Alert> {
        let ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ring.iter().rev().cloned().collect()
    }
}
