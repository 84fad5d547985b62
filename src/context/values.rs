use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{Exports, FromValue, RefKey, Value};
use crate::error::Error;

/// The exported values of every started driver of one environment.
///
/// Cheap to clone (shared). Written when a driver starts, read when a driver that
/// references it starts.
#[derive(Clone, Debug, Default)]
pub struct ValueTable {
    inner: Arc<RwLock<HashMap<String, Exports>>>,
}

impl ValueTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the exports of `driver`.
    pub fn publish(&self, driver: &str, exports: Exports) {
        self.write().insert(driver.to_owned(), exports);
    }

    /// The raw value at `key`.
    pub(crate) fn get(&self, key: &RefKey) -> Result<Value, Error> {
        let table = self.read();
        let exports = table.get(&key.driver).ok_or_else(|| Error::NotStarted {
            reference: key.clone(),
        })?;
        exports
            .get(&key.key)
            .cloned()
            .ok_or_else(|| Error::MissingValue {
                reference: key.clone(),
                available: exports.keys().cloned().collect(),
            })
    }

    /// The value at `key`, converted to `T`.
    pub fn resolve<T: FromValue>(&self, key: &RefKey) -> Result<T, Error> {
        let value = self.get(key)?;
        T::from_value(&value).map_err(|reason| Error::WrongValueType {
            reference: key.clone(),
            value,
            reason,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Exports>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Exports>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}
