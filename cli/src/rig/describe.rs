use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Names what a span of the file belongs to, for error messages:
/// "driver `client`, key `reconnect.max`", "step 2 `ping`", "\[rig\]".
///
/// Empty when the span is not inside any table (a top-level key, a syntax error).
pub(crate) fn describe(root: &DeTable<'_>, span: &Range<usize>) -> String {
    for (key, value) in root {
        let name = key.get_ref().as_ref();
        match value.get_ref() {
            DeValue::Array(items)
                if ["driver", "step", "host", "link", "switch"].contains(&name) =>
            {
                for (index, item) in items.iter().enumerate() {
                    let DeValue::Table(table) = item.get_ref() else {
                        continue;
                    };
                    if item.span() == *span || contains(table, span) {
                        let owner = owner(name, index, table);
                        return match key_path(table, span) {
                            Some(path) => format!("{owner}, key `{path}`"),
                            None => owner,
                        };
                    }
                }
            }
            DeValue::Table(table) if value.span() == *span || contains(table, span) => {
                return match key_path(table, span) {
                    Some(path) => format!("[{name}], key `{path}`"),
                    None => format!("[{name}]"),
                };
            }
            _ => {}
        }
    }
    String::new()
}

/// "driver `client`" when the table has a usable name, else "driver #2";
/// "step 3 `ping`" or "step 3"; hosts and switches as drivers; "link `a-b`"
/// by its two hosts, else "link #1".
pub(crate) fn owner(section: &str, index: usize, table: &DeTable<'_>) -> String {
    let name = table
        .iter()
        .find(|(k, _)| k.get_ref() == "name")
        .and_then(|(_, v)| v.get_ref().as_str());
    match (section, name) {
        ("link", _) => match link_ends(table) {
            Some((a, b)) => format!("link `{a}-{b}`"),
            None => format!("link #{}", index + 1),
        },
        ("driver" | "host" | "switch", Some(name)) => format!("{section} `{name}`"),
        ("driver" | "host" | "switch", None) => format!("{section} #{}", index + 1),
        (section, Some(name)) => format!("{section} {} `{name}`", index + 1),
        (section, None) => format!("{section} {}", index + 1),
    }
}

/// The two hosts of a link's `between`, when it names two.
fn link_ends<'t>(table: &'t DeTable<'_>) -> Option<(&'t str, &'t str)> {
    let (_, between) = table.iter().find(|(k, _)| k.get_ref() == "between")?;
    let DeValue::Array(ends) = between.get_ref() else {
        return None;
    };
    match &ends[..] {
        [a, b] => Some((a.get_ref().as_str()?, b.get_ref().as_str()?)),
        _ => None,
    }
}

/// Whether a key or value of `table` (at any depth) covers `span`.
fn contains(table: &DeTable<'_>, span: &Range<usize>) -> bool {
    table.iter().any(|(k, v)| {
        covers(&k.span(), span)
            || covers(&v.span(), span)
            || matches!(v.get_ref(), DeValue::Table(t) if contains(t, span))
    })
}

/// The dotted key whose value covers `span`; `None` when the span is a key
/// itself at this level (the message then names it) or the table.
fn key_path(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    for (k, v) in table {
        let key = k.get_ref().as_ref();
        if let DeValue::Table(inner) = v.get_ref()
            && contains(inner, span)
        {
            return Some(match key_path(inner, span) {
                Some(rest) => format!("{key}.{rest}"),
                None => key.to_owned(),
            });
        }
        if covers(&v.span(), span) {
            return Some(key.to_owned());
        }
    }
    None
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && !outer.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe_at(text: &str, needle: &str) -> String {
        let root = DeTable::parse(text).unwrap();
        let at = text.find(needle).unwrap();
        describe(root.get_ref(), &(at..at + needle.len()))
    }

    #[test]
    fn a_value_inside_a_driver_is_described_by_driver_name_and_dotted_key() {
        let text = "[rig]\nname = 'r'\n[[driver]]\nname = 'c'\nport = 70000\n[driver.reconnect]\nmax = -1\n";
        assert_eq!(describe_at(text, "70000"), "driver `c`, key `port`");
        assert_eq!(describe_at(text, "-1"), "driver `c`, key `reconnect.max`");
        assert_eq!(describe_at(text, "port"), "driver `c`");
        assert_eq!(describe_at(text, "'r'"), "[rig], key `name`");
    }

    #[test]
    fn network_sections_are_described_by_name_and_a_link_by_its_hosts() {
        let text = "[[host]]\nname = 'a'\n[[link]]\nbetween = ['a', 'b']\nrate = 'x'\n[[link]]\nbetween = []\nshaper = 'y'\n[[switch]]\nname = 'lan'\nhosts = 'z'\n[network]\ntimeout = 'w'\n";
        assert_eq!(describe_at(text, "'a'"), "host `a`, key `name`");
        assert_eq!(describe_at(text, "'x'"), "link `a-b`, key `rate`");
        assert_eq!(describe_at(text, "'y'"), "link #2, key `shaper`");
        assert_eq!(describe_at(text, "'z'"), "switch `lan`, key `hosts`");
        assert_eq!(describe_at(text, "'w'"), "[network], key `timeout`");
    }

    #[test]
    fn a_step_without_a_name_is_described_by_its_number() {
        let text = "[[step]]\nkind = 'wait'\n[[step]]\nkind = 'restart'\n";
        assert_eq!(describe_at(text, "'restart'"), "step 2, key `kind`");
    }
}
