//! Stable-toolchain stand-in for the fuzz target: a few thousand random and
//! mutated byte strings through `parse` and `open`, none of which may panic
//! or be accepted. Mutations of a real envelope get past the magic and version
//! checks, so they reach the deeper code paths that pure noise never does.

use coffer_envelope::{Binding, Key32, WrappedDataKey, open, open_with_data_key, parse, seal};

/// Small deterministic PRNG (xorshift64*) so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_mutated_inputs_never_panic_or_open() {
    let key = Key32::from_bytes([0x11; 32]);
    let b = Binding {
        org: [1; 16],
        secret: [2; 16],
        version: 1,
        key_version: 1,
    };
    let valid = seal(&key, &b, b"a reasonably short secret value")
        .unwrap()
        .bytes;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for i in 0..4000 {
        let input: Vec<u8> = match i % 4 {
            // Pure noise of random length.
            0 => (0..rng.below(400)).map(|_| rng.next() as u8).collect(),
            // Valid prefix + noise: passes magic and version.
            1 => {
                let mut v = valid[..6].to_vec();
                v.extend((0..rng.below(400)).map(|_| rng.next() as u8));
                v
            }
            // Real envelope with a few random byte changes.
            2 => {
                let mut v = valid.clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(v.len());
                    v[at] = rng.next() as u8;
                }
                v
            }
            // Real envelope truncated or extended.
            _ => {
                let mut v = valid.clone();
                let n = rng.below(v.len() + 64);
                v.resize(n, rng.next() as u8);
                v
            }
        };
        if input == valid {
            continue;
        }
        if let Ok(env) = parse(&input, 1 << 20) {
            parsed += 1;
            assert_eq!(
                env.header_bytes().len() + env.ciphertext().len(),
                input.len()
            );
            let _ = WrappedDataKey::from_slice(&env.wrapped_key.to_bytes()).unwrap();
        }
        assert!(open(&key, &b, &input, 1 << 20).is_err(), "case {i} opened");
        assert!(
            open_with_data_key(&key, &b, &input, 1 << 20).is_err(),
            "case {i} opened"
        );
    }
    assert!(
        parsed > 500,
        "mutations should reach past the parser ({parsed})"
    );
}
