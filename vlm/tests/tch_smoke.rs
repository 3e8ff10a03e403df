//! Smoke test of the tch/libtorch installation: a small MLP learns a regression on the CPU with
//! Adam, and the loss must fall. Also reports whether CUDA is visible.

use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

#[test]
fn mlp_regression_loss_falls_with_adam() {
    println!("tch::Cuda::is_available() = {}", tch::Cuda::is_available());
    tch::manual_seed(7);
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let mlp = nn::seq()
        .add(nn::linear(&root / "l1", 4, 32, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&root / "l2", 32, 1, Default::default()));
    // Target y = sin(x·w) with a fixed w.
    let x = Tensor::randn([256, 4], (Kind::Float, Device::Cpu));
    let w = Tensor::from_slice(&[0.5f32, -1.0, 0.25, 2.0]).view([4, 1]);
    let y = x.matmul(&w).sin();
    let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
    let loss_of = |m: &nn::Sequential| m.forward(&x).mse_loss(&y, tch::Reduction::Mean);
    let initial = loss_of(&mlp).double_value(&[]);
    for _ in 0..200 {
        let loss = loss_of(&mlp);
        opt.backward_step(&loss);
    }
    let last = loss_of(&mlp).double_value(&[]);
    println!("MSE {initial:.4} -> {last:.4} after 200 Adam steps");
    assert!(last.is_finite());
    assert!(
        last < 0.2 * initial,
        "loss did not fall enough: {initial} -> {last}"
    );
}
