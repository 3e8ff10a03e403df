//! The state readout learns ball positions from real rendered CLEVR frames: on held-out frames it
//! must beat the constant (mean-state) predictor by a wide margin.

use tch::Device;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_vlm::perception::{
    LabelledStates, ReadoutKind, ReadoutOptions, StateReadout, position_error, render_labelled,
    train_readout,
};

#[test]
fn clevr_readout_beats_the_mean_predictor_on_held_out_frames() {
    // One intra-op thread: on a shared, busy machine more threads are several times slower.
    tch::set_num_threads(1);
    let mut renderer = Renderer::new(RenderConfig {
        width: 32,
        height: 32,
        supersample: 2,
    })
    .unwrap();
    let train = render_labelled(
        ReadoutKind::Clevr,
        &mut renderer,
        384,
        1,
        LabelledStates::near_reset(3),
    )
    .unwrap();
    let test = render_labelled(
        ReadoutKind::Clevr,
        &mut renderer,
        64,
        2,
        LabelledStates::near_reset(3),
    )
    .unwrap();
    assert_eq!(train.pixels.len(), 384 * 32 * 32 * 3);
    tch::manual_seed(0);
    let mut readout = StateReadout::new(ReadoutKind::Clevr, 32, Device::Cpu).unwrap();
    let opts = ReadoutOptions {
        epochs: 25,
        batch_size: 32,
        learning_rate: 2e-3,
        seed: 0,
    };
    let report = train_readout(&mut readout, &train, &opts).unwrap();
    let err = readout.position_error(&test.pixels, &test.states).unwrap();
    let mean: Vec<f32> = (0..10)
        .map(|k| train.states.iter().map(|s| s[k]).sum::<f32>() / train.len() as f32)
        .collect();
    let baseline = position_error(ReadoutKind::Clevr, &vec![mean; test.len()], &test.states);
    eprintln!(
        "readout: held-out error {err:.4} m, mean predictor {baseline:.4} m, {:.1} s",
        report.seconds
    );
    assert!(
        err < 0.5 * baseline,
        "held-out error {err} vs mean predictor {baseline}"
    );
}

#[test]
fn labelled_frames_partway_through_expert_runs_show_the_arm_away_from_its_start() {
    tch::set_num_threads(1);
    let mut renderer = Renderer::new(RenderConfig {
        width: 16,
        height: 16,
        supersample: 1,
    })
    .unwrap();
    let kind = ReadoutKind::MetaWorld;
    let n = 40;
    let reset = render_labelled(kind, &mut renderer, n, 5, LabelledStates::near_reset(0)).unwrap();
    let near = render_labelled(kind, &mut renderer, n, 5, LabelledStates::near_reset(8)).unwrap();
    let mid = LabelledStates {
        random_steps: 8,
        expert_steps: 200,
    };
    let partway = render_labelled(kind, &mut renderer, n, 5, mid).unwrap();
    assert_eq!(partway.pixels.len(), n * 16 * 16 * 3);
    // Share of frames whose hand (the first three values) is over 10 cm from where it starts.
    let away = |f: &vlgor_vlm::perception::LabelledFrames| {
        let far = f
            .states
            .iter()
            .zip(&reset.states)
            .filter(|(s, r)| {
                let d2: f32 = (0..3).map(|k| (s[k] - r[k]).powi(2)).sum();
                d2.sqrt() > 0.10
            })
            .count();
        far as f64 / n as f64
    };
    let (near_away, partway_away) = (away(&near), away(&partway));
    eprintln!(
        "hand over 10 cm from its start: near reset {near_away:.2}, partway {partway_away:.2}"
    );
    assert_eq!(
        near_away, 0.0,
        "eight random steps cannot carry the arm 10 cm"
    );
    assert!(
        partway_away >= 0.25,
        "only {partway_away:.2} of the frames show the arm partway through a task"
    );
    // The same description gives the same frames.
    let again = render_labelled(kind, &mut renderer, n, 5, mid).unwrap();
    assert_eq!(again.pixels, partway.pixels);
}
