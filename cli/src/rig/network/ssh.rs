//! The rig's SSH hosts: `[[host]]` tables with `ssh = "user@address"`, turned into
//! [`SshBuilder`]s the environment connects at start (nothing connects before).

use testrig::Host;
use testrig::host::ssh::{SshBuilder, SshError};

use super::sections::SSH_ONLY_KEYS;
use crate::rig::{Rig, RigError};

impl Rig {
    /// The rig's SSH hosts, each checked (its name, port, `via`, and what
    /// [`SshBuilder::validate`] refuses) with errors at the key and value at fault; and an
    /// SSH-only key on a host without `ssh` refused.
    pub(crate) fn ssh_hosts(&self) -> Result<Vec<SshBuilder>, RigError> {
        let decl = &self.network;
        let emulated = decl.host_names();
        let mut builders = Vec::new();
        for (index, (host, spans)) in decl.hosts.iter().enumerate() {
            let name = host.name.get_ref();
            let Some(destination) = &host.ssh else {
                if let Some(key) = SSH_ONLY_KEYS
                    .iter()
                    .find(|key| spans.keys().any(|(k, _)| k == *key))
                {
                    return Err(self.error_in(
                        spans,
                        spans.key(key),
                        format!(
                            "`{key}` is a key of an SSH host; add `ssh = \"user@address\"` to make `{name}` one (without it, `{name}` is a host of the emulated network)"
                        ),
                    ));
                }
                continue;
            };
            if let Some(driver) = self.driver(name, 0) {
                let line = self.source.locate(driver.name.span()).line;
                return Err(self.error_in(
                    spans,
                    host.name.span(),
                    format!(
                        "a driver (line {line}) has this name too; `${{{name}.address}}` could not tell them apart"
                    ),
                ));
            }
            // Another host of this name, before or after it: the error points at the second.
            if let Some(other) = decl
                .hosts
                .iter()
                .enumerate()
                .position(|(i, (other, _))| i != index && other.name.get_ref() == name)
            {
                let (first, (second, second_spans)) = if other < index {
                    (&decl.hosts[other].0, (host, spans))
                } else {
                    (host, (&decl.hosts[other].0, &decl.hosts[other].1))
                };
                let line = self.source.locate(first.name.span()).line;
                return Err(self.error_in(
                    second_spans,
                    second.name.span(),
                    format!("`{name}`: declared twice (the first on line {line})"),
                ));
            }
            let mut builder = Host::ssh(destination.get_ref()).name(name);
            if let Some(port) = &host.port {
                let value = *port.get_ref();
                let port_number = u16::try_from(value).ok().filter(|&port| port > 0);
                let Some(port_number) = port_number else {
                    return Err(self.error_in(
                        spans,
                        port.span(),
                        format!("{value} is not a port sshd can listen on (1 to 65535)"),
                    ));
                };
                builder = builder.port(port_number);
            }
            if let Some(identity) = &host.identity {
                builder = builder.identity(identity.get_ref().resolve(&self.dir));
            }
            if let Some(known_hosts) = &host.known_hosts {
                builder = builder.known_hosts(known_hosts.get_ref().resolve(&self.dir));
            }
            if let Some(host_keys) = &host.host_keys {
                builder = builder.host_keys(host_keys.get_ref().host_keys());
            }
            if let Some(keep) = &host.keep_runpath {
                builder = builder.keep_runpath(*keep.get_ref());
            }
            if let Some(timeout) = &host.connect_timeout {
                builder = builder.connect_timeout(timeout.get_ref().0);
            }
            for option in host
                .ssh_options
                .iter()
                .flat_map(|options| options.get_ref())
            {
                builder = builder.option(option);
            }
            if let Some(via) = &host.via {
                if !emulated.contains(&via.get_ref().as_str()) {
                    let known = if emulated.is_empty() {
                        "the rig declares no emulated network hosts".to_owned()
                    } else {
                        format!("the network's hosts: {}", emulated.join(", "))
                    };
                    return Err(self.error_in(
                        spans,
                        via.span(),
                        format!(
                            "via `{}`: no host of the emulated network has that name ({known})",
                            via.get_ref()
                        ),
                    ));
                }
                builder = builder.via_host(via.get_ref());
            }
            if let Err(error) = builder.validate() {
                return Err(match error {
                    SshError::Invalid {
                        field,
                        value,
                        reason,
                        ..
                    } => {
                        let key = match field {
                            "destination" => "ssh",
                            "option" => "ssh_options",
                            field => field,
                        };
                        self.error_in(
                            spans,
                            spans.key(key),
                            format!("`{value}` is not valid: {reason}"),
                        )
                    }
                    other => self.error_in(spans, spans.table.clone(), other.to_string()),
                });
            }
            builders.push(builder);
        }
        Ok(builders)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::rig::{Rig, Source};

    fn rig(text: &str) -> Rig {
        Rig::parse(Source::new(Path::new("r.toml"), text.to_owned())).unwrap()
    }

    #[test]
    fn an_ssh_host_is_read_with_its_options_and_is_no_emulated_network() {
        let rig = rig(
            "[rig]\nname = 'r'\n[[host]]\nname = 'lab'\nssh = 'tester@192.0.2.10'\nport = 2222\n\
             host_keys = 'accept-new'\nkeep_runpath = true\nconnect_timeout = '3s'\n",
        );
        assert!(rig.build_network().unwrap().is_none());
        let hosts = rig.ssh_hosts().unwrap();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].host_name(), "lab");
        assert_eq!(hosts[0].destination(), "tester@192.0.2.10");
        assert!(hosts[0].keeps_runpath());
    }

    #[test]
    fn a_host_named_twice_is_refused_at_the_second_whichever_kind_comes_first() {
        for hosts in [
            "[[host]]\nname = 'lab'\nssh = 'a@b'\n[[host]]\nname = 'lab'\n",
            "[[host]]\nname = 'lab'\n[[host]]\nname = 'lab'\nssh = 'a@b'\n",
        ] {
            let error = rig(&format!("[rig]\nname = 'r'\n{hosts}"))
                .environment(None)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(
                    ":8: host `lab`, key `name`: `lab`: declared twice (the first on line 4)"
                ),
                "{error}"
            );
        }
    }

    #[test]
    fn an_ssh_host_may_connect_via_a_host_of_the_rigs_network() {
        let rig = rig(
            "[rig]\nname = 'r'\n[[host]]\nname = 'gw'\n[[host]]\nname = 'lab'\nssh = 'a@b'\nvia = 'gw'\n\
             [[driver]]\nname = 'web'\nkind = 'app'\non = 'lab'\nbinary = 'true'\n",
        );
        let hosts = rig.ssh_hosts().unwrap();
        assert_eq!(hosts[0].via_host_name(), Some("gw"));
        rig.environment(None).unwrap();
    }

    #[test]
    fn bad_ssh_values_are_refused_at_their_place() {
        let refused = |text: &str| {
            rig(&format!(
                "[rig]\nname = 'r'\n[[host]]\nname = 'lab'\n{text}"
            ))
            .ssh_hosts()
            .unwrap_err()
            .to_string()
        };
        let error = refused("ssh = 'a@b'\nport = 0\n");
        assert!(
            error.starts_with("r.toml:6:8: host `lab`, key `port`: 0 is not a port"),
            "{error}"
        );
        let error = refused("ssh = '-oProxyCommand=x'\n");
        assert!(
            error.starts_with("r.toml:5:7: host `lab`, key `ssh`: `-oProxyCommand=x` is not valid"),
            "{error}"
        );
        let error = refused("port = 22\n");
        assert!(
            error.contains("`port` is a key of an SSH host; add `ssh = \"user@address\"`"),
            "{error}"
        );
        let error = refused("ssh = 'a@b'\nvia = 'gw'\n");
        assert!(
            error.contains("via `gw`: no host of the emulated network has that name"),
            "{error}"
        );
    }
}
