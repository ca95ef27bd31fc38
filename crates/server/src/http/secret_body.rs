//! JSON response bodies that carry a secret value (a reveal's answer), built so no copy of the
//! value outlives the response.
//!
//! `axum::Json` serializes into a buffer that starts small and grows by reallocation, and the
//! allocator frees each outgrown buffer — and, once hyper has written it, the final one — with
//! the base64 of the secret still in it. Here the body is serialized into one buffer sized for
//! the value up front; if it must still grow, the old buffer is zeroed before it is freed; and the
//! finished buffer becomes the response's `Bytes` through [`Bytes::from_owner`], so it is zeroed
//! when hyper drops the body after writing it (hyper writes a body it is handed with `writev`,
//! without copying it into a buffer of its own). What the kernel's socket buffers hold is out of
//! reach, as for any server.

use super::B64;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use coffer_api as api;
use std::io::Write;
use zeroize::Zeroize;

/// Bytes zeroed, with their whole capacity, when dropped.
struct Wiped(Vec<u8>);

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A writer that never frees a buffer it wrote to without zeroing it first.
struct WipingWriter(Wiped);

impl WipingWriter {
    /// Makes room for `additional` more bytes; an outgrown buffer is zeroed before it is freed.
    fn reserve(&mut self, additional: usize) {
        let v = &mut self.0.0;
        if v.capacity() - v.len() < additional {
            let mut grown = Vec::with_capacity((v.len() + additional).max(v.capacity() * 2));
            grown.extend_from_slice(v);
            v.zeroize();
            *v = grown;
        }
    }

    /// Appends the base64 (standard alphabet, padded) of `bytes`, encoded in place: no other
    /// copy of it is ever made.
    fn base64(&mut self, bytes: &[u8]) {
        let n = base64::encoded_len(bytes.len(), true).expect("a secret's base64 fits in memory");
        self.reserve(n);
        let v = &mut self.0.0;
        let start = v.len();
        v.resize(start + n, 0);
        let written = B64
            .encode_slice(bytes, &mut v[start..])
            .expect("the slice is sized by encoded_len");
        debug_assert_eq!(written, n);
    }
}

impl std::io::Write for WipingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.reserve(buf.len());
        self.0.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `200 OK` with the JSON of [`api::RevealedSecret`] — `{"secret": …, "version": …, "value":
/// "<base64>"}`, the fields in the order serde's derive writes them — in a body that is zeroed
/// once written (see the module doc). The value is base64-encoded straight into the body: base64
/// never needs JSON escaping, so no intermediate `String` holds it and no escaping pass reads it
/// (serde's escaping pass over the value, `format_escaped_str`, took ~1.7% of a reveal's CPU).
pub fn revealed(secret: &api::Secret, version: u32, value: &[u8]) -> Response {
    const METADATA_ROOM: usize = 1024;
    let value_len = base64::encoded_len(value.len(), true).unwrap_or(0);
    let mut out = WipingWriter(Wiped(Vec::with_capacity(value_len + METADATA_ROOM)));
    let written = (|| -> std::io::Result<()> {
        out.write_all(br#"{"secret":"#)?;
        serde_json::to_writer(&mut out, secret)?;
        write!(out, r#","version":{version},"value":""#)?;
        out.base64(value);
        out.write_all(br#""}"#)
    })();
    match written {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Body::from(Bytes::from_owner(out.0)),
        )
            .into_response(),
        Err(e) => {
            // Only the error's kind: its text could quote what was being written.
            tracing::error!(kind = ?e.kind(), "serializing a response that holds a secret failed");
            super::error::error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the response could not be built; the server log says why",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_keeps_every_byte_in_order() {
        let mut w = WipingWriter(Wiped(Vec::with_capacity(3)));
        for chunk in [&b"ab"[..], b"cdef", b"", b"g", &[b'h'; 100]] {
            w.write_all(chunk).unwrap();
        }
        let mut expected = b"abcdefg".to_vec();
        expected.extend([b'h'; 100]);
        assert_eq!(w.0.as_ref(), &expected[..]);
    }

    fn sample_secret() -> api::Secret {
        let now = time::OffsetDateTime::now_utc();
        api::Secret {
            id: uuid::Uuid::now_v7(),
            scope: "OPS-1".into(),
            name: "db-main".into(),
            kind: api::SecretKind::Password,
            version: 3,
            state: api::SecretState::Active,
            created_by: "ada \"the admin\"".into(),
            created_at: now,
            updated_by: "ada".into(),
            updated_at: now,
            expires_at: None,
            view_limit: Some(5),
            views: 2,
            unavailable: Some("a reason with a \\ and a \n".into()),
            restricted: true,
        }
    }

    /// The hand-written body must be exactly what serde's derive of the wire type writes, for
    /// values of every length modulo 3 (padding) and with metadata that needs escaping.
    #[tokio::test]
    async fn the_body_is_the_json_of_the_wire_type() {
        for len in [0usize, 1, 2, 3, 1024, 5000] {
            let value: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let secret = sample_secret();
            let response = revealed(&secret, 2, &value);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let expected = api::RevealedSecret {
                secret,
                version: 2,
                value: B64.encode(&value),
            };
            assert_eq!(body, serde_json::to_vec(&expected).unwrap(), "length {len}");
        }
    }

    #[test]
    fn base64_grows_the_buffer_like_a_write() {
        let mut w = WipingWriter(Wiped(Vec::with_capacity(1)));
        w.write_all(b"x").unwrap();
        w.base64(b"secret");
        assert_eq!(w.0.as_ref(), b"xc2VjcmV0");
    }
}
