use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Driver;
use crate::error::BoxError;

type HookFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// An async closure run at a point of a driver's lifecycle.
///
/// Built from any `Fn(Arc<dyn Driver>) -> impl Future<Output = Result<(), E>>`:
/// the hook gets the driver it runs for.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn Fn(Arc<dyn Driver>) -> HookFuture + Send + Sync>);

impl Hook {
    /// Wraps an async closure.
    pub(crate) fn new<F, Fut, E>(f: F) -> Self
    where
        F: Fn(Arc<dyn Driver>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Hook(Arc::new(move |ctx| {
            let fut = f(ctx);
            Box::pin(async move { fut.await.map_err(Into::into) })
        }))
    }

    pub(crate) fn call(&self, driver: Arc<dyn Driver>) -> HookFuture {
        (self.0)(driver)
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook")
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
