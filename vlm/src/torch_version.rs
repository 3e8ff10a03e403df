//! The version of the libtorch this process runs on, for results and reports.

use std::path::Path;

/// The version of the libtorch loaded into this process (e.g. `2.11.0+cu130`): found from the
/// path of the mapped `libtorch_cpu.so` (Linux `/proc/self/maps`), then read from the pip
/// wheel's `torch/version.py` beside its `torch/lib/`, or from a standalone distribution's
/// `libtorch/build-version`. `None` when libtorch is not loaded or neither file is there.
pub fn torch_version() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let lib = maps
        .lines()
        .filter_map(|line| line.find('/').map(|i| &line[i..]))
        .find(|path| path.ends_with("/libtorch_cpu.so"))?;
    let root = Path::new(lib).parent()?.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        return text.lines().find_map(|l| {
            let v = l
                .strip_prefix("__version__")?
                .trim_start()
                .strip_prefix('=')?;
            Some(v.trim().trim_matches(['\'', '"']).to_string())
        });
    }
    let text = std::fs::read_to_string(root.join("build-version")).ok()?;
    Some(text.trim().to_string()).filter(|v| !v.is_empty())
}
