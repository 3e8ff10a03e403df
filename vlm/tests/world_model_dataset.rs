//! DatasetSamples: samples from a recorded dataset re-render the stored states exactly.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::clevr::ClevrEnv;
use vlgor_sim::dataset::{
    ActionSpace, Collection, Dataset, DatasetHeader, DatasetWriter, EpisodeRecord, Origin,
    SplitInfo,
};
use vlgor_sim::{Action, Env, EnvKind, Level};
use vlgor_vlm::world_model::objects::read_objects;
use vlgor_vlm::world_model::{DatasetSamples, SampleProvider};

const STEPS: usize = 6;

fn record(seed: u64, rng: &mut ChaCha8Rng, renderer: &mut Renderer) -> (EpisodeRecord, Vec<u8>) {
    let mut env = ClevrEnv::new();
    let ins = vlgor_sim::clevr::sample_instruction(Level::Seen, rng);
    env.reset(seed, &ins).unwrap();
    let mut states = env.state();
    let mut observations = env.observation();
    let mut scenes = vec![env.scene("default").unwrap()];
    let mut actions = Vec::new();
    for _ in 0..STEPS {
        let a = env.random_action(rng);
        env.step(&a).unwrap();
        actions.push(a);
        states.extend(env.state());
        observations.extend(env.observation());
        scenes.push(env.scene("default").unwrap());
    }
    let frames = renderer.render_batch(&scenes).unwrap().pixels;
    let rec = EpisodeRecord {
        index: seed,
        seed,
        instruction: ins,
        states,
        observations,
        actions,
        rewards: vec![0.0; STEPS],
        success: vec![false; STEPS],
        terminals: vec![false; STEPS],
        timeouts: vec![false; STEPS],
        frames: None,
        verdict: None,
    };
    (rec, frames)
}

#[test]
fn dataset_samples_render_the_recorded_states() {
    let dir = std::env::temp_dir().join(format!("vlgor_wm_dataset_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut renderer = Renderer::new(RenderConfig {
        width: 16,
        height: 16,
        supersample: 1,
    })
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (r0, f0) = record(10, &mut rng, &mut renderer);
    let (r1, f1) = record(11, &mut rng, &mut renderer);
    let header = DatasetHeader {
        env: "clevr".into(),
        origin: Origin::Real,
        collection: Collection {
            policy: "random".into(),
            seed: 3,
            noise: 1.0,
            episodes: 2,
            episodes_per_shard: 2,
            task: None,
            preset: "test".into(),
            max_steps: None,
        },
        split: SplitInfo {
            level: "seen".into(),
            definition: "test".into(),
        },
        state_dim: ClevrEnv::STATE_LEN,
        obs_dim: 10,
        action_space: ActionSpace::Discrete { n: 40 },
        frames: None,
    };
    let mut w = DatasetWriter::create_or_resume(&dir, header).unwrap();
    w.append_shard(&[r0.clone(), r1.clone()]).unwrap();
    let data = Dataset::open(&dir, Some("clevr")).unwrap();
    let mut samples = DatasetSamples::new(&data, &mut renderer, "", 1, None, 0).unwrap();
    // Per episode: the first step + t = 0..=STEPS-1 (the final push included).
    assert_eq!(samples.len(), 2 * (STEPS + 1));
    let b = samples.batch(&[0, 1, STEPS + 4, STEPS]).unwrap();
    let fl = 16 * 16 * 3;
    let frame = |f: &[u8], t: usize| f[t * fl..(t + 1) * fl].to_vec();
    // Sample 0: first step of episode 0 -> a_0, no target frame.
    assert_eq!(b.actions[0], None);
    assert!(!b.has_target_frame[0]);
    assert_eq!(b.frames[..fl], frame(&f0, 0)[..]);
    assert_eq!(b.target_actions[0], Some(r0.actions[0]));
    // Sample 1: (s_0, a_0) -> (s_1, a_1).
    assert_eq!(b.actions[1], Some(r0.actions[0]));
    assert_eq!(b.frames[fl..2 * fl], frame(&f0, 0)[..]);
    assert_eq!(b.target_frames[fl..2 * fl], frame(&f0, 1)[..]);
    assert_eq!(b.target_actions[1], Some(r0.actions[1]));
    // Sample STEPS + 4: episode 1, t = 2.
    assert_eq!(b.instructions[2], r1.instruction.text);
    assert_eq!(b.frames[2 * fl..3 * fl], frame(&f1, 2)[..]);
    assert_eq!(b.target_frames[2 * fl..3 * fl], frame(&f1, 3)[..]);
    assert!(matches!(b.actions[2], Some(Action::Discrete(_))));
    // Sample STEPS: episode 0's final push, a frame-only sample without a next action.
    assert_eq!(b.actions[3], Some(r0.actions[STEPS - 1]));
    assert!(b.has_target_frame[3]);
    assert_eq!(b.target_actions[3], None);
    assert_eq!(b.frames[3 * fl..], frame(&f0, STEPS - 1)[..]);
    assert_eq!(b.target_frames[3 * fl..], frame(&f0, STEPS)[..]);
    // CLEVR samples carry the six tracked objects (five balls, the pusher) of both states.
    let sd = ClevrEnv::STATE_LEN;
    let objects = |t: usize| read_objects(EnvKind::Clevr, &r0.states[t * sd..(t + 1) * sd], &[]);
    assert_eq!(b.objects.len(), 4 * 12);
    assert_eq!(b.objects[36..], objects(STEPS - 1).unwrap()[..]);
    assert_eq!(b.target_objects[36..], objects(STEPS).unwrap()[..]);
    assert!(
        samples
            .batch(&[99])
            .unwrap_err()
            .to_string()
            .contains("out of 0..14")
    );
    let limited = DatasetSamples::new(&data, &mut renderer, "", 1, Some(5), 7).unwrap();
    assert_eq!(limited.len(), 5);
    std::fs::remove_dir_all(&dir).unwrap();
}
