//! `coffer secret put --generate`: the random value generator. It owns the named character sets,
//! the checks of `--length` and `--charset-chars`, and the sampling: every character is drawn
//! uniformly from the set with 32-bit words from the operating system's random number generator
//! (`getrandom`), and words that would bias the draw are rejected rather than reduced modulo the
//! set's size. It lives apart from [`secret`](super::secret) so that the sampling can be tested
//! with chosen random words, and checks everything before a request is sent: a bad length or
//! charset changes nothing on the server.

use crate::cli::KindArg;
use crate::cli::secret::{Charset, GenerateArgs};
use crate::error::{CliError, Result};
use std::io::IsTerminal as _;
use zeroize::Zeroizing;

/// The length of a generated value when `--length` is not given.
pub const DEFAULT_LENGTH: u32 = 32;
/// The shortest value `--generate` makes: shorter ones are too easy to guess to be secrets.
pub const MIN_LENGTH: u32 = 8;
/// The longest value `--generate` makes.
pub const MAX_LENGTH: u32 = 4096;

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
/// The symbols of `alnum-symbols`: printable ASCII without quotes, `\`, `$`, backtick and space,
/// so a value needs no escaping in a shell's single quotes or a .env file's double quotes.
const SYMBOLS: &str = "!#%&()*+,-./:;<=>?@[]^_{|}~";

/// The distinct characters a value is drawn from, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alphabet(Vec<char>);

impl Alphabet {
    /// One of the named sets.
    pub fn named(set: Charset) -> Alphabet {
        let parts: &[&str] = match set {
            Charset::Alnum => &[UPPER, LOWER, DIGITS],
            Charset::AlnumSymbols => &[UPPER, LOWER, DIGITS, SYMBOLS],
            Charset::Hex => &[DIGITS, "abcdef"],
            Charset::Base64url => &[UPPER, LOWER, DIGITS, "-_"],
            Charset::Digits => &[DIGITS],
        };
        Alphabet(parts.iter().flat_map(|p| p.chars()).collect())
    }

    /// The characters of `--charset-chars`, repeats dropped (first occurrence kept). Refuses
    /// control characters (a newline or tab in a password is almost always a mistake, and some
    /// are stripped on the way in) and sets of fewer than two distinct characters.
    pub fn custom(chars: &str) -> Result<Alphabet> {
        if let Some(c) = chars.chars().find(|c| c.is_control()) {
            return Err(CliError::Usage(format!(
                "--charset-chars must not contain control characters (found U+{:04X})",
                u32::from(c)
            )));
        }
        let mut distinct: Vec<char> = Vec::new();
        for c in chars.chars() {
            if !distinct.contains(&c) {
                distinct.push(c);
            }
        }
        if distinct.len() < 2 {
            return Err(CliError::Usage(format!(
                "--charset-chars needs at least 2 different characters to draw from (got {}); \
                 nothing was stored",
                distinct.len()
            )));
        }
        Ok(Alphabet(distinct))
    }

    /// How many characters there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Checks `--length`.
pub fn check_length(length: u32) -> Result<()> {
    if (MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--length must be between {MIN_LENGTH} and {MAX_LENGTH} characters (got {length}); \
             nothing was stored"
        )))
    }
}

/// What `secret put --generate` stores, decided from its arguments before anything is sent.
pub struct Plan {
    /// The characters to draw from.
    pub alphabet: Alphabet,
    /// How many to draw.
    pub length: u32,
    /// How the set is described in messages (`alnum`, or `14 custom characters`).
    pub described: String,
}

/// Checks the `--generate` options of `secret put` (with the kind that will be sent) and returns
/// what to generate. Refuses stdin redirected from a non-empty file (a value source of its own)
/// and kind `kv` (a generated value is not a JSON object); `--file` is refused by clap.
pub fn plan(args: &GenerateArgs, kind: Option<KindArg>) -> Result<Plan> {
    if kind == Some(KindArg::Kv) {
        return Err(CliError::Usage(
            "--generate makes a text value, and a kv secret needs a JSON object: use --kind \
             password or note, or pipe the JSON on stdin"
                .to_owned(),
        ));
    }
    if stdin_is_nonempty_file() {
        return Err(CliError::Usage(
            "--generate does not read stdin, but stdin is a file: drop --generate to store the \
             file's content (or pass it with --file), or drop the redirection"
                .to_owned(),
        ));
    }
    let length = args.length.unwrap_or(DEFAULT_LENGTH);
    check_length(length)?;
    let (alphabet, described) = match &args.charset_chars {
        Some(chars) => {
            let alphabet = Alphabet::custom(chars)?;
            let described = format!("{} custom characters", alphabet.len());
            (alphabet, described)
        }
        None => {
            let set = args.charset.unwrap_or(Charset::Alnum);
            let name = clap::ValueEnum::to_possible_value(&set)
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default();
            (Alphabet::named(set), name)
        }
    };
    Ok(Plan {
        alphabet,
        length,
        described,
    })
}

