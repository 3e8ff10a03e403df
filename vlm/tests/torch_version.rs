//! The running libtorch's version is found (the test binary links libtorch).

#[test]
fn torch_version_of_the_loaded_libtorch() {
    let _ = tch::Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
    let v = vlgor_vlm::torch_version().expect("libtorch is mapped and has a version file");
    let numeric: Vec<&str> = v.split(['.', '+']).take(2).collect();
    assert!(
        numeric.len() == 2 && numeric.iter().all(|p| p.parse::<u32>().is_ok()),
        "version {v:?}"
    );
}
