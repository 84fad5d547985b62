use serde::Deserialize;
use testrig::network::Netem;

use crate::rig::fields::RigDuration;

/// `netem = { delay = "10ms", jitter = "2ms", loss = 0.5, reorder = 1, duplicate = 1 }`:
/// [`Netem`]'s fields, durations as everywhere in a rig, percentages as numbers. An
/// empty table is no emulation. The network checks the percentages (0 to 100, a
/// reorder needs a delay).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetemOptions {
    delay: Option<RigDuration>,
    jitter: Option<RigDuration>,
    loss: Option<f64>,
    reorder: Option<f64>,
    duplicate: Option<f64>,
}

impl NetemOptions {
    pub(crate) fn netem(&self) -> Netem {
        let mut netem = Netem::new();
        if let Some(delay) = self.delay {
            netem = netem.delay(delay.0);
        }
        if let Some(jitter) = self.jitter {
            netem = netem.jitter(jitter.0);
        }
        if let Some(loss) = self.loss {
            netem = netem.loss(loss);
        }
        if let Some(reorder) = self.reorder {
            netem = netem.reorder(reorder);
        }
        if let Some(duplicate) = self.duplicate {
            netem = netem.duplicate(duplicate);
        }
        netem
    }

    /// Whether it sets nothing (`netem = {}`).
    pub(crate) fn is_empty(&self) -> bool {
        self.netem() == Netem::new()
    }
}
