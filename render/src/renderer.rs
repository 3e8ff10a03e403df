//! The headless renderer: draws batches of [`Scene`]s at `supersample` x the output resolution,
//! one render pass per scene into a layer of a 2D-array texture (reused in chunks of up to 64
//! layers), copies every chunk into one mapped read-back buffer, and box-downsamples to RGB8 on
//! the CPU ([`crate::downsample`]). A batch is one submission and one map unless its
//! supersampled pixels exceed [`READBACK_BUDGET_BYTES`]; then it is split into several.

use crate::downsample::{self, SourceLayout};
use crate::frame::{Frame, FrameBatch};
use crate::geometry::{self, SceneBuilder, SceneUniform, SceneVertex, UNIFORM_STRIDE};
use crate::gpu::{self, AdapterSummary, GpuContext};
use crate::mesh::MeshSet;
use crate::pipelines::{self, COLOR_FORMAT, DEPTH_FORMAT, Pipelines};
use crate::{RenderConfig, RenderError};
use vlgor_sim::Scene;

/// Byte budget of the supersampled colour layers; bounds how many scenes one chunk holds.
const LAYER_BUDGET_BYTES: u64 = 64 << 20;
/// Most scenes per chunk.
const MAX_LAYERS: u32 = 64;
/// Default largest read-back buffer (the adapter's buffer limit if smaller; see
/// [`Renderer::set_readback_budget`]); bigger batches are split into several submissions.
pub const READBACK_BUDGET_BYTES: u64 = 512 << 20;

/// Render targets sized for the config: `layers` colour layers and one depth buffer.
struct Targets {
    color: wgpu::Texture,
    layer_views: Vec<wgpu::TextureView>,
    depth_view: wgpu::TextureView,
}

/// Growable per-batch buffers, reused between batches.
struct Buffers {
    scenes: usize,
    vertex_cap: usize,
    index_cap: usize,
    vertex: wgpu::Buffer,
    index: wgpu::Buffer,
    uniform: wgpu::Buffer,
    scene_bind: wgpu::BindGroup,
}

/// Draws [`Scene`]s into RGB8 frames. Same scene, same machine => identical pixels; a scene's
/// pixels do not depend on the other scenes of its batch.
pub struct Renderer {
    gpu: GpuContext,
    config: RenderConfig,
    summary: AdapterSummary,
    pipes: Pipelines,
    meshes: MeshSet,
    layers: u32,
    targets: Targets,
    buffers: Buffers,
    readback: Option<wgpu::Buffer>,
    layout: SourceLayout,
    readback_budget: u64,
    scratch: SceneBuilder,
    vertices: Vec<SceneVertex>,
    indices: Vec<u32>,
}

fn validate_config(c: &RenderConfig, max_dim: u32) -> Result<(), RenderError> {
    if c.width == 0 || c.height == 0 {
        return Err(RenderError::Config(format!(
            "width {} x height {}: both must be >= 1",
            c.width, c.height
        )));
    }
    if !(1..=4).contains(&c.supersample) {
        return Err(RenderError::Config(format!(
            "supersample {} is invalid; valid values are 1, 2, 3, 4",
            c.supersample
        )));
    }
    let (w, h) = (
        c.width as u64 * c.supersample as u64,
        c.height as u64 * c.supersample as u64,
    );
    if w > max_dim as u64 || h > max_dim as u64 {
        return Err(RenderError::Config(format!(
            "{}x{} at supersample {} needs a {w}x{h} render target; this adapter allows at most \
             {max_dim}x{max_dim}",
            c.width, c.height, c.supersample
        )));
    }
    Ok(())
}

impl Renderer {
    /// Opens the best adapter (GPU, else lavapipe) and prepares a renderer for `config`.
    pub fn new(config: RenderConfig) -> Result<Renderer, RenderError> {
        let gpu = gpu::open(gpu::new_instance(), None)?;
        Renderer::with_context(gpu, config)
    }

