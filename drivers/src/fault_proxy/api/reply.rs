use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::super::FaultProxyError;

/// What a handler answers, before it becomes an HTTP response.
#[derive(Debug)]
pub(super) struct Reply {
    status: StatusCode,
    content_type: Option<&'static str>,
    /// `X-Content-Type-Options: nosniff`, which Go's `http.Error` adds.
    nosniff: bool,
    body: Bytes,
}

impl Reply {
    /// A JSON body (compact, as Go's `json.Marshal`), `application/json`.
    pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self {
                status,
                content_type: Some("application/json"),
                nosniff: false,
                body: body.into(),
            },
            Err(error) => ApiError::internal(error.to_string()).reply(),
        }
    }

    /// 204 and no body.
    pub(super) fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            content_type: None,
            nosniff: false,
            body: Bytes::new(),
        }
    }

    /// `GET /version`: Toxiproxy writes its JSON by hand, with a newline.
    pub(super) fn version(version: &str) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: Some("application/json;charset=utf-8"),
            nosniff: false,
            body: format!("{{\"version\": \"{version}\"}}\n").into(),
        }
    }

    /// Go's `http.Error`: a text body and a newline.
    fn text_error(status: StatusCode, text: &str) -> Self {
        Self {
            status,
            content_type: Some("text/plain; charset=utf-8"),
            nosniff: true,
            body: format!("{text}\n").into(),
        }
    }

    /// A path no route matches (gorilla/mux's answer).
    pub(super) fn no_route() -> Self {
        Self::text_error(StatusCode::NOT_FOUND, "404 page not found")
    }

    /// A route's path with a method it does not take (gorilla/mux: 405, no body).
    pub(super) fn wrong_method() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            content_type: None,
            nosniff: false,
            body: Bytes::new(),
        }
    }

    /// A browser's request (Toxiproxy refuses them, so no web page can drive it).
    pub(super) fn browser() -> Self {
        Self::text_error(StatusCode::FORBIDDEN, "User agent not allowed")
    }

    pub(super) fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(content_type) = self.content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if self.nosniff {
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
        }
        response
    }
}

/// Toxiproxy's `ApiError`: `{"error": "...", "status": N}`, sent as Go's
/// `http.Error` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ApiError {
    #[serde(rename = "error")]
    message: String,
    #[serde(rename = "status")]
    status: u16,
}

impl ApiError {
    fn new(message: impl Into<String>, status: StatusCode) -> Self {
        Self {
            message: message.into(),
            status: status.as_u16(),
        }
    }

    /// `bad request body: <why>` (400).
    pub(super) fn bad_body(why: impl std::fmt::Display) -> Self {
        Self::new(format!("bad request body: {why}"), StatusCode::BAD_REQUEST)
    }

    /// `missing required field: <field>` (400).
    pub(super) fn missing(field: impl std::fmt::Display) -> Self {
        Self::new(
            format!("missing required field: {field}"),
            StatusCode::BAD_REQUEST,
        )
    }

    pub(super) fn proxy_not_found() -> Self {
        Self::new("proxy not found", StatusCode::NOT_FOUND)
    }

    pub(super) fn proxy_exists() -> Self {
        Self::new("proxy already exists", StatusCode::CONFLICT)
    }

    pub(super) fn invalid_stream() -> Self {
        Self::new(
            "stream was invalid, can be either upstream or downstream",
            StatusCode::BAD_REQUEST,
        )
    }

    pub(super) fn invalid_toxic_type() -> Self {
        Self::new("invalid toxic type", StatusCode::BAD_REQUEST)
    }

    pub(super) fn toxic_exists() -> Self {
        Self::new("toxic already exists", StatusCode::CONFLICT)
    }

    pub(super) fn toxic_not_found() -> Self {
        Self::new("toxic not found", StatusCode::NOT_FOUND)
    }

    /// What Toxiproxy answers for an error it has no status for (a listen that
    /// failed): 500 and the error's text.
    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(message, StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(super) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// As Go's `http.Error` writes it: `text/plain`, the JSON and a newline.
    pub(super) fn reply(&self) -> Reply {
        let json = serde_json::to_string(self).unwrap_or_default();
        Reply::text_error(self.status(), &json)
    }
}

impl From<FaultProxyError> for ApiError {
    fn from(error: FaultProxyError) -> Self {
        match error {
            FaultProxyError::ToxicExists { .. } => Self::toxic_exists(),
            FaultProxyError::ToxicNotFound { .. } => Self::toxic_not_found(),
            FaultProxyError::InvalidToxic { .. } | FaultProxyError::ToxicChanged { .. } => {
                Self::bad_body(error)
            }
            other => Self::internal(testrig::error::full_message(&other)),
        }
    }
}
