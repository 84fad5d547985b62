use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use testrig::Environment;

use super::super::FaultProxy;
use super::super::link::lock;
use super::super::slot::ProxySlot;

/// The proxies a [`ToxiproxyApi`](super::ToxiproxyApi) serves, by name: the
/// [`FaultProxy`] drivers given to it, and those created through the API
/// (`POST /proxies`, `POST /populate`), which the API stops when it is deleted or
/// stopped itself.
///
/// Cloning it shares it.
///
/// # Examples
/// ```no_run
/// # async fn demo(env: &testrig::Environment) -> Result<(), Box<dyn std::error::Error>> {
/// use testrig_drivers::fault_proxy::{ProxyRegistry, ToxiproxyApi};
///
/// // Every `FaultProxy` of the environment, by its name.
/// let api = ToxiproxyApi::serve("127.0.0.1:8474".parse()?, ProxyRegistry::of_environment(env)).await?;
/// // … a Toxiproxy client pointed at http://127.0.0.1:8474 drives them …
/// api.stop().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProxyRegistry {
    members: Arc<Mutex<BTreeMap<String, Member>>>,
    /// Serializes the API's creations and deletions (Toxiproxy holds its
    /// collection's lock across a proxy's start), so two creations of one name
    /// cannot both succeed.
    changes: Arc<tokio::sync::Mutex<()>>,
}

/// One proxy in the registry.
#[derive(Clone, Debug)]
pub(super) struct Member {
    pub(super) slot: Arc<ProxySlot>,
    pub(super) origin: Origin,
}

/// Who made a proxy, and so who stops it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// A driver: the environment starts and stops it; the API only drives it.
    Driver,
    /// The API: it stops it on delete and when it stops.
    Api,
}

impl ProxyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every [`FaultProxy`] driver of `env`, by its name.
    pub fn of_environment(env: &Environment) -> Self {
        let registry = Self::new();
        for resource in env.resources() {
            if let Some(proxy) = resource.driver().downcast::<FaultProxy>() {
                registry.add(&proxy);
            }
        }
        registry
    }

    /// With `proxy`, by its name.
    #[must_use]
    pub fn with(self, proxy: &FaultProxy) -> Self {
        self.add(proxy);
        self
    }

    /// Adds `proxy` by its name (replacing any of that name). The API sees it as the
    /// driver stands: started or not, its toxics, its address.
    pub fn add(&self, proxy: &FaultProxy) {
        self.insert(Member {
            slot: Arc::clone(proxy.slot()),
            origin: Origin::Driver,
        });
    }

    /// The names of the proxies, sorted.
    pub fn names(&self) -> Vec<String> {
        lock(&self.members).keys().cloned().collect()
    }

    pub(super) fn get(&self, name: &str) -> Option<Member> {
        lock(&self.members).get(name).cloned()
    }

    /// Every proxy, by name.
    pub(super) fn all(&self) -> Vec<Member> {
        lock(&self.members).values().cloned().collect()
    }

    /// Adds `member`, returning the one it replaced.
    pub(super) fn insert(&self, member: Member) -> Option<Member> {
        let name = member.slot.name().to_owned();
        lock(&self.members).insert(name, member)
    }

    pub(super) fn remove(&self, name: &str) -> Option<Member> {
        lock(&self.members).remove(name)
    }

    /// Takes out the proxies the API created.
    pub(super) fn take_created(&self) -> Vec<Member> {
        let mut members = lock(&self.members);
        let created: Vec<String> = members
            .iter()
            .filter(|(_, member)| member.origin == Origin::Api)
            .map(|(name, _)| name.clone())
            .collect();
        created
            .iter()
            .filter_map(|name| members.remove(name))
            .collect()
    }

    pub(super) async fn lock_changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }
}
