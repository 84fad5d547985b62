use std::ops::Range;

use testrig::network::{InvalidDeclaration, Link, Network, NetworkError, Switch};

use super::{LinkSection, NetworkDecl, SwitchSection};
use crate::rig::{Rig, RigError, TableSpans};

impl Rig {
    /// The rig's network, built with the Rust builder (nothing is created before
    /// the environment starts), or `None` when it declares none. Every refusal
    /// of the builder ([`InvalidDeclaration`]) is reported at the key and the
    /// value of the section that causes it.
    pub(crate) fn build_network(&self) -> Result<Option<Network>, RigError> {
        let decl = &self.network;
        if !decl.is_declared() {
            return Ok(None);
        }
        let name = decl
            .header
            .as_ref()
            .and_then(|(header, _)| header.name.as_ref())
            .map_or(self.name.as_str(), |name| name.get_ref().as_str());
        let mut builder = Network::builder(name);
        if let Some(timeout) = decl.header.as_ref().and_then(|(header, _)| header.timeout) {
            builder = builder.timeout(timeout.0);
        }
        for (host, spans) in decl.emulated_hosts() {
            if let Some(driver) = self.driver(host.name.get_ref(), 0) {
                let line = self.source.locate(driver.name.span()).line;
                return Err(self.error_in(
                    spans,
                    host.name.span(),
                    format!(
                        "a driver (line {line}) has this name too; `${{{}.address}}` could not tell them apart",
                        host.name.get_ref()
                    ),
                ));
            }
            builder = builder.host(host.name.get_ref());
        }
        for (link, spans) in &decl.links {
            builder = builder.link(self.link(link, spans)?);
        }
        for (switch, _) in &decl.switches {
            builder = builder.switch(switch_of(switch));
        }
        builder.build().map(Some).map_err(|error| match error {
            NetworkError::Invalid(invalid) => self.locate_declaration(decl, &invalid),
            other => self.error_at(0..0, "", other.to_string()),
        })
    }

    fn link(&self, section: &LinkSection, spans: &TableSpans) -> Result<Link, RigError> {
        let between = section.between.get_ref();
        let [a, b] = match &between[..] {
            [a, b] => [a.get_ref(), b.get_ref()],
            _ => {
                return Err(self.error_in(
                    spans,
                    section.between.span(),
                    format!(
                        "a link joins two hosts: `between = [\"a\", \"b\"]`, not {}",
                        between.len()
                    ),
                ));
            }
        };
        let mut link = Link::new(a, b);
        for subnet in section.subnet.values() {
            link = link.subnet(subnet);
        }
        for (host, addresses) in &section.addresses {
            for address in addresses.values() {
                link = link.address(host, address);
            }
        }
        if let Some(rate) = &section.rate {
            link = link.rate(rate);
        }
        for (host, rate) in &section.rate_from {
            link = link.rate_from(host, rate);
        }
        if let Some(netem) = &section.netem {
            link = link.netem(netem.netem());
        }
        for (host, netem) in &section.netem_from {
            link = link.netem_from(host, netem.netem());
        }
        if let Some(shaper) = section.shaper {
            link = link.shaper(shaper.shaper());
        }
        Ok(link)
    }

    /// The builder's refusal, at the section, key and value it is about.
    fn locate_declaration(&self, decl: &NetworkDecl, invalid: &InvalidDeclaration) -> RigError {
        let name = invalid.name.as_str();
        let spans = match invalid.what {
            "host" => decl
                .emulated_hosts()
                .rev()
                .find(|(host, _)| host.name.get_ref() == name)
                .map(|(_, spans)| spans),
            "link" => decl
                .links
                .iter()
                .find(|(link, _)| link.ends().join("-") == name)
                .map(|(_, spans)| spans),
            "switch" => decl
                .switches
                .iter()
                .rev()
                .find(|(switch, _)| switch.name.get_ref() == name)
                .map(|(_, spans)| spans),
            _ => decl.header.as_ref().map(|(_, spans)| spans),
        };
        let named = format!("`{}`", invalid.value);
        let message = if invalid.value.is_empty() || invalid.problem.starts_with(&named) {
            invalid.problem.clone()
        } else {
            format!("`{}`: {}", invalid.value, invalid.problem)
        };
        match spans {
            Some(spans) => {
                let span = self.field_span(spans, invalid.field, &invalid.value);
                self.error_in(spans, span, message)
            }
            None => self.error_at(0..0, "", invalid.to_string()),
        }
    }

