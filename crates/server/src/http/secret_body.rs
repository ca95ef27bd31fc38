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

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
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

impl std::io::Write for WipingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let v = &mut self.0.0;
        if v.capacity() - v.len() < buf.len() {
            let mut grown = Vec::with_capacity((v.len() + buf.len()).max(v.capacity() * 2));
            grown.extend_from_slice(v);
            v.zeroize();
            *v = grown;
        }
        v.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `200 OK` with `value` as JSON in a body that is zeroed once written (see the module doc).
/// `secret_len` is the length of the secret as serialized (its base64); the buffer is sized for
/// it plus room for the metadata around it.
pub fn json<T: Serialize>(value: &T, secret_len: usize) -> Response {
    const METADATA_ROOM: usize = 1024;
    let mut out = WipingWriter(Wiped(Vec::with_capacity(secret_len + METADATA_ROOM)));
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Body::from(Bytes::from_owner(out.0)),
        )
            .into_response(),
        Err(e) => {
            // Only the error's category: its text could quote what was being written.
            tracing::error!(category = ?e.classify(), "serializing a response that holds a secret failed");
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
    use std::io::Write;

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

    #[tokio::test]
    async fn the_body_is_the_json_of_the_value() {
        let value = serde_json::json!({"value": "c2VjcmV0", "version": 2});
        let response = json(&value, 2); // too small a hint: the writer must grow
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body, serde_json::to_vec(&value).unwrap());
    }
}
