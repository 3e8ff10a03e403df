//! The headless renderer: draws batches of [`Scene`]s at `supersample` x the output resolution,
//! one render pass per scene into a layer of a 2D-array texture, box-downsamples on the GPU into
//! packed RGB8 bytes, and reads the whole batch back with one copy and one map.

use crate::frame::{Frame, FrameBatch};
use crate::gpu::{self, AdapterSummary, GpuContext};
use crate::instances::{self, Instance, SceneInstances, SceneUniform, UNIFORM_STRIDE};
use crate::mesh::{MESH_KINDS, MeshSet, Vertex};
use crate::pipelines::{self, Pipelines};
use crate::{RenderConfig, RenderError};
use vlgor_sim::Scene;

/// Colour format of the supersampled layers.
pub(crate) const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
/// Depth format.
pub(crate) const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Byte budget of the supersampled colour layers; bounds how many scenes one chunk holds.
const LAYER_BUDGET_BYTES: u64 = 64 << 20;
/// Most scenes per chunk (a multiple of 4, see `downsample.wgsl`).
const MAX_LAYERS: u32 = 64;

/// Render targets sized for the config: `layers` colour layers and one depth buffer.
struct Targets {
    layer_views: Vec<wgpu::TextureView>,
    depth_view: wgpu::TextureView,
    down_bind: wgpu::BindGroup,
}

/// Growable per-batch buffers, reused between batches.
struct Buffers {
    scenes: usize,
    instances: usize,
    instance: wgpu::Buffer,
    uniform: wgpu::Buffer,
    params: wgpu::Buffer,
    out: wgpu::Buffer,
    readback: wgpu::Buffer,
    scene_bind: wgpu::BindGroup,
}

/// Draws [`Scene`]s into RGB8 frames. Same scene, same machine => identical pixels; a scene's
/// pixels do not depend on the other scenes of its batch.
pub struct Renderer {
    gpu: GpuContext,
    config: RenderConfig,
    summary: AdapterSummary,
    pipes: Pipelines,
    mesh_vertices: wgpu::Buffer,
    mesh_indices: wgpu::Buffer,
    meshes: MeshSet,
    layers: u32,
    targets: Targets,
    buffers: Buffers,
    scratch: SceneInstances,
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
    let (w, h) = (c.width as u64 * c.supersample as u64, c.height as u64 * c.supersample as u64);
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
        let pipes = pipelines::create(device);
        let meshes = MeshSet::build();
        let mesh_vertices = pipelines::init_buffer(
            device,
            "unit mesh vertices",
            bytemuck::cast_slice::<Vertex, u8>(&meshes.vertices),
            wgpu::BufferUsages::VERTEX,
        );
        let mesh_indices = pipelines::init_buffer(
            device,
            "unit mesh indices",
            bytemuck::cast_slice(&meshes.indices),
            wgpu::BufferUsages::INDEX,
        );
        let k = config.supersample;
        let layer_bytes = (config.width * k) as u64 * (config.height * k) as u64 * 4;
        let layers = ((LAYER_BUDGET_BYTES / layer_bytes) as u32 / 4 * 4)
            .clamp(4, MAX_LAYERS)
            .min(limits.max_texture_array_layers / 4 * 4);
        let buffers = Buffers::new(device, &pipes, 4, 64, &config);
        let targets = Targets::new(device, &pipes, &config, layers, &buffers);
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
            mesh_vertices,
            mesh_indices,
            meshes,
            layers,
            targets,
            buffers,
            scratch: SceneInstances::default(),
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