/// Whether stdin is redirected from a regular file with something in it. (A pipe cannot be told
/// apart from one that will stay empty without reading it, and --generate never reads stdin.)
fn stdin_is_nonempty_file() -> bool {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        stdin
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file() && m.len() > 0)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Generates a value by `plan` from the operating system's random number generator.
pub fn generate(plan: &Plan) -> Result<Zeroizing<String>> {
    generate_with(&plan.alphabet, plan.length, |buf| {
        getrandom::fill(buf).map_err(|e| {
            CliError::Other(anyhow::anyhow!(
                "the operating system's random number generator failed: {e}"
            ))
        })
    })
}

/// [`generate`] with `fill` as the source of random bytes.
fn generate_with(
    alphabet: &Alphabet,
    length: u32,
    mut fill: impl FnMut(&mut [u8]) -> Result<()>,
) -> Result<Zeroizing<String>> {
    check_length(length)?;
    let n = u32::try_from(alphabet.len())
        .ok()
        .filter(|n| *n >= 2)
        .ok_or_else(|| CliError::Usage("the charset needs at least 2 characters".to_owned()))?;
    let length = length as usize;
    // Sized once for the longest UTF-8 characters, so the string never reallocates and leaves
    // an unwiped copy of a partial value behind.
    let mut out = Zeroizing::new(String::with_capacity(length * 4));
    let mut words = Zeroizing::new(vec![0u8; 4 * length]);
    let mut produced = 0;
    while produced < length {
        // Rejections are rare (at most 1 in 2^32 / n per draw), so the next round is small.
        let want = length - produced;
        let bytes = &mut words[..4 * want];
        fill(bytes)?;
        for word in bytes.chunks_exact(4) {
            let x = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            if let Some(i) = unbiased_index(x, n) {
                out.push(alphabet.0[i as usize]);
                produced += 1;
            }
        }
    }
    Ok(out)
}

