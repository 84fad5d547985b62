//! Value types of rig files that plain serde types do not cover: durations,
//! values that may be references, texts with placeholders.

mod duration;
mod port;
mod quantity;
mod reference;
mod template_text;
mod text_param;

pub(crate) use duration::RigDuration;
pub(crate) use port::PortParam;
pub(crate) use quantity::{RigBitrate, RigSize};
pub(crate) use reference::single_reference;
pub(crate) use template_text::TemplateText;
pub(crate) use text_param::TextParam;
