//! The request bodies, read as Toxiproxy's Go decoding reads them: the first JSON
//! value of the body, unknown fields ignored, `null` as absent, a missing toxic
//! attribute as 0.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::super::{Stream, Toxic, ToxicKind};
use super::reply::ApiError;

/// A proxy as a request gives it (`POST /proxies`, an update, `populate`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct ProxyInput {
    pub(super) name: Option<String>,
    pub(super) listen: Option<String>,
    pub(super) upstream: Option<String>,
    pub(super) enabled: Option<bool>,
}

/// A new toxic as `POST /proxies/{proxy}/toxics` gives it, before its attributes
/// are read (Toxiproxy checks the name is free first).
#[derive(Debug, Clone)]
pub(super) struct ToxicInput {
    pub(super) name: String,
    type_name: String,
    stream: Stream,
    toxicity: f32,
    attributes: Map<String, Value>,
}

/// The first JSON value of `body`, as Go's `json.Decoder` reads it.
fn first_value(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
    {
        None => Err(ApiError::bad_body("EOF")),
        Some(Err(error)) => Err(ApiError::bad_body(error)),
        Some(Ok(value)) => Ok(value),
    }
}

fn object(value: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::bad_body(format!(
            "cannot read {} as {what}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field `key` of `map` as a `T`; absent or `null`: `None`.
fn field<T: DeserializeOwned>(
    map: &Map<String, Value>,
    key: &str,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|_| {
                ApiError::bad_body(format!(
                    "`{key}` is {}, expected {expected}",
                    kind_of(value)
                ))
            }),
    }
}

fn proxy_fields(map: &Map<String, Value>) -> Result<ProxyInput, ApiError> {
    Ok(ProxyInput {
        name: field(map, "name", "a string")?,
        listen: field(map, "listen", "a string")?,
        upstream: field(map, "upstream", "a string")?,
        enabled: field(map, "enabled", "a boolean")?,
    })
}

/// One proxy's fields (`POST /proxies`, `POST /proxies/{proxy}`).
pub(super) fn proxy(body: &[u8]) -> Result<ProxyInput, ApiError> {
    proxy_fields(&object(first_value(body)?, "a proxy")?)
}

/// `POST /populate`'s array of proxies.
pub(super) fn proxies(body: &[u8]) -> Result<Vec<ProxyInput>, ApiError> {
    match first_value(body)? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| proxy_fields(&object(item, "a proxy")?))
            .collect(),
        other => Err(ApiError::bad_body(format!(
            "cannot read {} as an array of proxies",
            kind_of(&other)
        ))),
    }
}

/// A new toxic's fields, in Toxiproxy's order of checks: the body, the stream
/// (default `downstream`), the name (default `<type>_<stream>`), the type.
pub(super) fn new_toxic(body: &[u8]) -> Result<ToxicInput, ApiError> {
    let map = object(first_value(body)?, "a toxic")?;
    let name: Option<String> = field(&map, "name", "a string")?;
    let type_name: String = field(&map, "type", "a string")?.unwrap_or_default();
    let stream_text: Option<String> = field(&map, "stream", "a string")?;
    let toxicity: f32 = field(&map, "toxicity", "a number")?.unwrap_or(1.0);
    let attributes: Map<String, Value> =
        field(&map, "attributes", "an object")?.unwrap_or_default();
    let stream = match stream_text.as_deref().map(str::to_lowercase).as_deref() {
        None | Some("downstream") => Stream::Downstream,
        Some("upstream") => Stream::Upstream,
        Some(_) => return Err(ApiError::invalid_stream()),
    };
    // Toxiproxy names it with the stream's text as given (`latency_UpStream`).
    let name = name.filter(|name| !name.is_empty()).unwrap_or_else(|| {
        format!(
            "{type_name}_{}",
            stream_text.as_deref().unwrap_or("downstream")
        )
    });
    if attribute_names(&type_name).is_none() {
        return Err(ApiError::invalid_toxic_type());
    }
    Ok(ToxicInput {
        name,
        type_name,
        stream,
        toxicity,
        attributes,
    })
}

impl ToxicInput {
    /// The toxic, its missing attributes 0 (as Go leaves an absent field).
    pub(super) fn toxic(self) -> Result<Toxic, ApiError> {
        let kind = kind(&self.type_name, Map::new(), &self.attributes)?;
        Ok(Toxic::new(kind)
            .named(self.name)
            .stream_on(self.stream)
            .toxicity(self.toxicity))
    }
}

