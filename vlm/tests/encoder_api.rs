//! Behaviour of the sentence encoder's API: the embedding cache, determinism, empty inputs,
//! semantic sanity and devices. Needs the model files (VLGOR_ENCODER_DIR, see scripts/setup.sh).

use tch::{Device, Kind, Tensor};
use vlgor_vlm::encoder::{EmbeddingCache, SentenceEncoder};

fn encoder() -> SentenceEncoder {
    SentenceEncoder::from_env(Device::Cpu).unwrap_or_else(|e| panic!("{e}"))
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_device(Device::Cpu).contiguous().view([-1])).unwrap()
}

#[test]
fn cache_embeds_each_distinct_instruction_once_with_identical_rows() {
    let encoder = encoder();
    let texts: Vec<String> = [
        "Push the red ball to the left of the blue ball",
        "Press the button from the top",
        "Push the red ball to the left of the blue ball",
        "Open the drawer",
        "Press the button from the top",
    ]
    .map(String::from)
    .to_vec();
    let mut cache = EmbeddingCache::new();
    assert!(cache.is_empty());
    let first = cache.get_or_embed(&encoder, &texts).unwrap();
    assert_eq!(first.size(), [5, 384]);
    assert_eq!(cache.len(), 3, "three distinct instructions");

    // Rows equal what encode returns (up to the float rounding of a batch of 3 against a batch
    // of 1 in the BLAS kernels), duplicates share a row exactly.
    let direct = encoder
        .encode(&["Push the red ball to the left of the blue ball"])
        .unwrap();
    let (a, b) = (to_vec(&first.get(0)), to_vec(&direct.get(0)));
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(
        worst < 1e-5,
        "cached row differs from a direct encode by {worst}"
    );
    assert_eq!(to_vec(&first.get(0)), to_vec(&first.get(2)));
    assert_eq!(to_vec(&first.get(1)), to_vec(&first.get(4)));
    assert_eq!(
        cache.get("Open the drawer").unwrap(),
        to_vec(&first.get(3)).as_slice()
    );

    // A second call with one new instruction embeds only that one.
    let more = vec!["Open the drawer".to_owned(), "Close the window".to_owned()];
    let second = cache.get_or_embed(&encoder, &more).unwrap();
    assert_eq!(cache.len(), 4);
    assert_eq!(to_vec(&second.get(0)), to_vec(&first.get(3)));
    assert!(cache.get("never seen").is_none());

    // Empty input gives an empty batch.
    let none: [&str; 0] = [];
    assert_eq!(
        cache.get_or_embed(&encoder, &none).unwrap().size(),
        [0, 384]
    );
}

#[test]
fn encoding_is_deterministic_and_handles_empty_batches() {
    let encoder = encoder();
    let texts = ["Move the green ball behind the cyan ball", "", "Go"];
    let a = encoder.encode(&texts).unwrap();
    let b = encoder.encode(&texts).unwrap();
    assert_eq!(to_vec(&a), to_vec(&b), "same input, same bits");
    assert_eq!(a.kind(), Kind::Float);
    assert_eq!(encoder.encode(&[]).unwrap().size(), [0, 384]);
    let (tokens, mask) = encoder.token_embeddings(&[]).unwrap();
    assert_eq!((tokens.size(), mask.size()), (vec![0, 0, 384], vec![0, 0]));
    assert_eq!(encoder.dim(), 384);
    assert_eq!(encoder.config().num_hidden_layers, 6);
}

#[test]
fn paraphrases_are_closer_than_different_instructions() {
    let encoder = encoder();
    let e = encoder
        .encode(&[
            "Push the red ball to the left of the blue ball",
            "Move the red sphere so it is left of the blue sphere",
            "Press the button from the top",
        ])
        .unwrap();
    let sim = e.matmul(&e.transpose(0, 1));
    let s = |i, j| sim.double_value(&[i, j]);
    println!("paraphrase {:.3}, other task {:.3}", s(0, 1), s(0, 2));
    assert!(s(0, 1) > 0.7, "paraphrase similarity {}", s(0, 1));
    assert!(s(0, 1) > s(0, 2) + 0.2);
}

#[test]
fn token_embeddings_pool_to_sentence_embeddings() {
    let encoder = encoder();
    let texts = ["Open the drawer along a straight-line trajectory", "Go"];
    let (tokens, mask) = encoder.token_embeddings(&texts).unwrap();
    assert!(!tokens.requires_grad());
    let m = mask.unsqueeze(-1);
    let mean = (&tokens * &m).sum_dim_intlist(1, false, Kind::Float)
        / m.sum_dim_intlist(1, false, Kind::Float);
    let pooled = &mean / mean.norm_scalaropt_dim(2.0, 1, true);
    let encoded = encoder.encode(&texts).unwrap();
    let diff = (pooled - encoded).abs().max().double_value(&[]);
    assert!(diff < 1e-6, "pooling mismatch {diff}");
}

#[test]
fn cuda_device_is_an_error_without_a_gpu_and_matches_cpu_with_one() {
    let dir = SentenceEncoder::locate().unwrap_or_else(|e| panic!("{e}"));
    let cuda = tch::Cuda::is_available();
    println!("tch::Cuda::is_available() = {cuda}");
    match SentenceEncoder::load(&dir, Device::Cuda(0)) {
        Err(e) => assert!(!cuda, "CUDA is available but loading failed: {e}"),
        Ok(gpu) => {
            assert!(cuda, "loaded onto CUDA without a GPU");
            let texts = [
                "Push the red ball to the left of the blue ball",
                "Press the button",
            ];
            let on_gpu = gpu.encode(&texts).unwrap();
            assert_eq!(on_gpu.device(), Device::Cuda(0));
            let on_cpu = encoder().encode(&texts).unwrap();
            let diff = (on_gpu.to_device(Device::Cpu) - on_cpu)
                .abs()
                .max()
                .double_value(&[]);
            println!("GPU vs CPU max abs diff {diff:.2e}");
            assert!(diff < 1e-4);
        }
    }
}

#[test]
fn encoder_and_cache_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<SentenceEncoder>();
    assert_send::<EmbeddingCache>();
}
