//! Value types of rig files that plain serde types do not cover: durations,
//! values that may be references, texts with placeholders, regexes, signals,
//! paths and programs.

mod duration;
mod path;
mod pattern;
mod port;
mod program;
mod quantity;
mod reference;
mod regex_template;
mod signal;
mod template_text;
mod text_param;

pub(crate) use duration::{MAX_DURATION, RigDuration};
pub(crate) use path::RigPath;
pub(crate) use pattern::RigRegex;
pub(crate) use port::PortParam;
pub(crate) use program::Program;
pub(crate) use quantity::{RigBitrate, RigSize};
pub(crate) use reference::{single_reference, without_references};
pub(crate) use regex_template::{RegexTemplate, RegexTemplateError};
pub(crate) use signal::StopSignal;
pub(crate) use template_text::TemplateText;
pub(crate) use text_param::TextParam;
