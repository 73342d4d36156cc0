//! The cargo-fuzz targets' bodies (`fuzz/fuzz_targets/bodies/`) compiled as ordinary code: every
//! committed seed (`fuzz/corpus/<target>/`) and deterministic mutations of them go through the same
//! entry points, so a panic or a failed assertion there fails `cargo test` without the
//! instrumented nightly build. Not coverage-guided: a smoke run, not a replacement for
//! `cargo fuzz run`.
//!
//! `FUZZ_SMOKE_SECS=<n>` keeps mutating each target for n seconds (CI: tests/fuzz/ci.sh);
//! otherwise `MUTATIONS` inputs per target. An input that panics is written to
//! `target/fuzz-smoke/<target>-crash` and reported.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../../fuzz/fuzz_targets/bodies/cti_event.rs"]
mod cti_event;
#[path = "../../fuzz/fuzz_targets/bodies/email_intake.rs"]
mod email_intake;
#[path = "../../fuzz/fuzz_targets/bodies/json_bodies.rs"]
mod json_bodies;

/// Mutated inputs per target when no time budget is set.
const MUTATIONS: usize = 2_000;

/// Byte strings the parsers care about, spliced in by the mutator.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"\\u0000",
    b"\\ud800",
    b"=?utf-8?b?",
    b"=?iso-8859-1?q?",
    b"?=",
    b"=\r\n",
    b"=C3=B1",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    b"--b\r\n",
    b"--b--\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Disposition: attachment; filename=\"../x\"\r\n",
    b"Message-ID: <>\r\n",
    b"Subject: \r\n",
    b"<script>",
    b"&",
    b"%",
    b"+",
    b"=",
    b"9999999999999999999999",
    b"-1",
    b"\xff\xfe",
    b"\xc3",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
            3 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(64)).min(len);
                data.drain(from..to);
            }
            4 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(256)).min(len);
                let chunk = data[from..to].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            _ => data.truncate(rng.below(len + 1)),
        }
    }
    data
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn save(target: &str, input: &[u8]) -> PathBuf {
    let dir = root().join("target/fuzz-smoke");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{target}-crash"));
    std::fs::write(&path, input).unwrap();
    path
}

/// Seeds, then mutations until the budget is spent; panics with the saved input on a failure.
fn smoke(target: &str, run: fn(&[u8])) {
    let seeds = seeds(target);
    let budget = std::env::var("FUZZ_SMOKE_SECS").ok().and_then(|s| s.parse::<u64>().ok()).map(Duration::from_secs);
    let seed = std::env::var("FUZZ_SMOKE_SEED").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(20_261_203);
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let check = |input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
            let path = save(target, input);
            panic!("fuzz target {target} failed on an input saved to {}", path.display());
        }
    };
    for input in &seeds {
        check(input);
    }
    let mut executions = seeds.len();
    let more = |executions: usize| match budget {
        Some(budget) => started.elapsed() < budget,
        None => executions < seeds.len() + MUTATIONS,
    };
    while more(executions) {
        check(&mutate(&mut rng, &seeds));
        executions += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz smoke {target}: {} seeds, {executions} executions in {secs:.1} s ({:.0}/s), seed {seed}",
        seeds.len(),
        executions as f64 / secs.max(1e-9)
    );
}

#[test]
fn email_intake_seeds_and_mutations() {
    smoke("email_intake", email_intake::run);
}

#[test]
fn cti_event_seeds_and_mutations() {
    smoke("cti_event", cti_event::run);
}

#[test]
fn json_bodies_seeds_and_mutations() {
    smoke("json_bodies", json_bodies::run);
}

#[test]
fn the_mutator_is_deterministic() {
    let seeds = vec![b"From: a@b.cl\r\n\r\nHola".to_vec(), b"{\"subject\": \"x\"}".to_vec()];
    let (mut a, mut b) = (Rng(7), Rng(7));
    for _ in 0..50 {
        assert_eq!(mutate(&mut a, &seeds), mutate(&mut b, &seeds));
    }
    assert!(Path::new(&root().join("fuzz/corpus")).is_dir());
}
