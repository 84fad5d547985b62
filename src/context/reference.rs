use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// The untyped address of an exported value: `driver.key`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RefKey {
    /// The driver that exports the value.
    pub driver: String,
    /// The key it exports the value under.
    pub key: String,
}

impl fmt::Display for RefKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.driver, self.key)
    }
}

/// A typed reference to a value another driver exports, e.g. the port of `server`.
///
/// A driver that holds a reference depends on the referenced driver: the
/// environment starts that one first and checks at build time that it declares
/// the key.
///
/// # Examples
/// ```
/// use testrig::Ref;
/// let port: Ref<u16> = Ref::export("server", "port");
/// assert_eq!(port.key().to_string(), "server.port");
/// ```
pub struct Ref<T> {
    key: RefKey,
    ty: PhantomData<fn() -> T>,
}

impl<T> Ref<T> {
    /// The value `key` exported by `driver`.
    pub fn export(driver: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            key: RefKey {
                driver: driver.into(),
                key: key.into(),
            },
            ty: PhantomData,
        }
    }

    /// The untyped address of the value.
    pub fn key(&self) -> &RefKey {
        &self.key
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            ty: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.key)
    }
}

/// A driver setting that is either known now or a reference resolved at start.
///
/// # Examples
/// ```
/// use testrig::{Param, Ref};
/// let fixed: Param<u16> = 8080.into();
/// let wired: Param<u16> = Ref::export("server", "port").into();
/// assert!(fixed.reference().is_none());
/// assert_eq!(wired.reference().unwrap().to_string(), "server.port");
///
/// // What a driver holding both returns from `Driver::references`:
/// let references = [fixed.references(), wired.references()].concat();
/// assert_eq!(references, [wired.reference().unwrap().clone()]);
/// ```
#[derive(Clone, Debug)]
pub enum Param<T> {
    /// A literal value.
    Value(T),
    /// A value another driver exports, resolved when this driver starts.
    Ref(Ref<T>),
}

impl<T> Param<T> {
    /// The reference, when this parameter is one.
    pub fn reference(&self) -> Option<&RefKey> {
        match self {
            Param::Value(_) => None,
            Param::Ref(r) => Some(r.key()),
        }
    }

    /// The references this parameter makes: none for a literal, one for a reference. A driver's
    /// [`Driver::references`](crate::Driver::references) concatenates those of its parameters
    /// (`[self.host.references(), self.port.references()].concat()`), as it would a
    /// [`Template`](crate::Template)'s.
    pub fn references(&self) -> Vec<RefKey> {
        self.reference().into_iter().cloned().collect()
    }
}

impl<T> From<T> for Param<T> {
    fn from(value: T) -> Self {
        Param::Value(value)
    }
}

impl<T> From<Ref<T>> for Param<T> {
    fn from(reference: Ref<T>) -> Self {
        Param::Ref(reference)
    }
}

impl From<&str> for Param<String> {
    fn from(value: &str) -> Self {
        Param::Value(value.to_owned())
    }
}
