//! The state readout learns ball positions from real rendered CLEVR frames: on held-out frames it
//! must beat the constant (mean-state) predictor by a wide margin.

use tch::Device;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_vlm::perception::{
    ReadoutKind, ReadoutOptions, StateReadout, position_error, render_labelled, train_readout,
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
    let train = render_labelled(ReadoutKind::Clevr, &mut renderer, 384, 1, 3).unwrap();
    let test = render_labelled(ReadoutKind::Clevr, &mut renderer, 64, 2, 3).unwrap();
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