    /// A renderer on an already opened device (the viewer opens one that can present).
    pub fn with_context(gpu: GpuContext, config: RenderConfig) -> Result<Renderer, RenderError> {
        let limits = gpu.device.limits();
        validate_config(&config, limits.max_texture_dimension_2d)?;
        let summary = gpu::summarize(&gpu.adapter.get_info());
        let device = &gpu.device;
        let k = config.supersample;
        let row_pitch = (config.width * k * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let frame_pitch = row_pitch as u64 * (config.height * k) as u64;
        if frame_pitch > limits.max_buffer_size {
            return Err(RenderError::Config(format!(
                "{}x{} at supersample {k} needs {frame_pitch} bytes per supersampled frame; the \
                 adapter allows {} per buffer: lower the size or the supersampling",
                config.width, config.height, limits.max_buffer_size
            )));
        }
        let pipes = pipelines::create(device);
        let meshes = MeshSet::build();
        let layers = ((LAYER_BUDGET_BYTES / frame_pitch) as u32)
            .clamp(1, MAX_LAYERS)
            .min(limits.max_texture_array_layers);
        let buffers = Buffers::new(device, &pipes, 4, 1 << 14, 1 << 15);
        let targets = Targets::new(device, &config, layers);
        let layout = SourceLayout {
            width: config.width as usize,
            height: config.height as usize,
            k: k as usize,
            row_pitch: row_pitch as usize,
            frame_pitch: (row_pitch * config.height * k) as usize,
        };
        tracing::info!(
            adapter = %summary,
            width = config.width,
            height = config.height,
            supersample = k,
            layers,
            "vlgor-render: renderer ready"
        );
        Ok(Renderer {
            gpu,
            config,
            summary,
            pipes,
            meshes,
            layers,
            targets,
            buffers,
            readback: None,
            layout,
            readback_budget: READBACK_BUDGET_BYTES,
            scratch: SceneBuilder::default(),
            vertices: Vec::new(),
            indices: Vec::new(),
        })
    }

    /// The adapter in use (name, backend, device type, driver).
    pub fn adapter_info(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The configuration this renderer draws with.
    pub fn config(&self) -> RenderConfig {
        self.config
    }

    /// Caps the read-back buffer at `bytes` (default [`READBACK_BUDGET_BYTES`]); batches whose
    /// supersampled pixels exceed it are drawn in several submissions (at least one frame
    /// each). Frees the current read-back buffer.
    pub fn set_readback_budget(&mut self, bytes: u64) {
        self.readback_budget = bytes;
        self.readback = None;
    }

    pub(crate) fn gpu(&self) -> &GpuContext {
        &self.gpu
    }

    /// Draws one scene.
    pub fn render(&mut self, scene: &Scene) -> Result<Frame, RenderError> {
        let batch = self.render_batch(std::slice::from_ref(scene))?;
        Ok(Frame {
            width: batch.width,
            height: batch.height,
            pixels: batch.pixels,
        })
    }

    /// Draws `scenes` in one GPU submission and one read-back (several when the supersampled
    /// pixels exceed the read-back budget); frame i of the result is `scenes[i]`. An empty
    /// slice gives an empty batch. Scene errors name the scene index and are reported before
    /// any GPU work.
    pub fn render_batch(&mut self, scenes: &[Scene]) -> Result<FrameBatch, RenderError> {
        let (w, h) = (self.config.width, self.config.height);
        let n = scenes.len();
        let frame_bytes = w as usize * h as usize * 3;
        if n == 0 {
            return Ok(FrameBatch {
                n: 0,
                height: h,
                width: w,
                pixels: Vec::new(),
            });
        }
        // Per scene: (first index, index count, base vertex).
        let aspect = w as f32 / h as f32;
        let mut vertices = std::mem::take(&mut self.vertices);
        let mut indices = std::mem::take(&mut self.indices);
        vertices.clear();
        indices.clear();
        let mut draws: Vec<(u32, u32, i32)> = Vec::with_capacity(n);
        let mut uniforms: Vec<SceneUniform> = Vec::with_capacity(n);
        for (i, scene) in scenes.iter().enumerate() {
            uniforms.push(geometry::scene_uniform(i, scene, aspect)?);
            let lod = geometry::lod_scale(scene, h * self.config.supersample);
            let (v0, i0) = (vertices.len(), indices.len());
            self.scratch
                .append_scene(i, scene, lod, &self.meshes, &mut vertices, &mut indices)?;
            draws.push((i0 as u32, (indices.len() - i0) as u32, v0 as i32));
        }
        let device = &self.gpu.device;
        let max = device.limits().max_buffer_size;
        let vsize = std::mem::size_of::<SceneVertex>() as u64;
        for (what, bytes) in [
            ("vertex", vertices.len() as u64 * vsize),
            ("index", indices.len() as u64 * 4),
            ("uniform", n as u64 * UNIFORM_STRIDE),
        ] {
            if bytes > max {
                return Err(RenderError::Config(format!(
                    "a batch of {n} scenes needs {bytes} bytes of {what} data; the adapter allows \
                     {max} per buffer: split the batch into smaller ones"
                )));
            }
        }
        if n > self.buffers.scenes
            || vertices.len() > self.buffers.vertex_cap
            || indices.len() > self.buffers.index_cap
        {
            // Grow to the next power of two (fewer reallocations), within the buffer limit.
            let grow = |len: usize, cap: usize, unit: u64| {
                len.next_power_of_two()
                    .max(cap)
                    .min((max / unit) as usize)
                    .max(len)
            };
            self.buffers = Buffers::new(
                device,
                &self.pipes,
                grow(n, self.buffers.scenes, UNIFORM_STRIDE),
                grow(vertices.len(), self.buffers.vertex_cap, vsize),
                grow(indices.len(), self.buffers.index_cap, 4),
            );
        }
        let b = &self.buffers;
        let queue = &self.gpu.queue;
        if !indices.is_empty() {
            queue.write_buffer(&b.vertex, 0, bytemuck::cast_slice(&vertices));
            queue.write_buffer(&b.index, 0, bytemuck::cast_slice(&indices));
        }
        queue.write_buffer(&b.uniform, 0, bytemuck::cast_slice(&uniforms));
        self.vertices = vertices;
        self.indices = indices;

        // Frames per submission: as many as the read-back budget holds (at least one).
        let pitch = self.layout.frame_pitch as u64;
        let budget = self.readback_budget.min(max);
        let per_submit = ((budget / pitch) as usize).max(1);
        let group = n.min(per_submit);
        let need = group as u64 * pitch;
        if self.readback.as_ref().is_none_or(|r| r.size() < need) {
            self.readback = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("supersampled read-back"),
                size: need,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let mut pixels = vec![0u8; n * frame_bytes];
        for start in (0..n).step_by(group) {
            let end = (start + group).min(n);
            self.submit_group(scenes, &draws, start..end)?;
            let readback = self
                .readback
                .as_ref()
                .ok_or_else(|| RenderError::Gpu("no read-back buffer".into()))?;
            let len = (end - start) as u64 * pitch;
            let layout = self.layout;
            let out = &mut pixels[start * frame_bytes..end * frame_bytes];
            map_and(device, readback, len, |src| {
                downsample::box_filter(src, &layout, out)
            })?;
        }
        Ok(FrameBatch {
            n,
            height: h,
            width: w,
            pixels,
        })
    }

    /// Encodes and submits the scenes `frames` (chunk by chunk: one render pass per scene,
    /// then one copy of the chunk's layers into the read-back buffer).
    fn submit_group(
        &self,
        scenes: &[Scene],
        draws: &[(u32, u32, i32)],
        frames: std::ops::Range<usize>,
    ) -> Result<(), RenderError> {
        let device = &self.gpu.device;
        let readback = self
            .readback
            .as_ref()
            .ok_or_else(|| RenderError::Gpu("no read-back buffer".into()))?;
        let b = &self.buffers;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("vlgor batch"),
        });
        let layers = self.layers as usize;
        for first in frames.clone().step_by(layers) {
            let last = (first + layers).min(frames.end);
            for i in first..last {
                let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: None,
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &self.targets.layer_views[i - first],
                        depth_slice: None,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(geometry::clear_color(&scenes[i])),
                            store: wgpu::StoreOp::Store,
                        },
                    })],
                    depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                        view: &self.targets.depth_view,
                        depth_ops: Some(wgpu::Operations {
                            load: wgpu::LoadOp::Clear(1.0),
                            store: wgpu::StoreOp::Discard,
                        }),
                        stencil_ops: None,
                    }),
                    timestamp_writes: None,
                    occlusion_query_set: None,
                    multiview_mask: None,
                });
                let (first_index, count, base_vertex) = draws[i];
                if count == 0 {
                    continue;
                }
                pass.set_pipeline(&self.pipes.scene);
                pass.set_bind_group(0, &b.scene_bind, &[(i as u64 * UNIFORM_STRIDE) as u32]);
                pass.set_vertex_buffer(0, b.vertex.slice(..));
                pass.set_index_buffer(b.index.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(first_index..first_index + count, base_vertex, 0..1);
            }
            let k = self.config.supersample;
            enc.copy_texture_to_buffer(
                self.targets.color.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: ((first - frames.start) * self.layout.frame_pitch) as u64,
                        bytes_per_row: Some(self.layout.row_pitch as u32),
                        rows_per_image: Some(self.config.height * k),
                    },
                },
                wgpu::Extent3d {
                    width: self.config.width * k,
                    height: self.config.height * k,
                    depth_or_array_layers: (last - first) as u32,
                },
            );
        }
        self.gpu.queue.submit(Some(enc.finish()));
        match pollster::block_on(scope.pop()) {
            Some(e) => Err(RenderError::Gpu(e.to_string())),
            None => Ok(()),
        }
    }
}

