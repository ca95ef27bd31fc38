//! Project Wycheproof AES-GCM vectors run through aws-lc-rs.
//!
//! The format's security rests on aws-lc-rs's AES-256-GCM with 96-bit nonces
//! and 128-bit tags, so exactly those cases are run, both directions (seal must
//! reproduce ct||tag, open must accept valid and reject invalid), and the
//! number of cases is pinned so a silently shrinking filter fails loudly.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

/// Cases in wycheproof 0.7.0's aes_gcm_test.json with a 256-bit key, 96-bit
/// nonce and 128-bit tag (39 valid, 27 invalid, of 316 AES-GCM cases in all).
/// Update deliberately if the wycheproof crate version changes.
const EXPECTED_CASES: usize = 66;
const EXPECTED_VALID: usize = 39;
const EXPECTED_INVALID: usize = 27;

#[test]
fn wycheproof_aes_256_gcm() {
    let set = TestSet::load(TestName::AesGcm).expect("wycheproof AES-GCM vectors load");
    let (mut ran, mut valid, mut invalid) = (0usize, 0usize, 0usize);
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in &group.tests {
            ran += 1;
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &t.key).unwrap());
            let nonce: [u8; 12] = t.nonce.as_slice().try_into().unwrap();
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let opened = key.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&t.aad[..]),
                &mut ct_tag,
            );
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    valid += 1;
                    assert_eq!(opened.unwrap(), &t.pt[..], "tcId {} open", t.tc_id);
                    let mut buf = t.pt.to_vec();
                    key.seal_in_place_append_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(&t.aad[..]),
                        &mut buf,
                    )
                    .unwrap();
                    let (ct, tag) = buf.split_at(t.pt.len());
                    assert_eq!(ct, &t.ct[..], "tcId {} ciphertext", t.tc_id);
                    assert_eq!(tag, &t.tag[..], "tcId {} tag", t.tc_id);
                }
                TestResult::Invalid => {
                    invalid += 1;
                    assert!(
                        opened.is_err(),
                        "tcId {} must be rejected: {}",
                        t.tc_id,
                        t.comment
                    );
                }
            }
        }
    }
    eprintln!("wycheproof AES-256-GCM: ran {ran} ({valid} valid, {invalid} invalid)");
    assert!(
        valid > 0 && invalid > 0,
        "both valid and invalid cases must run"
    );
    assert_eq!(ran, EXPECTED_CASES);
    assert_eq!((valid, invalid), (EXPECTED_VALID, EXPECTED_INVALID));
}
