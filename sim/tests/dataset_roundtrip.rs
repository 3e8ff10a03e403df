//! Dataset storage: round trip, re-simulation from stored states, corruption cases, samplers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use vlgor_sim::clevr::{self, ClevrEnv};
use vlgor_sim::dataset::*;
use vlgor_sim::{Env, Level};

/// A noisy-expert episode of at most 6 steps, so episodes differ in length.
fn episode(index: u64) -> EpisodeRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(index);
    let instruction = clevr::sample_instruction(Level::Seen, &mut rng);
    let mut env = ClevrEnv::new();
    EpisodeRecord::record(&mut env, index, 100 + index, instruction, 6, |env| {
        env.expert_action(0.5, &mut rng)
    })
    .unwrap()
}

fn header(env: &ClevrEnv, episodes: usize) -> DatasetHeader {
    DatasetHeader {
        env: "clevr".into(),
        origin: Origin::Real,
        collection: Collection {
            policy: "expert".into(),
            seed: 0,
            noise: 0.5,
            episodes,
            episodes_per_shard: 4,
            task: None,
            preset: "test".into(),
            max_steps: None,
        },
        split: SplitInfo {
            level: "seen".into(),
            definition: "test".into(),
        },
        state_dim: env.state().len(),
        obs_dim: env.observation().len(),
        action_space: ActionSpace::Discrete { n: 40 },
        frames: None,
    }
}

/// Writes 10 episodes in shards of 4 and returns them.
fn write_dataset(dir: &Path) -> Vec<EpisodeRecord> {
    let env = ClevrEnv::new();
    let records: Vec<EpisodeRecord> = (0..10).map(episode).collect();
    let mut w = DatasetWriter::create_or_resume(dir, header(&env, 10)).unwrap();
    for chunk in records.chunks(4) {
        w.append_shard(chunk).unwrap();
    }
    records
}

#[test]
fn round_trip_preserves_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let records = write_dataset(dir.path());
    let data = Dataset::open(dir.path(), Some("clevr")).unwrap();
    assert_eq!(data.episodes.len(), 10);
    assert_eq!(data.manifest.shards.len(), 3);
    for (rec, meta) in records.iter().zip(&data.episodes) {
        assert_eq!(meta.index, rec.index);
        assert_eq!(meta.seed, rec.seed);
        assert_eq!(meta.instruction, rec.instruction);
        assert_eq!(meta.length, rec.len());
        let d = data.manifest.state_dim;
        let rows = meta.first_row..meta.first_row + rec.len() + 1;
        assert_eq!(&data.states[rows.start * d..rows.end * d], &rec.states[..]);
        for t in 0..rec.len() {
            let i = meta.first_transition + t;
            assert_eq!(data.actions.get(i), rec.actions[t]);
            assert_eq!(data.rewards[i].to_bits(), rec.rewards[t].to_bits());
            assert_eq!(data.success[i] != 0, rec.success[t]);
            assert_eq!(
                data.transition_rows(i),
                (meta.first_row + t, meta.first_row + t + 1)
            );
        }
    }
}

#[test]
fn replaying_stored_actions_reproduces_stored_states() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let data = Dataset::open(dir.path(), None).unwrap();
    let mut env = ClevrEnv::new();
    for meta in &data.episodes {
        env.reset(meta.seed, &meta.instruction).unwrap();
        assert_eq!(
            env.state(),
            data.state(meta.first_row),
            "initial state from the seed"
        );
        for t in 0..meta.length {
            env.step(&data.actions.get(meta.first_transition + t))
                .unwrap();
            assert_eq!(
                env.state(),
                data.state(meta.first_row + t + 1),
                "episode {} step {t}",
                meta.index
            );
        }
    }
}

fn first_shard(dir: &Path) -> std::path::PathBuf {
    dir.join("shards/episodes-00000.safetensors")
}

#[test]
fn truncated_shard_names_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let path = first_shard(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(
        e.contains("episodes-00000.safetensors") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn tampered_shard_fails_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let path = first_shard(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(
        e.contains("episodes-00000.safetensors") && e.contains("checksum mismatch"),
        "{e}"
    );
}

#[test]
fn corrupt_header_with_matching_checksum_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let path = first_shard(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] = b'!'; // inside the JSON header
    std::fs::write(&path, &bytes).unwrap();
    // Re-sign the file so only the content check can catch it.
    let mut m = Manifest::read(dir.path()).unwrap();
    m.shards[0].sha256 = sha256_hex(&bytes);
    m.write(dir.path()).unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(
        e.contains("episodes-00000.safetensors") && e.contains("corrupt"),
        "{e}"
    );
}

#[test]
fn newer_format_and_wrong_env_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let e = Dataset::open(dir.path(), Some("metaworld"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("manifest.json") && e.contains("expected 'metaworld'"),
        "{e}"
    );
    let mut m = Manifest::read(dir.path()).unwrap();
    m.format_version = 99;
    m.write(dir.path()).unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("manifest.json") && e.contains("newer"), "{e}");
    std::fs::write(dir.path().join("manifest.json"), "{ not json").unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn missing_shard_and_missing_manifest_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("no manifest.json"), "{e}");
    write_dataset(dir.path());
    std::fs::remove_file(first_shard(dir.path())).unwrap();
    let e = Dataset::open(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("episodes-00000.safetensors"), "{e}");
}

