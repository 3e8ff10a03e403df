//! `SimBatch`: N simulators of one kind stepped (in parallel, GIL released) and rendered in one
//! call. The Gymnasium single environment is a batch of one; the vector environment a batch of
//! `num_envs` with Gymnasium's next-step auto-reset.

use numpy::ndarray::{Array2, Array4};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray4, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;
use std::sync::Mutex;
use vlgor_sim::clevr::NUM_ACTIONS;
use vlgor_sim::{Action, EnvKind, EnvSpec, Level, SimError};

use crate::errors::sim_err;
use crate::render::{default_scene, render_scenes};
use crate::slot::{Slot, Transition};

/// Observations `[N, D]`, rewards, terminated, truncated, success, and which envs were reset
/// instead of stepped (auto-reset).
type StepResult<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<bool>>,
);

/// N simulators of one environment (and task) pursuing instructions of one level.
#[pyclass(module = "vlgor._vlgor")]
pub struct SimBatch {
    spec: EnvSpec,
    obs_dim: usize,
    slots: Mutex<Vec<Slot>>,
}

fn parse_level(level: &str) -> PyResult<Level> {
    level.parse().map_err(sim_err)
}

impl SimBatch {
    fn with_slots<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Vec<Slot>) -> R + Send) -> R {
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slots: &mut Vec<Slot> = &mut guard;
        py.detach(move || f(slots))
    }

    fn observations<'py>(&self, py: Python<'py>, slots: &[Slot]) -> Bound<'py, PyArray2<f32>> {
        let mut obs = Vec::with_capacity(slots.len() * self.obs_dim);
        for s in slots {
            obs.extend(s.env.observation());
        }
        Array2::from_shape_vec((slots.len(), self.obs_dim), obs)
            .expect("observation length is the env's")
            .into_pyarray(py)
    }

    /// Steps every env with its action; with `autoreset`, an env whose episode ended at the
    /// previous call is reset to a fresh episode instead (Gymnasium's next-step mode).
    fn step_all<'py>(
        &self,
        py: Python<'py>,
        actions: Vec<Action>,
        autoreset: bool,
    ) -> PyResult<StepResult<'py>> {
        let n = self.num_envs();
        if actions.len() != n {
            return Err(PyValueError::new_err(format!(
                "got {} actions for {n} environments",
                actions.len()
            )));
        }
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let all: &mut Vec<Slot> = &mut slots;
        let results: Vec<Result<(Transition, bool), SimError>> = py.detach(move || {
            all.par_iter_mut()
                .zip(actions.par_iter())
                .map(|(slot, action)| {
                    if autoreset && slot.done {
                        let (seed, level) = (slot.next_seed(), slot.level);
                        slot.reset(seed, level)?;
                        return Ok((Transition::default(), true));
                    }
                    Ok((slot.step(action)?, false))
                })
                .collect()
        });
        let mut rewards = Vec::with_capacity(n);
        let (mut term, mut trunc, mut success, mut reset) = (vec![], vec![], vec![], vec![]);
        for r in results {
            let (t, was_reset) = r.map_err(sim_err)?;
            rewards.push(t.reward);
            term.push(t.terminated);
            trunc.push(t.truncated);
            success.push(t.success);
            reset.push(was_reset);
        }
        Ok((
            self.observations(py, &slots),
            PyArray1::from_vec(py, rewards),
            PyArray1::from_vec(py, term),
            PyArray1::from_vec(py, trunc),
            PyArray1::from_vec(py, success),
            PyArray1::from_vec(py, reset),
        ))
    }

    fn actions_out(&self, py: Python<'_>, actions: Vec<Action>) -> Py<PyAny> {
        match self.spec.kind() {
            EnvKind::Clevr => {
                let v: Vec<i64> = actions
                    .iter()
                    .map(|a| match a {
                        Action::Discrete(d) => *d as i64,
                        Action::Continuous(_) => -1,
                    })
                    .collect();
                PyArray1::from_vec(py, v).into_any().unbind()
            }
            EnvKind::MetaWorld => {
                let v: Vec<f32> = actions
                    .iter()
                    .flat_map(|a| match a {
                        Action::Continuous(c) => *c,
                        Action::Discrete(_) => [f32::NAN; 4],
                    })
                    .collect();
                Array2::from_shape_vec((actions.len(), 4), v)
                    .expect("4 values per action")
                    .into_pyarray(py)
                    .into_any()
                    .unbind()
            }
        }
    }
}

