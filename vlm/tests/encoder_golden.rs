//! Golden test of the frozen sentence encoder against HuggingFace `transformers`
//! (fixture written by vlm/scripts/make_encoder_fixture.py from the same model files), and of
//! the checksum guard on tampered model directories.
//!
//! Needs the model files: `source <(bash scripts/setup.sh --print-env)` (sets
//! VLGOR_ENCODER_DIR); without them the tests fail with the set-up hint.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::{Device, Tensor};
use vlgor_vlm::encoder::{EncoderError, SentenceEncoder};

#[derive(Deserialize)]
struct Fixture {
    max_tokens: usize,
    sentences: Vec<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    text: String,
    num_tokens: i64,
    embedding: Vec<f32>,
}

fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    let text = std::fs::read_to_string(&path).expect("read minilm_reference.json");
    serde_json::from_str(&text).expect("parse minilm_reference.json")
}

fn encoder() -> SentenceEncoder {
    SentenceEncoder::from_env(Device::Cpu).unwrap_or_else(|e| panic!("{e}"))
}

fn row(t: &Tensor, i: i64) -> Vec<f32> {
    Vec::<f32>::try_from(t.get(i)).expect("row to Vec<f32>")
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn embeddings_match_transformers_reference() {
    let fixture = fixture();
    assert!(
        fixture.sentences.len() >= 10,
        "fixture needs >= 10 sentences"
    );
    assert_eq!(fixture.max_tokens, vlgor_vlm::encoder::MAX_TOKENS);
    let encoder = encoder();
    let texts: Vec<&str> = fixture.sentences.iter().map(|s| s.text.as_str()).collect();
    let batch = encoder.encode(&texts).expect("encode");
    assert_eq!(batch.size(), [texts.len() as i64, 384]);
    assert!(
        !batch.requires_grad(),
        "frozen encoder output must carry no graph"
    );

    let mut worst_cos = 1.0f64;
    let mut worst_diff = 0.0f32;
    for (i, reference) in fixture.sentences.iter().enumerate() {
        let ours = row(&batch, i as i64);
        assert_eq!(reference.embedding.len(), 384);
        let cos = cosine(&ours, &reference.embedding);
        let diff = max_abs_diff(&ours, &reference.embedding);
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        let short: String = reference.text.chars().take(60).collect();
        println!(
            "1-cos {:.1e}  max|Δ| {diff:.2e}  ‖e‖ {norm:.6}  {short:?}",
            1.0 - cos
        );
        assert!(
            cos >= 0.999,
            "cosine {cos} < 0.999 for {:?}",
            reference.text
        );
        assert!(
            diff <= 1e-4,
            "max abs diff {diff} > 1e-4 for {:?}",
            reference.text
        );
        assert!(
            (norm - 1.0).abs() < 1e-5,
            "embedding not unit length: {norm}"
        );
        worst_cos = worst_cos.min(cos);
        worst_diff = worst_diff.max(diff);
    }
    println!("worst cosine {worst_cos:.9}, worst max abs diff {worst_diff:.2e}");
}

#[test]
fn tokenisation_and_padding_agree_with_reference() {
    let fixture = fixture();
    let encoder = encoder();
    let texts: Vec<&str> = fixture.sentences.iter().map(|s| s.text.as_str()).collect();
    let (tokens, mask) = encoder.token_embeddings(&texts).expect("token embeddings");
    let longest = fixture
        .sentences
        .iter()
        .map(|s| s.num_tokens)
        .max()
        .unwrap();
    assert_eq!(tokens.size(), [texts.len() as i64, longest, 384]);
    assert_eq!(mask.size(), [texts.len() as i64, longest]);
    let counts = Vec::<f32>::try_from(mask.sum_dim_intlist(1, false, tch::Kind::Float)).unwrap();
    for (reference, count) in fixture.sentences.iter().zip(counts) {
        assert_eq!(
            count as i64, reference.num_tokens,
            "token count differs from transformers for {:?}",
            reference.text
        );
    }

    // Padding must not leak: each sentence alone gives the same embedding as in the batch.
    let batch = encoder.encode(&texts).expect("encode batch");
    for (i, text) in texts.iter().enumerate() {
        let alone = encoder.encode(&[text]).expect("encode one");
        let diff = max_abs_diff(&row(&alone, 0), &row(&batch, i as i64));
        assert!(diff < 1e-5, "batch vs single differ by {diff} for {text:?}");
    }
}

/// A temporary model directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "vlgor-encoder-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the real model directory's three files into a temp dir, passing `model.safetensors`
/// and `tokenizer.json` through `edit_model` / `edit_tokenizer`.
fn tampered_copy(
    tag: &str,
    edit_model: impl Fn(&mut Vec<u8>),
    edit_tokenizer: impl Fn(&mut Vec<u8>),
) -> TempDir {
    let source = SentenceEncoder::locate().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new(tag);
    std::fs::copy(source.join("config.json"), dir.0.join("config.json")).unwrap();
    let mut model = std::fs::read(source.join("model.safetensors")).unwrap();
    edit_model(&mut model);
    std::fs::write(dir.0.join("model.safetensors"), model).unwrap();
    let mut tokenizer = std::fs::read(source.join("tokenizer.json")).unwrap();
    edit_tokenizer(&mut tokenizer);
    std::fs::write(dir.0.join("tokenizer.json"), tokenizer).unwrap();
    dir
}

fn expect_checksum_error(dir: &Path, file: &str) {
    match SentenceEncoder::load(dir, Device::Cpu) {
        Err(e @ EncoderError::Checksum { .. }) => {
            let EncoderError::Checksum { file: ref bad, .. } = e else {
                unreachable!()
            };
            assert_eq!(bad, &dir.join(file));
            let message = e.to_string();
            assert!(
                message.contains(file),
                "error should name {file}: {message}"
            );
            assert!(message.contains("checksum"), "{message}");
        }
        Err(other) => panic!("expected a checksum error for {file}, got: {other}"),
        Ok(_) => panic!("tampered {file} was accepted"),
    }
}

#[test]
fn tampered_model_files_are_rejected() {
    // One flipped bit in the middle of the weights.
    let flipped = tampered_copy(
        "flip",
        |bytes| {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
        },
        |_| {},
    );
    expect_checksum_error(&flipped.0, "model.safetensors");

    // A truncated download.
    let truncated = tampered_copy("trunc", |bytes| bytes.truncate(bytes.len() / 3), |_| {});
    expect_checksum_error(&truncated.0, "model.safetensors");

    // An edited tokenizer.
    let tokenizer = tampered_copy("tok", |_| {}, |bytes| bytes.push(b' '));
    expect_checksum_error(&tokenizer.0, "tokenizer.json");

    // A missing file is named as such.
    std::fs::remove_file(tokenizer.0.join("tokenizer.json")).unwrap();
    let err = SentenceEncoder::load(&tokenizer.0, Device::Cpu).unwrap_err();
    assert!(
        matches!(&err, EncoderError::MissingFile { file } if file.ends_with("tokenizer.json")),
        "{err}"
    );
    assert!(err.to_string().contains("make setup"), "{err}");
}
