// Shared by the build scripts of every crate that links libtorch (through `tch`): embeds an
// rpath to the torch library directory so binaries and test executables run without
// LD_LIBRARY_PATH. `DEP_TCH_LIBTORCH_LIB` reaches only crates that depend on `torch-sys`
// directly (Cargo's `links` rule), which is why those crates list it. `--no-as-needed -ltorch`
// keeps libtorch (and with it CUDA, where present) linked even if no symbol is used directly.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