#[pymethods]
impl SimBatch {
    /// `num_envs` simulators of `env` (`clevr` or `metaworld`; Meta-World needs `task`) whose
    /// episodes draw instructions of `level`.
    #[new]
    #[pyo3(signature = (env, task=None, level="seen", num_envs=1))]
    fn new(env: &str, task: Option<&str>, level: &str, num_envs: usize) -> PyResult<SimBatch> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1"));
        }
        if env == "metaworld" && task.is_none() {
            return Err(PyValueError::new_err(
                "Meta-World needs a task; valid tasks: ".to_string() + &task_names().join(", "),
            ));
        }
        let kind: vlgor_sim::EnvKind = env.parse().map_err(sim_err)?;
        let task = task
            .map(|t| t.parse::<vlgor_sim::metaworld::Task>().map_err(sim_err))
            .transpose()?;
        let spec = EnvSpec::select(kind, task.map(vlgor_sim::TaskChoice::One)).map_err(sim_err)?[0];
        let level = parse_level(level)?;
        let slots: Vec<Slot> = (0..num_envs)
            .map(|_| Slot::new(spec, level))
            .collect::<Result<_, _>>()
            .map_err(sim_err)?;
        let obs_dim = slots[0].env.observation().len();
        Ok(SimBatch {
            spec,
            obs_dim,
            slots: Mutex::new(slots),
        })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    #[getter]
    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// `clevr` or `metaworld`.
    #[getter]
    fn env(&self) -> &'static str {
        self.spec.kind().name()
    }

    /// `clevr` or the Meta-World task.
    #[getter]
    fn task(&self) -> &'static str {
        self.spec.label()
    }

    /// Discrete actions (CLEVR: 40), or 0 for the continuous 4-d Sawyer action.
    #[getter]
    fn num_actions(&self) -> usize {
        match self.spec.kind() {
            EnvKind::Clevr => NUM_ACTIONS,
            EnvKind::MetaWorld => 0,
        }
    }

    /// Steps each episode may take at most (CLEVR directional goals: 1).
    fn horizons(&self) -> Vec<usize> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.iter().map(|s| s.env.horizon()).collect()
    }

    /// Starts episode `seeds[i]` in env i (all envs when `mask` is None, else where it is
    /// true), at `level` (default: the batch's). Returns the observations `[N, D]`.
    #[pyo3(signature = (seeds, level=None, mask=None))]
    fn reset<'py>(
        &self,
        py: Python<'py>,
        seeds: Vec<u64>,
        level: Option<&str>,
        mask: Option<Vec<bool>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n = self.num_envs();
        if seeds.len() != n || mask.as_ref().is_some_and(|m| m.len() != n) {
            return Err(PyValueError::new_err(format!(
                "reset needs {n} seeds (and mask entries), one per environment"
            )));
        }
        let level = level.map(parse_level).transpose()?;
        let mask = mask.unwrap_or_else(|| vec![true; n]);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let all: &mut Vec<Slot> = &mut slots;
        py.detach(move || {
            all.par_iter_mut()
                .zip(seeds.par_iter().zip(mask.par_iter()))
                .filter(|(_, (_, m))| **m)
                .try_for_each(|(slot, (seed, _))| {
                    let l = level.unwrap_or(slot.level);
                    slot.reset(*seed, l)
                })
        })
        .map_err(sim_err)?;
        Ok(self.observations(py, &slots))
    }

    /// Steps CLEVR envs with pushes `actions[i]` in 0..40.
    #[pyo3(signature = (actions, autoreset=false))]
    fn step_discrete<'py>(
        &self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'py, i64>,
        autoreset: bool,
    ) -> PyResult<StepResult<'py>> {
        if self.spec.kind() != EnvKind::Clevr {
            return Err(PyValueError::new_err(
                "Meta-World takes continuous actions [N, 4]",
            ));
        }
        let mut out = Vec::new();
        for &a in actions.as_array().iter() {
            if !(0..NUM_ACTIONS as i64).contains(&a) {
                return Err(PyValueError::new_err(format!(
                    "action {a} is outside Discrete({NUM_ACTIONS})"
                )));
            }
            out.push(Action::Discrete(a as u32));
        }
        self.step_all(py, out, autoreset)
    }

    /// Steps Meta-World envs with Sawyer actions `actions[i]` = (dx, dy, dz, grip) in [-1, 1].
    #[pyo3(signature = (actions, autoreset=false))]
    fn step_continuous<'py>(
        &self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, f32>,
        autoreset: bool,
    ) -> PyResult<StepResult<'py>> {
        if self.spec.kind() != EnvKind::MetaWorld {
            return Err(PyValueError::new_err("CLEVR takes discrete actions [N]"));
        }
        let a = actions.as_array();
        if a.ncols() != 4 {
            return Err(PyValueError::new_err(format!(
                "actions have {} columns; the Sawyer action has 4",
                a.ncols()
            )));
        }
        let mut out = Vec::with_capacity(a.nrows());
        for row in a.rows() {
            if row.iter().any(|v| !v.is_finite()) {
                return Err(PyValueError::new_err("actions must be finite"));
            }
            out.push(Action::Continuous([row[0], row[1], row[2], row[3]]));
        }
        self.step_all(py, out, autoreset)
    }

    /// The scripted expert's action per env; with probability `noise` a random one.
    #[pyo3(signature = (noise=0.0))]
    fn expert_actions(&self, py: Python<'_>, noise: f32) -> PyResult<Py<PyAny>> {
        if !(0.0..=1.0).contains(&noise) {
            return Err(PyValueError::new_err(format!(
                "noise {noise} is outside [0, 1]"
            )));
        }
        let actions = self.with_slots(py, |slots| {
            slots
                .par_iter_mut()
                .map(|s| s.expert_action(noise))
                .collect()
        });
        Ok(self.actions_out(py, actions))
    }

    /// A uniformly random action per env, from each episode's own action stream.
    fn random_actions(&self, py: Python<'_>) -> Py<PyAny> {
        let actions = self.with_slots(py, |slots| {
            slots.iter_mut().map(|s| s.random_action()).collect()
        });
        self.actions_out(py, actions)
    }

    /// Frames of every env from its default camera, `[N, 128, 128, 3]` uint8.
    fn render<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray4<u8>>> {
        let batch = self.with_slots(py, |slots| {
            let scenes: Vec<_> = slots
                .iter()
                .map(|s| default_scene(s.env.as_ref()))
                .collect::<PyResult<_>>()?;
            render_scenes(&scenes)
        })?;
        let shape = batch.shape();
        Ok(Array4::from_shape_vec(shape, batch.pixels)
            .expect("frame batch shape")
            .into_pyarray(py))
    }

    /// Per env: (instruction text, goal spec JSON, level, episode seed, steps taken).
    fn infos(&self) -> Vec<(String, String, &'static str, u64, usize)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .map(|s| {
                (
                    s.env.instruction().text.clone(),
                    s.goal_json(),
                    s.level.name(),
                    s.episode_seed,
                    s.env.steps(),
                )
            })
            .collect()
    }

    /// The full physical state of env i (enough to re-render and re-simulate).
    fn state<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let s = slots
            .get(i)
            .ok_or_else(|| PyValueError::new_err(format!("no environment {i}")))?;
        Ok(PyArray1::from_vec(py, s.env.state()))
    }
}

/// The ten Meta-World task names.
pub fn task_names() -> Vec<&'static str> {
    vlgor_sim::metaworld::Task::ALL
        .iter()
        .map(|t| t.name())
        .collect()
}
