//! The results document each side sends in `EXCHANGE_RESULTS`.

use serde::{Deserialize, Deserializer, Serialize};

/// One side's results, in iperf3's layout (`send_results` / `get_results`). iperf3 3.12
/// requires `cpu_util_total`, `cpu_util_user`, `cpu_util_system`, `sender_has_retransmits`
/// and `streams`, and per stream `id`, `bytes`, `retransmits`, `jitter`, `errors`, `packets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExchangedResults {
    pub(crate) cpu_util_total: f64,
    pub(crate) cpu_util_user: f64,
    pub(crate) cpu_util_system: f64,
    /// 1 when this side sent TCP and can count retransmits, 0 when it cannot, -1 when it only
    /// received.
    #[serde(deserialize_with = "lenient_i64")]
    pub(crate) sender_has_retransmits: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) congestion_used: Option<String>,
    /// A server's `-J` document, for a client that asked (`get_server_output`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server_output_json: Option<serde_json::Value>,
    /// What a text-printing server printed for the test, for a client that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server_output_text: Option<String>,
    pub(crate) streams: Vec<ExchangedStream>,
}

/// One stream's totals as its side counted them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExchangedStream {
    #[serde(deserialize_with = "lenient_u32")]
    pub(crate) id: u32,
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) bytes: u64,
    /// -1 when unknown.
    #[serde(deserialize_with = "lenient_i64")]
    pub(crate) retransmits: i64,
    /// Seconds (RFC 1889 smoothed); 0 on a sender.
    pub(crate) jitter: f64,
    /// Lost packets counted by a UDP receiver.
    #[serde(deserialize_with = "lenient_i64")]
    pub(crate) errors: i64,
    /// UDP packets sent (sender) or the highest sequence number seen (receiver).
    #[serde(deserialize_with = "lenient_i64")]
    pub(crate) packets: i64,
    #[serde(default)]
    pub(crate) start_time: f64,
    #[serde(default)]
    pub(crate) end_time: f64,
}

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    f64::deserialize(d)
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let value = lenient_f64(d)?;
    Ok(value as i64)
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = lenient_f64(d)?;
    if value < 0.0 {
        return Err(serde::de::Error::custom(format!(
            "negative byte count {value}"
        )));
    }
    Ok(value as u64)
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = lenient_f64(d)?;
    if !(0.0..=f64::from(u32::MAX)).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "stream id {value} out of range"
        )));
    }
    Ok(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_iperf3_results_document_is_understood() {
        let doc = r#"{"cpu_util_total":79.4,"cpu_util_user":3.2,"cpu_util_system":76.2,
            "sender_has_retransmits":-1,"congestion_used":"bbr","streams":[{"id":1,
            "bytes":3650355200,"retransmits":-1,"jitter":0,"errors":0,"packets":0,
            "start_time":0,"end_time":1.000265}]}"#;
        let r: ExchangedResults = serde_json::from_str(doc).unwrap();
        assert_eq!(r.sender_has_retransmits, -1);
        assert_eq!(r.streams[0].bytes, 3_650_355_200);
        assert_eq!(r.streams[0].end_time, 1.000265);
    }

    #[test]
    fn a_document_missing_a_required_key_is_refused() {
        let doc = r#"{"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":1,"streams":[]}"#;
        assert!(serde_json::from_str::<ExchangedResults>(doc).is_err());
    }
}
