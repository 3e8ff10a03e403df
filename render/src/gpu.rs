//! Finding an adapter and opening a device. Preference: a real GPU (discrete, integrated,
//! virtual) over a CPU rasteriser (Mesa lavapipe, device type `Cpu`); Vulkan over GL.

use crate::RenderError;

/// Which adapter the renderer runs on, for logs and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Driver's adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// "Vulkan", "Gl", ...
    pub backend: String,
    /// "Cpu", "DiscreteGpu", ...
    pub device_type: String,
    /// Driver name and version as reported by the driver.
    pub driver: String,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}, driver {})",
            self.name, self.backend, self.device_type, self.driver
        )
    }
}

/// An opened device with its queue and the adapter it came from.
pub struct GpuContext {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
}

fn rank(info: &wgpu::AdapterInfo) -> u32 {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 40,
        wgpu::DeviceType::IntegratedGpu => 30,
        wgpu::DeviceType::VirtualGpu => 20,
        wgpu::DeviceType::Cpu => 10,
        wgpu::DeviceType::Other => 0,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        _ => 0,
    };
    kind + backend
}

/// Summary of an adapter's info.
pub fn summarize(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
    }
}

/// The instance the renderer uses: Vulkan only unless `WGPU_BACKEND` says otherwise (GL on a
/// headless llvmpipe is unreliable and only adds start-up noise).
pub fn new_instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    }
    wgpu::Instance::new(desc)
}

/// Picks the best adapter of `instance` (optionally one that can present to `surface`) and
/// opens a device on it.
pub fn open(
    instance: wgpu::Instance,
    surface: Option<&wgpu::Surface<'_>>,
) -> Result<GpuContext, RenderError> {
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let listed: Vec<String> = adapters
        .iter()
        .map(|a| summarize(&a.get_info()).to_string())
        .collect();
    let adapter = adapters
        .into_iter()
        .filter(|a| surface.is_none_or(|s| a.is_surface_supported(s)))
        .max_by_key(|a| rank(&a.get_info()))
        .ok_or_else(|| {
            RenderError::NoAdapter(if listed.is_empty() {
                "wgpu enumerated no adapters".to_string()
            } else {
                format!(
                    "none of the adapters can present to the window: {}",
                    listed.join("; ")
                )
            })
        })?;
    let summary = summarize(&adapter.get_info());
    let desc = wgpu::DeviceDescriptor {
        label: Some("vlgor-render"),
        required_features: wgpu::Features::empty(),
        required_limits: wgpu::Limits::default().using_resolution(adapter.limits()),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    };
    let (device, queue) =
        pollster::block_on(adapter.request_device(&desc)).map_err(|e| RenderError::Device {
            adapter: summary.to_string(),
            reason: e.to_string(),
        })?;
    tracing::info!(adapter = %summary, "vlgor-render: opened wgpu device");
    Ok(GpuContext {
        instance,
        adapter,
        device,
        queue,
    })
}
