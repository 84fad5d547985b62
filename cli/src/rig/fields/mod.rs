//! Value types of rig files that plain serde types do not cover: durations,
//! values that may be references, texts with placeholders, regexes, signals.

mod duration;
mod pattern;
mod port;
mod quantity;
mod reference;
mod signal;
mod template_text;
mod text_param;

pub(crate) use duration::RigDuration;
pub(crate) use pattern::RigRegex;
pub(crate) use port::PortParam;
pub(crate) use quantity::{RigBitrate, RigSize};
pub(crate) use reference::single_reference;
pub(crate) use signal::StopSignal;
pub(crate) use template_text::TemplateText;
pub(crate) use text_param::TextParam;
