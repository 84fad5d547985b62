use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::context::Ref;

/// A typed name for a driver of an environment: what
/// [`EnvironmentBuilder::add`](super::EnvironmentBuilder::add) hands back, so a test
/// names the driver and its type once.
///
/// [`Environment::get`](super::Environment::get) turns it into the driver,
/// [`Environment::resource`](super::Environment::resource) into its lifecycle, and
/// [`export`](Self::export) into a [`Ref`] to one of its values. Cheap to clone (the
/// name is shared).
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> testrig::Result<()> {
/// use testrig::Environment;
/// use testrig::testing::ScriptedDriver;
///
/// let mut builder = Environment::builder("typed");
/// let server = builder.add(ScriptedDriver::new("server").listen());
/// let client = builder.add(ScriptedDriver::new("client").connect_to(server.export("port")));
/// let env = builder.build()?;
/// env.run(|env| async move {
///     // `get` returns an `Arc<ScriptedDriver>`: no name or type to repeat.
///     assert_eq!(env.get(&client)?.connected_port(), env.get(&server)?.port());
///     env.resource(&server)?.restart().await?;
///     Ok::<_, testrig::Error>(())
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub struct Handle<D> {
    name: Arc<str>,
    ty: PhantomData<fn() -> D>,
}

impl<D> Handle<D> {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            ty: PhantomData,
        }
    }

    /// A reference to the value this driver exports under `key`.
    pub fn export<T>(&self, key: impl Into<String>) -> Ref<T> {
        Ref::export(&*self.name, key)
    }
}

impl<D> Clone for Handle<D> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            ty: PhantomData,
        }
    }
}

impl<D> AsRef<str> for Handle<D> {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl<D> fmt::Display for Handle<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl<D> fmt::Debug for Handle<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = std::any::type_name::<D>();
        let ty = ty.rsplit("::").next().unwrap_or(ty);
        write!(f, "Handle<{ty}>({:?})", &*self.name)
    }
}

/// What names a driver of type `D` for [`Environment::get`](super::Environment::get):
/// its [`Handle`], or its name as a string (then the caller names the type,
/// `env.get::<TcpServer>("server")`).
pub trait DriverName<D>: AsRef<str> {}

impl<D> DriverName<D> for Handle<D> {}
impl<D> DriverName<D> for str {}
impl<D> DriverName<D> for String {}
impl<D, N: DriverName<D> + ?Sized> DriverName<D> for &N {}
