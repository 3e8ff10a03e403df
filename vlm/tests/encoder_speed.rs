//! Throughput of `SentenceEncoder::encode` on the CPU, batch 64. A measurement, not a check:
//! ignored by default; run with
//! `cargo test --release -p vlgor-vlm --test encoder_speed -- --ignored --nocapture`.

use std::time::Instant;

use tch::Device;
use vlgor_vlm::encoder::SentenceEncoder;

#[test]
#[ignore = "benchmark; run explicitly with --ignored --nocapture"]
fn encode_throughput_batch_64_cpu() {
    let start = Instant::now();
    let encoder = SentenceEncoder::from_env(Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "load (sha256 + parse): {:.2} s",
        start.elapsed().as_secs_f64()
    );
    println!("torch intra-op threads: {}", tch::get_num_threads());

    let colours = ["red", "blue", "green", "purple", "cyan"];
    let relations = ["to the left of", "to the right of", "in front of", "behind"];
    let texts: Vec<String> = (0..640)
        .map(|i| {
            let (a, b) = (colours[i % 5], colours[(i / 5 + 1 + i % 5) % 5]);
            format!("Push the {a} ball {} the {b} ball ({i})", relations[i % 4])
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let _warm_up = encoder.encode(&refs[..64]).unwrap();

    let start = Instant::now();
    for batch in refs.chunks(64) {
        let e = encoder.encode(batch).unwrap();
        assert_eq!(e.size(), [64, 384]);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "encode: {} sentences in {secs:.2} s = {:.0} sentences/s (batch 64, CPU)",
        refs.len(),
        refs.len() as f64 / secs
    );
}
