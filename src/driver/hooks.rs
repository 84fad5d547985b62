use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Driver;
use crate::error::BoxError;

type HookFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// An async closure run at a point of a driver's lifecycle.
///
/// Built from any `Fn(HookContext) -> impl Future<Output = Result<(), E>>`.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn Fn(HookContext) -> HookFuture + Send + Sync>);

impl Hook {
    /// Wraps an async closure.
    pub(crate) fn new<F, Fut, E>(f: F) -> Self
    where
        F: Fn(HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Hook(Arc::new(move |ctx| {
            let fut = f(ctx);
            Box::pin(async move { fut.await.map_err(Into::into) })
        }))
    }

    pub(crate) fn call(&self, ctx: HookContext) -> HookFuture {
        (self.0)(ctx)
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook")
    }
}

/// What a hook receives: the driver it runs for.
#[derive(Clone)]
pub struct HookContext {
    driver: Arc<dyn Driver>,
}

impl HookContext {
    pub(crate) fn new(driver: Arc<dyn Driver>) -> Self {
        Self { driver }
    }

    /// The driver's name.
    pub fn name(&self) -> &str {
        self.driver.name()
    }

    /// The driver as its concrete type, if it is a `T`.
    pub fn driver<T: Driver>(&self) -> Option<Arc<T>> {
        let any: Arc<dyn std::any::Any + Send + Sync> = self.driver.clone();
        any.downcast::<T>().ok()
    }
}

impl fmt::Debug for HookContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookContext")
            .field("driver", &self.driver.name())
            .finish()
    }
}

/// The hooks of one driver.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hooks {
    pub(crate) pre_start: Option<Hook>,
    pub(crate) post_start: Option<Hook>,
    pub(crate) pre_stop: Option<Hook>,
    pub(crate) post_stop: Option<Hook>,
}
