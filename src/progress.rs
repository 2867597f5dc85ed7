//! Live progress: what the events streams follow. Every request someone in this process is
//! watching is read back from the database once per tick, in one query per tenant however many
//! streams watch it, and each change goes to every stream watching that request. The database is
//! what every process shares, so a stream follows a request whichever process does its images;
//! with nobody watching, nothing runs.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    db::{self, entities::request},
    domain::ids::{RequestId, TenantId},
};

/// How often watched requests are read back: a progress bar moves four times a second.
pub const TICK: Duration = Duration::from_millis(250);

/// The requests watched in this process and the task that reads them back.
#[derive(Clone)]
pub struct Progress(Arc<Hub>);

struct Hub {
    watched: Mutex<HashMap<(TenantId, RequestId), watch::Sender<request::Model>>>,
    /// Wakes the reader when the first request is watched.
    wake: Notify,
}

impl Progress {
    /// Starts the reader, which sleeps while nothing is watched and stops at `shutdown`.
    pub fn start(db: DatabaseConnection, shutdown: CancellationToken) -> Self {
        let hub = Arc::new(Hub { watched: Mutex::new(HashMap::new()), wake: Notify::new() });
        tokio::spawn(read_back(hub.clone(), db, shutdown));
        Self(hub)
    }

    /// Follows `row` (just read, scoped to its tenant): the receiver sees each new version of
    /// it, and closes when the row is gone.
    pub fn watch(&self, row: request::Model) -> watch::Receiver<request::Model> {
        let key = (row.tenant_id.clone(), row.id);
        let mut watched = self.0.watched.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = match watched.entry(key) {
            Entry::Vacant(entry) => entry.insert(watch::channel(row).0).subscribe(),
            // Already watched: whichever version is newer is the one to go on from.
            Entry::Occupied(entry) => {
                let sender = entry.get();
                if row.updated_at > sender.borrow().updated_at {
                    sender.send_replace(row);
                    sender.subscribe()
                } else {
                    let mut receiver = sender.subscribe();
                    if *receiver.borrow() != row {
                        receiver.mark_changed();
                    }
                    receiver
                }
            }
        };
        drop(watched);
        self.0.wake.notify_one();
        receiver
    }

    /// Requests watched in this process now.
    pub fn watched(&self) -> usize {
        self.0.watched.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

async fn read_back(hub: Arc<Hub>, db: DatabaseConnection, shutdown: CancellationToken) {
    loop {
        let by_tenant = hub.tenants();
        if by_tenant.is_empty() {
            tokio::select! {
                () = hub.wake.notified() => continue,
                () = shutdown.cancelled() => return,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = shutdown.cancelled() => return,
        }
        for (tenant, ids) in by_tenant {
            match db::requests::by_ids(&db, &tenant, &ids).await {
                Ok(rows) => hub.publish(&tenant, &ids, rows),
                // The streams stay open and show the last version until the database is back.
                Err(e) => tracing::debug!(error = %e, "cannot read back watched requests"),
            }
        }
    }
}

impl Hub {
    /// The watched requests by tenant, after forgetting those no stream watches any more.
    fn tenants(&self) -> HashMap<TenantId, Vec<RequestId>> {
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched.retain(|_, sender| sender.receiver_count() > 0);
        let mut by_tenant: HashMap<TenantId, Vec<RequestId>> = HashMap::new();
        for (tenant, id) in watched.keys() {
            by_tenant.entry(tenant.clone()).or_default().push(*id);
        }
        by_tenant
    }

    /// Sends each changed row to its watchers; a request no longer found closes its watchers.
    fn publish(&self, tenant: &TenantId, ids: &[RequestId], rows: Vec<request::Model>) {
        let mut rows: HashMap<RequestId, request::Model> = rows.into_iter().map(|r| (r.id, r)).collect();
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            let key = (tenant.clone(), *id);
            match rows.remove(id) {
                Some(row) => {
                    if let Some(sender) = watched.get(&key) {
                        sender.send_if_modified(|seen| {
                            let changed = *seen != row;
                            if changed {
                                *seen = row;
                            }
                            changed
                        });
                    }
                }
                None => drop(watched.remove(&key)),
            }
        }
    }
}