    /// Draws `scenes` in one GPU submission and one read-back; frame i of the result is
    /// `scenes[i]`. An empty slice gives an empty batch.
    pub fn render_batch(&mut self, scenes: &[Scene]) -> Result<FrameBatch, RenderError> {
        let (w, h) = (self.config.width, self.config.height);
        let n = scenes.len();
        let frame_bytes = w as u64 * h as u64 * 3;
        let out_bytes = ((n as u64 * w as u64 * h as u64).div_ceil(4) * 12).max(4);
        if out_bytes > self.gpu.device.limits().max_buffer_size.min(1 << 31) {
            return Err(RenderError::Config(format!(
                "a batch of {n} frames of {w}x{h} needs {out_bytes} bytes; split it into smaller \
                 batches"
            )));
        }
        if n == 0 {
            return Ok(FrameBatch {
                n: 0,
                height: h,
                width: w,
                pixels: Vec::new(),
            });
        }
        // Per scene and mesh kind: (first instance, count).
        let aspect = w as f32 / h as f32;
        let mut all: Vec<Instance> = Vec::new();
        let mut ranges: Vec<[(u32, u32); MESH_KINDS]> = Vec::with_capacity(n);
        let mut uniforms: Vec<SceneUniform> = Vec::with_capacity(n);
        for (i, scene) in scenes.iter().enumerate() {
            uniforms.push(instances::scene_uniform(i, scene, aspect)?);
            instances::scene_instances(i, scene, &mut self.scratch)?;
            let mut r = [(0, 0); MESH_KINDS];
            for (kind, list) in self.scratch.by_kind.iter().enumerate() {
                r[kind] = (all.len() as u32, list.len() as u32);
                all.extend_from_slice(list);
            }
            ranges.push(r);
        }
        let device = &self.gpu.device;
        if n > self.buffers.scenes || all.len() > self.buffers.instances || out_bytes > self.buffers.out.size() {
            let scenes_cap = n.next_power_of_two().max(self.buffers.scenes);
            let inst_cap = all.len().next_power_of_two().max(self.buffers.instances);
            self.buffers = Buffers::new(device, &self.pipes, scenes_cap, inst_cap, &self.config);
            self.targets = Targets::new(device, &self.pipes, &self.config, self.layers, &self.buffers);
        }
        let queue = &self.gpu.queue;
        let b = &self.buffers;
        if !all.is_empty() {
            queue.write_buffer(&b.instance, 0, bytemuck::cast_slice(&all));
        }
        queue.write_buffer(&b.uniform, 0, bytemuck::cast_slice(&uniforms));
        let chunks = n.div_ceil(self.layers as usize);
        let mut params = vec![[0u32; 64]; chunks];
        let total_groups: Vec<u32> = (0..chunks)
            .map(|c| {
                let frames = (n - c * self.layers as usize).min(self.layers as usize) as u64;
                ((frames * w as u64 * h as u64).div_ceil(4).div_ceil(64)) as u32
            })
            .collect();
        for (c, p) in params.iter_mut().enumerate() {
            let first = c * self.layers as usize;
            let frames = (n - first).min(self.layers as usize) as u32;
            let groups_x = total_groups[c].min(65535);
            p[..6].copy_from_slice(&[
                w,
                h,
                self.config.supersample,
                frames,
                (first as u64 * frame_bytes / 4) as u32,
                groups_x,
            ]);
        }
        queue.write_buffer(&b.params, 0, bytemuck::cast_slice(&params));

        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("vlgor batch"),
        });
        for c in 0..chunks {
            let first = c * self.layers as usize;
            let last = (first + self.layers as usize).min(n);
            for i in first..last {
                let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: None,
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &self.targets.layer_views[i - first],
                        depth_slice: None,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(instances::clear_color(&scenes[i])),
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
                if ranges[i].iter().all(|r| r.1 == 0) {
                    continue;
                }
                pass.set_pipeline(&self.pipes.scene);
                pass.set_bind_group(0, &b.scene_bind, &[(i as u64 * UNIFORM_STRIDE) as u32]);
                pass.set_vertex_buffer(0, self.mesh_vertices.slice(..));
                pass.set_vertex_buffer(1, b.instance.slice(..));
                pass.set_index_buffer(self.mesh_indices.slice(..), wgpu::IndexFormat::Uint32);
                for (kind, &(start, count)) in ranges[i].iter().enumerate() {
                    if count > 0 {
                        let m = self.meshes.ranges[kind];
                        pass.draw_indexed(
                            m.first_index..m.first_index + m.index_count,
                            m.base_vertex,
                            start..start + count,
                        );
                    }
                }
            }
            let mut cpass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            cpass.set_pipeline(&self.pipes.downsample);
            cpass.set_bind_group(0, &self.targets.down_bind, &[(c as u64 * UNIFORM_STRIDE) as u32]);
            let gx = total_groups[c].min(65535);
            cpass.dispatch_workgroups(gx, total_groups[c].div_ceil(gx), 1);
        }
        enc.copy_buffer_to_buffer(&b.out, 0, &b.readback, 0, out_bytes);
        self.gpu.queue.submit(Some(enc.finish()));
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::Gpu(e.to_string()));
        }
        let pixels = read_back(device, &b.readback, out_bytes, n as u64 * frame_bytes)?;
        Ok(FrameBatch {
            n,
            height: h,
            width: w,
            pixels,
        })
    }
}

/// Maps `buffer`, copies its first `len` bytes out and unmaps it.
fn read_back(device: &wgpu::Device, buffer: &wgpu::Buffer, mapped: u64, len: u64) -> Result<Vec<u8>, RenderError> {
    let slice = buffer.slice(..mapped);
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
    let pixels = slice
        .get_mapped_range()
        .map_err(|e| RenderError::Gpu(format!("reading the mapped read-back buffer: {e}")))?
        [..len as usize]
        .to_vec();
    buffer.unmap();
    Ok(pixels)
}

impl Buffers {
    fn new(device: &wgpu::Device, pipes: &Pipelines, scenes: usize, instances: usize, c: &RenderConfig) -> Buffers {
        let buf = |label, size: u64, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let out_bytes = ((scenes as u64 * c.width as u64 * c.height as u64).div_ceil(4) * 12).max(4);
        let instance = buf("instances", (instances.max(1) * std::mem::size_of::<Instance>()) as u64, U::VERTEX | U::COPY_DST);
        let uniform = buf("scene uniforms", scenes as u64 * UNIFORM_STRIDE, U::UNIFORM | U::COPY_DST);
        let chunks = scenes.div_ceil(4) as u64;
        let params = buf("downsample params", chunks * UNIFORM_STRIDE, U::UNIFORM | U::COPY_DST);
        let out = buf("rgb8 frames", out_bytes, U::STORAGE | U::COPY_SRC);
        let readback = buf("rgb8 read-back", out_bytes, U::MAP_READ | U::COPY_DST);
        let scene_bind = pipelines::scene_bind_group(device, pipes, &uniform);
        Buffers {
            scenes,
            instances,
            instance,
            uniform,
            params,
            out,
            readback,
            scene_bind,
        }
    }
}

impl Targets {
    fn new(device: &wgpu::Device, pipes: &Pipelines, c: &RenderConfig, layers: u32, b: &Buffers) -> Targets {
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
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
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
        let array_view = color.create_view(&wgpu::TextureViewDescriptor {
            dimension: Some(wgpu::TextureViewDimension::D2Array),
            ..Default::default()
        });
        let down_bind = pipelines::downsample_bind_group(device, pipes, &array_view, &b.out, &b.params);
        Targets {
            layer_views,
            depth_view: depth.create_view(&Default::default()),
            down_bind,
        }
    }
}
