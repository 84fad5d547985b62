//! The table each family of kinds (drivers, steps) is read from.
//!
//! A family is a trait its kinds' options implement and one table of
//! [`Kind`]s; a table read from the rig file becomes a [`Declared`] of that
//! family, which knows its kind and dispatches through the trait. The names in
//! the table are the only place a kind's name is written.

use std::fmt;
use std::ops::Deref;

use toml::de::ValueDeserializer;

/// One kind of a family: the name a rig writes in `kind = "..."` and how a
/// table of that kind is read into the family's trait object `T`.
pub(crate) struct Kind<T: ?Sized> {
    /// As written in the rig file.
    pub(crate) name: &'static str,
    /// Reads the kind's own keys (the table without the keys every member of
    /// the family has).
    read: fn(ValueDeserializer<'_>) -> Result<Box<T>, toml::de::Error>,
}

impl<T: ?Sized> Kind<T> {
    pub(crate) const fn new(
        name: &'static str,
        read: fn(ValueDeserializer<'_>) -> Result<Box<T>, toml::de::Error>,
    ) -> Self {
        Self { name, read }
    }

    /// Reads a table of this kind.
    pub(crate) fn read(
        &self,
        table: ValueDeserializer<'_>,
    ) -> Result<Declared<T>, toml::de::Error> {
        let options = (self.read)(table)?;
        Ok(Declared {
            kind: self.name,
            options,
        })
    }
}

impl<T: ?Sized> fmt::Debug for Kind<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kind").field("name", &self.name).finish()
    }
}

/// A `[[driver]]` or `[[step]]` as read: its kind and that kind's options,
/// which the family's trait (reached through `Deref`) dispatches on.
#[derive(Debug)]
pub(crate) struct Declared<T: ?Sized> {
    kind: &'static str,
    options: Box<T>,
}

impl<T: ?Sized> Declared<T> {
    /// The kind, as written in the rig file.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }
}

impl<T: ?Sized> Deref for Declared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.options
    }
}