#[test]
fn resume_refuses_different_arguments_and_continues_same_ones() {
    let dir = tempfile::tempdir().unwrap();
    let env = ClevrEnv::new();
    let mut w = DatasetWriter::create_or_resume(dir.path(), header(&env, 10)).unwrap();
    w.append_shard(&[episode(0), episode(1)]).unwrap();
    drop(w);
    // A half-written temporary from a killed writer is cleaned up.
    std::fs::write(
        dir.path().join("shards/.episodes-00001.safetensors.tmp-1"),
        b"partial",
    )
    .unwrap();
    let w = DatasetWriter::create_or_resume(dir.path(), header(&env, 10)).unwrap();
    assert_eq!(w.episodes_done(), 2);
    assert!(
        !dir.path()
            .join("shards/.episodes-00001.safetensors.tmp-1")
            .exists()
    );
    let mut other = header(&env, 10);
    other.collection.noise = 0.3;
    let e = DatasetWriter::create_or_resume(dir.path(), other)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("different arguments"), "{e}");
}

#[test]
fn mixed_sampler_keeps_the_ratio_in_every_batch() {
    let real_dir = tempfile::tempdir().unwrap();
    let imag_dir = tempfile::tempdir().unwrap();
    write_dataset(real_dir.path());
    write_dataset(imag_dir.path());
    let real = Dataset::open(real_dir.path(), None).unwrap();
    let imagined = Dataset::open(imag_dir.path(), None).unwrap();
    let sampler = MixedSampler {
        real: &real,
        imagined: &imagined,
        ratio: 0.25,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..50 {
        let batch = sampler.sample(128, &mut rng);
        assert_eq!(batch.len(), 128);
        assert_eq!(
            batch.iter().filter(|(s, _)| *s == Source::Imagined).count(),
            32
        );
    }
    // Seeded: the same seed gives the same batch.
    let a = sampler.sample(64, &mut ChaCha8Rng::seed_from_u64(1));
    let b = sampler.sample(64, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(a, b);
}

#[test]
fn windows_stay_inside_their_episode() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let data = Dataset::open(dir.path(), None).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let h = 2;
    let windows = sample_windows(&data, 500, h, &mut rng).unwrap();
    for w in windows {
        assert!(w.start + h <= data.episodes[w.episode].length, "{w:?}");
    }
    assert!(sample_windows(&data, 1, 1000, &mut rng).is_none());
}

/// Every file of a dataset directory (manifest and shards) with its bytes, by path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    for sub in ["", "shards"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn parts_written_out_of_order_merge_into_the_sequential_dataset() {
    use vlgor_sim::dataset::parts::{Part, PartWriter, in_parts, merge};
    let tmp = tempfile::tempdir().unwrap();
    let seq = tmp.path().join("seq");
    let records = write_dataset(&seq);
    let par = tmp.path().join("par");
    let env = ClevrEnv::new();
    // Part 2 of 3 first, then 0, then 1; shard f (episodes 4f..4f+4) belongs to part f mod 3.
    for k in [2, 0, 1] {
        let part = Part::new(k, 3).unwrap();
        let w = PartWriter::open(&par, header(&env, 10)).unwrap();
        for (f, chunk) in records.chunks(4).enumerate() {
            if part.owns(f) {
                assert!(!w.written(f));
                w.write(f, chunk).unwrap();
            }
        }
    }
    assert!(in_parts(&par));
    // Merging before every shard is written names the missing one.
    let e = merge(&par, 4).unwrap_err().to_string();
    assert!(e.contains("shard 3 of 4"), "{e}");
    let m = merge(&par, 3).unwrap();
    assert!(!in_parts(&par), "the entries are removed once merged");
    assert_eq!(m.counts.episodes, 10);
    assert_eq!(files(&seq), files(&par), "same files, same bytes");
    let d = Dataset::open(&par, Some("clevr")).unwrap();
    assert_eq!(d.episodes.len(), 10);
}

#[test]
fn a_part_with_other_arguments_is_refused() {
    use vlgor_sim::dataset::parts::{Part, PartWriter};
    let tmp = tempfile::tempdir().unwrap();
    let env = ClevrEnv::new();
    let dir = tmp.path().join("d");
    PartWriter::open(&dir, header(&env, 10)).unwrap();
    let e = PartWriter::open(&dir, header(&env, 12))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("collection"), "{e}");
    assert_eq!(Part::new(3, 3), None);
    let owned: Vec<usize> = (0..7)
        .filter(|&i| Part::new(1, 3).unwrap().owns(i))
        .collect();
    assert_eq!(owned, [1, 4]);
}
