//! Values drivers export, and the references and templates that consume them.

mod endpoint;
mod reference;
mod template;
mod value;
mod values;

pub use endpoint::Endpoint;
pub use reference::{Param, Ref, RefKey};
pub use template::Template;
pub use value::{Exports, FromValue, Value};
pub use values::ValueTable;
