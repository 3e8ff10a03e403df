//! Mutated copies of valid files: truncations, byte flips and JSON field edits, drawn
//! deterministically from a seed.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;

/// One way to damage a file.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Keep the first `n` bytes.
    Truncate(usize),
    /// XOR byte `at` with `mask` (non-zero).
    Flip { at: usize, mask: u8 },
    /// Set the JSON value at `pointer` (the file must be JSON).
    Set { pointer: String, value: Value },
    /// Remove the last element of the JSON array at `pointer`.
    Shorten { pointer: String },
}

impl Mutation {
    /// Applies the mutation to `bytes`; `None` when it does not apply (no such JSON field).
    pub fn apply(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        match self {
            Mutation::Truncate(n) => Some(bytes[..(*n).min(bytes.len())].to_vec()),
            Mutation::Flip { at, mask } => {
                let mut b = bytes.to_vec();
                let i = at % b.len().max(1);
                *b.get_mut(i)? ^= mask;
                Some(b)
            }
            Mutation::Set { pointer, value } => {
                let mut v: Value = serde_json::from_slice(bytes).ok()?;
                *v.pointer_mut(pointer)? = value.clone();
                serde_json::to_vec_pretty(&v).ok()
            }
            Mutation::Shorten { pointer } => {
                let mut v: Value = serde_json::from_slice(bytes).ok()?;
                v.pointer_mut(pointer)?.as_array_mut()?.pop()?;
                serde_json::to_vec_pretty(&v).ok()
            }
        }
    }
}

/// `n` random truncations and `n` random byte flips of a file of `len` bytes.
pub fn random(len: usize, n: usize, seed: u64) -> Vec<Mutation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        out.push(Mutation::Truncate(rng.random_range(0..len.max(1))));
        out.push(Mutation::Flip {
            at: rng.random_range(0..len.max(1)),
            mask: 1 << rng.random_range(0..8),
        });
    }
    out
}

/// Edits of the JSON fields at `pointers`: out-of-range numbers, wrong types, nulls, future
/// versions, escaping paths.
pub fn field_edits(pointers: &[&str]) -> Vec<Mutation> {
    let values = [
        Value::from(0),
        Value::from(-1),
        Value::from(99),
        Value::from(u32::MAX),
        Value::from(u64::MAX),
        Value::from(1.0e30),
        Value::Null,
        Value::from("../../etc/passwd"),
        Value::from("/etc/passwd"),
        Value::Array(vec![]),
    ];
    let mut out = vec![];
    for p in pointers {
        for v in &values {
            out.push(Mutation::Set {
                pointer: (*p).to_string(),
                value: v.clone(),
            });
        }
        out.push(Mutation::Shorten {
            pointer: (*p).to_string(),
        });
    }
    out
}

/// Copies the directory tree `from` to `to` (plain files only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Runs `f`, returning `Err(message)` when it panicked.
pub fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}
