//! Errors of the renderer. User input (configs, scenes, paths) never panics: it returns a
//! [`RenderError`] that names the bad value and the valid range.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RenderError {
    /// No wgpu adapter at all: neither a GPU nor Mesa's CPU Vulkan driver (lavapipe).
    #[error(
        "no graphics adapter found ({0}); install a GPU driver or Mesa's CPU Vulkan driver: \
         `apt-get install mesa-vulkan-drivers libvulkan1` (Debian/Ubuntu), then retry \
         (WGPU_BACKEND=vulkan forces the Vulkan backend)"
    )]
    NoAdapter(String),
    /// The adapter refused to create a device.
    #[error("could not create a wgpu device on adapter {adapter}: {reason}")]
    Device { adapter: String, reason: String },
    /// A `RenderConfig` field is out of range.
    #[error("invalid render config: {0}")]
    Config(String),
    /// A scene cannot be drawn (non-finite numbers, negative sizes, too many lights, bad camera).
    #[error("invalid scene {index}: {reason}")]
    Scene { index: usize, reason: String },
    /// wgpu reported a validation or runtime error, or the read-back failed.
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Writing an image file failed.
    #[error("could not write {path}: {reason}")]
    Output { path: String, reason: String },
    /// Arguments to an output helper do not fit together (e.g. frames of different sizes).
    #[error("invalid output request: {0}")]
    OutputArgs(String),
    /// The label font cannot be read.
    #[error("label font: {0}")]
    Font(String),
    /// The debugging window cannot be opened or failed while running.
    #[error("viewer: {0}")]
    Viewer(String),
}
