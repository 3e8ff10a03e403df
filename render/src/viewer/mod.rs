//! The debugging window: shows the scenes of a [`ViewerSource`] rendered by a [`Renderer`] and
//! steps it at a fixed rate. Keys: Space pause/resume, N or Right single step (while paused),
//! C next camera, S split mode ("real | imagined") on/off, R reset, Esc or Q quit.
//!
//! Needs an X11 display (`DISPLAY`; XWayland on Wayland desktops); under no display, [`run`] returns an error saying so.
//! Works under Xvfb (Mesa lavapipe presents through X11). winit allows one event loop per
//! process, so [`run`] can be called once per process.

mod present;

use crate::output::side_by_side;
use crate::{Frame, RenderConfig, RenderError, Renderer, gpu};
use present::Presenter;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vlgor_sim::Scene;
use winit::application::ApplicationHandler;
use winit::event::{ElementState, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

/// What the viewer shows and drives.
pub trait ViewerSource {
    /// Window title.
    fn title(&self) -> String;
    /// The scenes of the current step: one scene (single view) or two (real, imagined).
    fn frame_scenes(&mut self) -> Vec<Scene>;
    /// Advances one environment step.
    fn step(&mut self);
    /// Starts a new episode.
    fn reset(&mut self);
    /// Switches to the next camera.
    fn cycle_camera(&mut self);
    /// Split mode was switched on or off (S key); sources that compute the imagined rollout
    /// only on demand can use this. The viewer shows the first scene only when split is off.
    fn set_split(&mut self, _split: bool) {}
    /// A pre-rendered right-hand panel for split mode, for rollouts stored as frames only
    /// (imagined rollouts have frames, not states). When `Some`, it replaces the second scene;
    /// it is resized (nearest neighbour) to the panel size if needed.
    fn imagined_frame(&mut self) -> Option<Frame> {
        None
    }
}

/// Window and pacing options.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    /// Render size of one panel (pixels) and its supersampling.
    pub render: RenderConfig,
    /// Window pixels per rendered pixel (>= 1).
    pub zoom: u32,
    /// Steps (and redraws) per second while running; > 0.
    pub fps: f32,
    /// Close the window after this many presented frames (for tests and scripted demos).
    pub max_frames: Option<u64>,
    /// Start paused.
    pub paused: bool,
    /// Start in split mode.
    pub split: bool,
}

impl Default for ViewerOptions {
    /// 256 x 256 panels at supersample 2, zoom 2, 10 fps, no frame limit, running, split off.
    fn default() -> Self {
        ViewerOptions {
            render: RenderConfig {
                width: 256,
                height: 256,
                supersample: 2,
            },
            zoom: 2,
            fps: 10.0,
            max_frames: None,
            paused: false,
            split: false,
        }
    }
}

/// What happened while the window was open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewerReport {
    /// Frames presented.
    pub frames: u64,
    /// Environment steps taken.
    pub steps: u64,
}

/// True when an X11 display is named in the environment (`DISPLAY`). The viewer is built
/// with winit's X11 backend only; on Wayland desktops it goes through XWayland.
pub fn display_available() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|s| !s.is_empty())
}

struct Gfx {
    window: Arc<Window>,
    renderer: Renderer,
    presenter: Presenter,
}

struct App<'a> {
    source: &'a mut dyn ViewerSource,
    options: ViewerOptions,
    gfx: Option<Gfx>,
    paused: bool,
    split: bool,
    next_tick: Instant,
    report: ViewerReport,
    error: Option<RenderError>,
}