/// Maps the first `len` bytes of `buffer`, runs `f` on them and unmaps.
fn map_and(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    len: u64,
    f: impl FnOnce(&[u8]),
) -> Result<(), RenderError> {
    let slice = buffer.slice(..len);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| RenderError::Gpu(format!("waiting for the batch: {e}")))?;
    rx.recv()
        .map_err(|_| RenderError::Gpu("read-back callback never ran".into()))?
        .map_err(|e| RenderError::Gpu(format!("mapping the read-back buffer: {e}")))?;
    {
        let view = slice
            .get_mapped_range()
            .map_err(|e| RenderError::Gpu(format!("reading the mapped read-back buffer: {e}")))?;
        f(&view);
    }
    buffer.unmap();
    Ok(())
}

impl Buffers {
    fn new(
        device: &wgpu::Device,
        pipes: &Pipelines,
        scenes: usize,
        vertices: usize,
        indices: usize,
    ) -> Buffers {
        use wgpu::BufferUsages as U;
        let buf = |label, size: u64, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(16),
                usage,
                mapped_at_creation: false,
            })
        };
        let vertex_bytes = (vertices * std::mem::size_of::<SceneVertex>()) as u64;
        let vertex = buf("scene vertices", vertex_bytes, U::VERTEX | U::COPY_DST);
        let index = buf("scene indices", indices as u64 * 4, U::INDEX | U::COPY_DST);
        let uniform = buf(
            "scene uniforms",
            scenes as u64 * UNIFORM_STRIDE,
            U::UNIFORM | U::COPY_DST,
        );
        let scene_bind = pipelines::scene_bind_group(device, pipes, &uniform);
        Buffers {
            scenes,
            vertex_cap: vertices,
            index_cap: indices,
            vertex,
            index,
            uniform,
            scene_bind,
        }
    }
}

impl Targets {
    fn new(device: &wgpu::Device, c: &RenderConfig, layers: u32) -> Targets {
        let k = c.supersample;
        let size = wgpu::Extent3d {
            width: c.width * k,
            height: c.height * k,
            depth_or_array_layers: layers,
        };
        let color = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("supersampled layers"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: COLOR_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let depth = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("depth"),
            size: wgpu::Extent3d {
                depth_or_array_layers: 1,
                ..size
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: DEPTH_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            view_formats: &[],
        });
        let layer_views = (0..layers)
            .map(|l| {
                color.create_view(&wgpu::TextureViewDescriptor {
                    dimension: Some(wgpu::TextureViewDimension::D2),
                    base_array_layer: l,
                    array_layer_count: Some(1),
                    ..Default::default()
                })
            })
            .collect();
        Targets {
            color,
            layer_views,
            depth_view: depth.create_view(&Default::default()),
        }
    }
}