/// Maps a uniform 32-bit word to a uniform index below `n`, or `None` when the word falls in
/// the top `2^32 mod n` values, which `x % n` would map to the low indices once more often
/// than the others (the caller draws again).
fn unbiased_index(x: u32, n: u32) -> Option<u32> {
    let accepted = (1u64 << 32) / u64::from(n) * u64::from(n);
    (u64::from(x) < accepted).then_some(x % n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[u32]) -> impl FnMut(&mut [u8]) -> Result<()> + '_ {
        let mut next = ws.iter().copied();
        move |buf: &mut [u8]| {
            for chunk in buf.chunks_exact_mut(4) {
                chunk.copy_from_slice(&next.next().expect("enough test words").to_le_bytes());
            }
            Ok(())
        }
    }

    #[test]
    fn named_sets_have_the_documented_sizes_and_no_repeats() {
        for (set, size) in [
            (Charset::Alnum, 62),
            (Charset::AlnumSymbols, 89),
            (Charset::Hex, 16),
            (Charset::Base64url, 64),
            (Charset::Digits, 10),
        ] {
            let a = Alphabet::named(set);
            assert_eq!(a.len(), size, "{set:?}");
            let mut sorted = a.0.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), size, "{set:?} repeats a character");
        }
        let symbols = Alphabet::named(Charset::AlnumSymbols);
        for bad in ['"', '\'', '\\', '$', '`', ' '] {
            assert!(!symbols.0.contains(&bad), "{bad:?}");
        }
    }

    #[test]
    fn values_have_the_length_and_only_charset_characters() {
        for set in [
            Charset::Alnum,
            Charset::AlnumSymbols,
            Charset::Hex,
            Charset::Base64url,
            Charset::Digits,
        ] {
            let alphabet = Alphabet::named(set);
            for length in [MIN_LENGTH, DEFAULT_LENGTH, MAX_LENGTH] {
                let plan = Plan {
                    alphabet: alphabet.clone(),
                    length,
                    described: String::new(),
                };
                let v = generate(&plan).unwrap();
                assert_eq!(v.chars().count(), length as usize, "{set:?}");
                assert!(v.chars().all(|c| alphabet.0.contains(&c)), "{set:?}");
            }
        }
        let custom = Alphabet::custom("ab€").unwrap();
        let v = generate_with(&custom, 100, |b| {
            getrandom::fill(b).map_err(|e| CliError::Other(e.into()))
        })
        .unwrap();
        assert_eq!(v.chars().count(), 100);
        assert!(v.chars().all(|c| "ab€".contains(c)));
    }

    #[test]
    fn two_values_differ() {
        let plan = Plan {
            alphabet: Alphabet::named(Charset::Alnum),
            length: DEFAULT_LENGTH,
            described: String::new(),
        };
        assert_ne!(*generate(&plan).unwrap(), *generate(&plan).unwrap());
    }

    #[test]
    fn biased_words_are_rejected_not_folded() {
        // 62 characters: 2^32 = 69_273_666 * 62 + 4, so the top 4 words are rejected.
        let n = 62;
        let accepted = 69_273_666u64 * 62;
        assert_eq!((1u64 << 32) - accepted, 4);
        assert_eq!(unbiased_index((accepted - 1) as u32, n), Some(61));
        for x in accepted..=u64::from(u32::MAX) {
            assert_eq!(unbiased_index(x as u32, n), None, "{x}");
        }
        assert_eq!(unbiased_index(0, n), Some(0));
        assert_eq!(unbiased_index(63, n), Some(1));
        // A power of two divides 2^32: nothing is rejected.
        assert_eq!(unbiased_index(u32::MAX, 16), Some(15));

        // The generator draws again for a rejected word instead of using it.
        let alphabet = Alphabet::named(Charset::Alnum);
        let mut seq = vec![u32::MAX; 8]; // first round: all rejected
        seq.extend([0, 1, 2, 3, 4, 5, 6, u32::MAX - 1]); // second: the last is rejected
        seq.push(61); // third round: one word
        let v = generate_with(&alphabet, 8, words(&seq)).unwrap();
        assert_eq!(v.as_str(), "ABCDEFG9");
    }

    #[test]
    fn every_character_is_about_equally_likely() {
        // 100_000 draws of digits: each digit is expected 10_000 times; a chi-square statistic
        // above 35 (9 degrees of freedom) happens by chance with probability < 1e-4.
        let plan = Plan {
            alphabet: Alphabet::named(Charset::Digits),
            length: 4000,
            described: String::new(),
        };
        let mut counts = [0u32; 10];
        for _ in 0..25 {
            for c in generate(&plan).unwrap().chars() {
                counts[c.to_digit(10).unwrap() as usize] += 1;
            }
        }
        let expected = 10_000f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 35.0, "chi2 {chi2}: {counts:?}");
    }

    #[test]
    fn lengths_outside_8_to_4096_are_refused() {
        for bad in [0, 1, 7, 4097, u32::MAX] {
            let err = check_length(bad).unwrap_err();
            assert!(matches!(err, CliError::Usage(_)), "{bad}");
            assert!(err.to_string().contains("between 8 and 4096"), "{err}");
        }
        check_length(8).unwrap();
        check_length(4096).unwrap();
        let alphabet = Alphabet::named(Charset::Hex);
        assert!(generate_with(&alphabet, 7, |_| unreachable!("no draw")).is_err());
    }

    #[test]
    fn custom_sets_need_two_distinct_printable_characters() {
        for bad in ["", "a", "aaaa", "€€"] {
            let err = Alphabet::custom(bad).unwrap_err();
            assert!(
                err.to_string().contains("at least 2 different"),
                "{bad:?}: {err}"
            );
        }
        assert!(
            Alphabet::custom("ab\n")
                .unwrap_err()
                .to_string()
                .contains("control characters")
        );
        assert_eq!(Alphabet::custom("abcabc").unwrap().0, vec!['a', 'b', 'c']);
    }

    #[test]
    fn random_number_generator_failures_are_errors() {
        let alphabet = Alphabet::named(Charset::Alnum);
        let err = generate_with(&alphabet, 8, |_| {
            Err(CliError::Other(anyhow::anyhow!("no entropy")))
        })
        .unwrap_err();
        assert!(err.to_string().contains("no entropy"));
    }
}