    /// Where the builder's `field` (`b`, `subnet`, `netem.loss`…) with `value` is
    /// in the section: the value itself where the text shows it, else the key,
    /// else the section's header.
    fn field_span(&self, spans: &TableSpans, field: &str, value: &str) -> Range<usize> {
        let keys: &[&str] = match field {
            "a" | "b" => &["between"],
            "address" => &["addresses"],
            "netem_from" => &["netem_from"],
            netem if netem.starts_with("netem.") => &["netem", "netem_from"],
            other => &[other.split('.').next().unwrap_or(other)],
        };
        let last = field.rsplit('.').next().unwrap_or(field);
        let text = self.source.text();
        let mut candidates: Vec<Range<usize>> = spans
            .keys()
            .filter(|(key, _)| {
                let top = key.split('.').next().unwrap_or(key);
                keys.contains(&top)
                    && (!field.starts_with("netem.") || key.rsplit('.').next() == Some(last))
            })
            .map(|(_, span)| span.clone())
            .collect();
        candidates.sort_by_key(|span| span.len());
        // The value as a string of its own (`"c"`, not the `c` of `"abc"`), else as
        // written (a number, a key).
        let forms = [
            format!("\"{value}\""),
            format!("'{value}'"),
            value.to_owned(),
        ];
        let within = |span: &Range<usize>| {
            let written = text.get(span.clone())?;
            forms.iter().find_map(|form| {
                let found = written.find(form.as_str())?;
                Some(span.start + found..span.start + found + form.len())
            })
        };
        if !value.is_empty()
            && let Some(span) = candidates.iter().find_map(within)
        {
            return span;
        }
        candidates
            .into_iter()
            .next()
            .unwrap_or_else(|| spans.table.clone())
    }
}

fn switch_of(section: &SwitchSection) -> Switch {
    let mut switch = Switch::new(section.name.get_ref())
        .hosts(section.hosts.iter().map(|host| host.get_ref().clone()));
    for subnet in section.subnet.values() {
        switch = switch.subnet(subnet);
    }
    for (host, addresses) in &section.addresses {
        for address in addresses.values() {
            switch = switch.address(host, address);
        }
    }
    if let Some(rate) = &section.rate {
        switch = switch.rate(rate);
    }
    if let Some(netem) = &section.netem {
        switch = switch.netem(netem.netem());
    }
    if let Some(shaper) = section.shaper {
        switch = switch.shaper(shaper.shaper());
    }
    switch
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rig::Source;

    fn rig(text: &str) -> Rig {
        Rig::parse(Source::new(Path::new("r.toml"), text.to_owned())).unwrap()
    }

    const HOSTS: &str = "[rig]\nname = 'r'\n[[host]]\nname = 'a'\n[[host]]\nname = 'b'\n";

    #[test]
    fn a_rig_without_network_sections_has_no_network() {
        assert!(
            rig("[rig]\nname = 'r'\n")
                .build_network()
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_network_is_named_after_the_rig_unless_told() {
        let plain = rig(&format!("{HOSTS}[[link]]\nbetween = ['a', 'b']\n"));
        assert_eq!(plain.build_network().unwrap().unwrap().name(), "r");
        let named = rig(&format!("{HOSTS}[network]\nname = 'lab'\ntimeout = '3s'\n"));
        assert_eq!(named.build_network().unwrap().unwrap().name(), "lab");
    }

    #[test]
    fn a_refusal_in_a_directions_netem_points_at_that_direction() {
        let text = format!(
            "{HOSTS}[[link]]\nbetween = ['a', 'b']\nnetem = {{ loss = 1 }}\nnetem_from = {{ b = {{ delay = '1ms', duplicate = 300 }} }}\n"
        );
        let error = rig(&text).build_network().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("r.toml:10:49: link `a-b`, key `netem_from.b.duplicate`: `300`: "),
            "{error}"
        );
    }

    #[test]
    fn a_host_declared_twice_is_refused_at_the_second() {
        let error = rig(&format!("{HOSTS}[[host]]\nname = 'a'\n"))
            .build_network()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("r.toml:8:8: host `a`, key `name`: `a`: declared twice"),
            "{error}"
        );
    }
}