/// `existing` with what an update's body gives: attributes over its own, and the
/// toxicity; its name, type and stream stay (Toxiproxy reads only those two).
pub(super) fn updated_toxic(existing: &Toxic, body: &[u8]) -> Result<Toxic, ApiError> {
    let map = object(first_value(body)?, "a toxic")?;
    let given: Map<String, Value> = field(&map, "attributes", "an object")?.unwrap_or_default();
    let toxicity: f32 = field(&map, "toxicity", "a number")?.unwrap_or(existing.probability());
    let current = match serde_json::to_value(existing.kind()) {
        Ok(Value::Object(mut map)) => match map.remove("attributes") {
            Some(Value::Object(attributes)) => attributes,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    let kind = kind(existing.kind().type_name(), current, &given)?;
    Ok(Toxic::new(kind)
        .named(existing.name())
        .stream_on(existing.stream())
        .toxicity(toxicity))
}

/// The attributes of each toxic type Toxiproxy has, in its JSON names.
fn attribute_names(type_name: &str) -> Option<&'static [&'static str]> {
    Some(match type_name {
        "latency" => &["latency", "jitter"],
        "bandwidth" => &["rate"],
        "slow_close" => &["delay"],
        "timeout" => &["timeout"],
        "reset_peer" => &["timeout"],
        "slicer" => &["average_size", "size_variation", "delay"],
        "limit_data" => &["bytes"],
        "noop" => &[],
        _ => return None,
    })
}

/// A toxic kind from `base` attributes (0 where absent) with `given` over them;
/// attributes the type does not have are ignored.
fn kind(
    type_name: &str,
    mut base: Map<String, Value>,
    given: &Map<String, Value>,
) -> Result<ToxicKind, ApiError> {
    let names = attribute_names(type_name).ok_or_else(ApiError::invalid_toxic_type)?;
    for &name in names {
        match given.get(name) {
            Some(value) if !value.is_null() => {
                if value.as_u64().is_none() {
                    return Err(ApiError::bad_body(format!(
                        "{type_name} attribute `{name}` = {value} is invalid, expected a whole number from 0"
                    )));
                }
                base.insert(name.to_owned(), value.clone());
            }
            _ => {
                base.entry(name.to_owned()).or_insert(json!(0));
            }
        }
    }
    serde_json::from_value(json!({"type": type_name, "attributes": base}))
        .map_err(ApiError::bad_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toxic_gets_toxiproxys_defaults() {
        let toxic = new_toxic(br#"{"type": "latency", "attributes": {"latency": 5}}"#)
            .unwrap()
            .toxic()
            .unwrap();
        assert_eq!(toxic, Toxic::latency(5, 0));
        assert_eq!(toxic.name(), "latency_downstream");
    }

    #[test]
    fn the_stream_is_read_whatever_its_case_and_names_the_toxic_as_given() {
        let toxic = new_toxic(br#"{"type": "timeout", "stream": "UpStream"}"#)
            .unwrap()
            .toxic()
            .unwrap();
        assert_eq!(
            toxic,
            Toxic::timeout(0).upstream().named("timeout_UpStream")
        );
    }

    #[test]
    fn only_the_first_json_value_of_a_body_is_read() {
        let input = proxy(br#"{"name": "a", "upstream": "b:1"} trailing"#).unwrap();
        assert_eq!(input.name.as_deref(), Some("a"));
    }

    #[test]
    fn an_update_keeps_the_attributes_it_does_not_give() {
        let existing = Toxic::slicer(100, 10, 5).named("s").toxicity(0.5);
        let updated = updated_toxic(&existing, br#"{"attributes": {"delay": 9}}"#).unwrap();
        assert_eq!(updated, Toxic::slicer(100, 10, 9).named("s").toxicity(0.5));
    }

    #[test]
    fn a_negative_or_fractional_attribute_is_a_bad_body() {
        for body in [
            &br#"{"type": "latency", "attributes": {"latency": -1}}"#[..],
            br#"{"type": "latency", "attributes": {"latency": 1.5}}"#,
            br#"{"type": "latency", "attributes": {"latency": "9"}}"#,
        ] {
            let error = new_toxic(body).unwrap().toxic().unwrap_err();
            assert_eq!(error.status(), hyper::StatusCode::BAD_REQUEST, "{error:?}");
        }
    }
}