impl App<'_> {
    fn period(&self) -> Duration {
        Duration::from_secs_f32(1.0 / self.options.fps)
    }

    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<Gfx, RenderError> {
        let r = self.options.render;
        let panels = if self.split { 2 } else { 1 };
        let (w, h) = window_size(&self.options, panels);
        let attrs = Window::default_attributes()
            .with_title(self.source.title())
            .with_inner_size(winit::dpi::PhysicalSize::new(w, h));
        let window = Arc::new(
            event_loop
                .create_window(attrs)
                .map_err(|e| RenderError::Viewer(format!("creating the window: {e}")))?,
        );
        let instance = gpu::new_instance();
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| RenderError::Viewer(format!("creating a wgpu surface: {e}")))?;
        let ctx = gpu::open(instance, Some(&surface))?;
        let presenter = Presenter::new(surface, &ctx.adapter, &ctx.device, &window)?;
        let renderer = Renderer::with_context(ctx, r)?;
        tracing::info!(adapter = %renderer.adapter_info(), "viewer: window open");
        Ok(Gfx {
            window,
            renderer,
            presenter,
        })
    }

    fn draw(&mut self) -> Result<(), RenderError> {
        let Some(gfx) = self.gfx.as_mut() else {
            return Ok(());
        };
        let mut scenes = self.source.frame_scenes();
        if scenes.is_empty() {
            return Err(RenderError::Viewer(
                "the source returned no scene to show".into(),
            ));
        }
        let imagined = if self.split {
            self.source.imagined_frame()
        } else {
            None
        };
        if !self.split || imagined.is_some() {
            scenes.truncate(1);
        }
        let batch = gfx.renderer.render_batch(&scenes[..scenes.len().min(2)])?;
        let mut frames = batch.frames();
        if let Some(img) = imagined {
            let (w, h) = (frames[0].width, frames[0].height);
            frames.push(resize_nearest(&img, w, h));
        }
        let frame = match frames.len() {
            2 => side_by_side(&frames[0], &frames[1], true)?,
            _ => frames.swap_remove(0),
        };
        let want = window_size(&self.options, batch.n as u32);
        let want = (
            want.0.max(frame.width * self.options.zoom),
            want.1.max(frame.height * self.options.zoom),
        );
        let have = gfx.window.inner_size();
        if (have.width, have.height) != want
            && let Some(s) = gfx
                .window
                .request_inner_size(winit::dpi::PhysicalSize::new(want.0, want.1))
        {
            gfx.presenter
                .resize(&gfx.renderer.gpu().device, s.width, s.height);
        }
        let g = gfx.renderer.gpu();
        if gfx.presenter.show(&g.device, &g.queue, &frame)? {
            self.report.frames += 1;
        }
        Ok(())
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, key: &Key) {
        let redraw = match key {
            Key::Named(NamedKey::Escape) => {
                event_loop.exit();
                false
            }
            Key::Named(NamedKey::Space) => {
                self.paused = !self.paused;
                false
            }
            Key::Named(NamedKey::ArrowRight) => self.single_step(),
            Key::Character(c) => match c.to_lowercase().as_str() {
                "q" => {
                    event_loop.exit();
                    false
                }
                "n" => self.single_step(),
                "c" => {
                    self.source.cycle_camera();
                    true
                }
                "s" => {
                    self.split = !self.split;
                    self.source.set_split(self.split);
                    true
                }
                "r" => {
                    self.source.reset();
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if redraw && let Some(g) = &self.gfx {
            g.window.request_redraw();
        }
    }

    fn single_step(&mut self) -> bool {
        self.source.step();
        self.report.steps += 1;
        true
    }
}

fn window_size(o: &ViewerOptions, panels: u32) -> (u32, u32) {
    let r = o.render;
    let extra = if panels == 2 {
        crate::output::LABEL_HEIGHT
    } else {
        0
    };
    let w = r.width * panels
        + if panels == 2 {
            crate::output::PANEL_GAP
        } else {
            0
        };
    (w * o.zoom, (r.height + extra) * o.zoom)
}

impl ApplicationHandler for App<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.gfx.is_some() {
            return;
        }
        match self.open(event_loop) {
            Ok(g) => {
                g.window.request_redraw();
                self.gfx = Some(g);
                self.next_tick = Instant::now() + self.period();
                event_loop.set_control_flow(ControlFlow::WaitUntil(self.next_tick));
            }
            Err(e) => {
                self.error = Some(e);
                event_loop.exit();
            }
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(s) => {
                if let Some(g) = self.gfx.as_mut() {
                    g.presenter
                        .resize(&g.renderer.gpu().device, s.width, s.height);
                    g.window.request_redraw();
                }
            }
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                self.key(event_loop, &event.logical_key);
            }
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.draw() {
                    self.error = Some(e);
                    event_loop.exit();
                } else if self
                    .options
                    .max_frames
                    .is_some_and(|m| self.report.frames >= m)
                {
                    event_loop.exit();
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        let Some(g) = &self.gfx else { return };
        let now = Instant::now();
        if now >= self.next_tick {
            if !self.paused {
                self.source.step();
                self.report.steps += 1;
            }
            g.window.request_redraw();
            self.next_tick = now.max(self.next_tick) + self.period();
        }
        event_loop.set_control_flow(ControlFlow::WaitUntil(self.next_tick));
    }
}

/// Opens the window and runs until the user quits, the window is closed or
/// `options.max_frames` frames were shown. Errors: no display, bad options, no adapter that
/// can present, rendering failures.
pub fn run(
    source: &mut dyn ViewerSource,
    options: ViewerOptions,
) -> Result<ViewerReport, RenderError> {
    if !display_available() {
        return Err(RenderError::Viewer(
            "no display: set DISPLAY (X11) or run under xvfb-run (e.g. `xvfb-run -a vlgor ...`); \
             headless rendering to files needs no display"
                .into(),
        ));
    }
    if !(options.fps.is_finite() && options.fps > 0.0) || options.zoom == 0 {
        return Err(RenderError::Viewer(format!(
            "fps {} must be a positive number and zoom {} must be >= 1",
            options.fps, options.zoom
        )));
    }
    let mut builder = EventLoop::builder();
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use winit::platform::x11::EventLoopBuilderExtX11;
        builder.with_any_thread(true);
    }
    let event_loop = builder
        .build()
        .map_err(|e| RenderError::Viewer(format!("opening the display's event loop: {e}")))?;
    let mut app = App {
        paused: options.paused,
        split: options.split,
        source,
        options,
        gfx: None,
        next_tick: Instant::now(),
        report: ViewerReport::default(),
        error: None,
    };
    app.source.set_split(app.split);
    event_loop
        .run_app(&mut app)
        .map_err(|e| RenderError::Viewer(format!("event loop: {e}")))?;
    match app.error {
        Some(e) => Err(e),
        None => Ok(app.report),
    }
}

/// Nearest-neighbour resize of an RGB8 frame to `width` x `height`.
fn resize_nearest(src: &Frame, width: u32, height: u32) -> Frame {
    if src.width == width && src.height == height {
        return src.clone();
    }
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        let sy = (y as u64 * src.height as u64 / height as u64) as u32;
        for x in 0..width {
            let sx = (x as u64 * src.width as u64 / width as u64) as u32;
            let i = ((sy * src.width + sx) * 3) as usize;
            pixels.extend_from_slice(&src.pixels[i..i + 3]);
        }
    }
    Frame {
        width,
        height,
        pixels,
    }
}
