use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use super::{FaultProxyError, Toxic};

/// A proxy's toxics, in the order they were added, each with the version of its
/// last change (a connection re-draws a toxic's toxicity when it changes).
#[derive(Debug, Default)]
pub(crate) struct ToxicSet {
    pub(crate) toxics: Vec<ToxicEntry>,
}

#[derive(Clone, Debug)]
pub(crate) struct ToxicEntry {
    pub(crate) toxic: Toxic,
    pub(crate) version: u64,
}

/// The toxics of one proxy, published to its connections: every live connection
/// watches the table and rebuilds its chains when it changes.
#[derive(Debug)]
pub(crate) struct ToxicTable {
    proxy: String,
    set: watch::Sender<Arc<ToxicSet>>,
    versions: AtomicU64,
}

impl ToxicTable {
    pub(crate) fn new(proxy: &str) -> Self {
        Self {
            proxy: proxy.to_owned(),
            set: watch::Sender::new(Arc::default()),
            versions: AtomicU64::new(1),
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<ToxicSet>> {
        self.set.subscribe()
    }

    pub(crate) fn list(&self) -> Vec<Toxic> {
        let set = self.set.borrow();
        set.toxics.iter().map(|entry| entry.toxic.clone()).collect()
    }

    pub(crate) fn get(&self, name: &str) -> Option<Toxic> {
        let set = self.set.borrow();
        set.toxics
            .iter()
            .find(|entry| entry.toxic.name() == name)
            .map(|entry| entry.toxic.clone())
    }

    pub(crate) fn add(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.insert(toxic.validated(&self.proxy)?)
    }

    /// As [`add`](Self::add), with any toxicity (Toxiproxy's API).
    pub(crate) fn add_any_toxicity(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.insert(toxic.validated_any_toxicity(&self.proxy)?)
    }

    fn insert(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.change(|toxics, version| {
            if toxics
                .iter()
                .any(|entry| entry.toxic.name() == toxic.name())
            {
                return Err(FaultProxyError::ToxicExists {
                    proxy: self.proxy.clone(),
                    toxic: toxic.name().to_owned(),
                });
            }
            toxics.push(ToxicEntry {
                toxic: toxic.clone(),
                version,
            });
            Ok(toxic.clone())
        })
    }

    /// Replaces the attributes and toxicity of the toxic of the same name; its type
    /// and stream stay what they were.
    pub(crate) fn update(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.replace(toxic.validated(&self.proxy)?)
    }

    /// As [`update`](Self::update), with any toxicity (Toxiproxy's API).
    pub(crate) fn update_any_toxicity(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.replace(toxic.validated_any_toxicity(&self.proxy)?)
    }

    fn replace(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.change(|toxics, version| {
            let entry = toxics
                .iter_mut()
                .find(|entry| entry.toxic.name() == toxic.name())
                .ok_or_else(|| self.not_found(toxic.name()))?;
            let shape = |t: &Toxic| format!("{} {}", t.stream(), t.kind().type_name());
            if shape(&entry.toxic) != shape(&toxic) {
                return Err(FaultProxyError::ToxicChanged {
                    proxy: self.proxy.clone(),
                    toxic: toxic.name().to_owned(),
                    was: shape(&entry.toxic),
                    now: shape(&toxic),
                });
            }
            *entry = ToxicEntry {
                toxic: toxic.clone(),
                version,
            };
            Ok(toxic.clone())
        })
    }

    pub(crate) fn remove(&self, name: &str) -> Result<(), FaultProxyError> {
        self.change(|toxics, _| {
            let at = toxics
                .iter()
                .position(|entry| entry.toxic.name() == name)
                .ok_or_else(|| self.not_found(name))?;
            toxics.remove(at);
            Ok(())
        })
    }

    pub(crate) fn clear(&self) {
        let _ = self.change(|toxics, _| {
            toxics.clear();
            Ok(())
        });
    }

    /// Applies `edit` to a copy of the set and publishes it if `edit` succeeds.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut Vec<ToxicEntry>, u64) -> Result<T, FaultProxyError>,
    ) -> Result<T, FaultProxyError> {
        let version = self.versions.fetch_add(1, Ordering::Relaxed);
        let mut outcome = None;
        self.set.send_if_modified(|set| {
            let mut toxics = set.toxics.clone();
            let result = edit(&mut toxics, version);
            let changed = result.is_ok();
            if changed {
                *set = Arc::new(ToxicSet { toxics });
            }
            outcome = Some(result);
            changed
        });
        outcome.expect("the edit ran")
    }

    fn not_found(&self, name: &str) -> FaultProxyError {
        FaultProxyError::ToxicNotFound {
            proxy: self.proxy.clone(),
            toxic: name.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_toxic_of_the_same_name_is_refused() {
        let table = ToxicTable::new("p");
        table.add(Toxic::latency(10, 0)).unwrap();
        let error = table.add(Toxic::latency(20, 0)).unwrap_err();
        assert!(
            matches!(error, FaultProxyError::ToxicExists { .. }),
            "{error}"
        );
        assert_eq!(table.list().len(), 1);
    }

    #[test]
    fn an_update_keeps_the_type_and_stream() {
        let table = ToxicTable::new("p");
        table.add(Toxic::latency(10, 0).named("t")).unwrap();
        table.update(Toxic::latency(50, 1).named("t")).unwrap();
        assert_eq!(table.get("t").unwrap(), Toxic::latency(50, 1).named("t"));
        assert!(table.update(Toxic::bandwidth(1).named("t")).is_err());
        assert!(
            table
                .update(Toxic::latency(1, 0).named("t").upstream())
                .is_err()
        );
        assert!(table.update(Toxic::latency(1, 0).named("nope")).is_err());
    }

    #[test]
    fn connections_see_each_change() {
        let table = ToxicTable::new("p");
        let mut seen = table.subscribe();
        table.add(Toxic::timeout(0)).unwrap();
        assert!(seen.has_changed().unwrap());
        assert_eq!(seen.borrow_and_update().toxics.len(), 1);
        table.remove("timeout_downstream").unwrap();
        assert!(seen.borrow_and_update().toxics.is_empty());
        assert!(table.remove("timeout_downstream").is_err());
    }
}
