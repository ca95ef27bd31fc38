//! Fuzz target: `parse` and `open` on arbitrary bytes must never panic, and
//! nothing the fuzzer produces may open. Each input is tried raw and also as a
//! patch to a real envelope (first two bytes pick the offset, the rest is XORed
//! in from there), so mutations reach past the magic/version checks into the
//! binding, unwrap, commitment and payload paths.
#![no_main]

use std::sync::OnceLock;

use coffer_envelope::{Binding, Key32, open, open_with_data_key, parse, seal};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1 << 20;
const BINDING: Binding = Binding {
    org: [1; 16],
    secret: [2; 16],
    version: 1,
    key_version: 1,
};

fn key() -> Key32 {
    Key32::from_bytes([0x11; 32])
}

fn valid() -> &'static [u8] {
    static VALID: OnceLock<Vec<u8>> = OnceLock::new();
    VALID.get_or_init(|| seal(&key(), &BINDING, b"fuzzing seed value").unwrap().bytes)
}

fn check(bytes: &[u8]) {
    let key = key();
    if let Ok(env) = parse(bytes, MAX) {
        assert_eq!(
            env.header_bytes().len() + env.ciphertext().len(),
            bytes.len()
        );
        // The header's own binding gets past the binding check into the crypto.
        if bytes != valid() {
            assert!(open(&key, &env.binding, bytes, MAX).is_err());
        }
    }
    if bytes != valid() {
        assert!(open(&key, &BINDING, bytes, MAX).is_err());
        assert!(open_with_data_key(&key, &BINDING, bytes, MAX).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let [hi, lo, patch @ ..] = data {
        let mut patched = valid().to_vec();
        let n = patched.len();
        let start = usize::from(u16::from_be_bytes([*hi, *lo])) % n;
        for (i, b) in patch.iter().enumerate() {
            patched[(start + i) % n] ^= b;
        }
        check(&patched);
    }
});
