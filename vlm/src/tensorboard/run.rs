//! A training run's curves as one TensorBoard event file, derived from its JSON-lines logs.
//!
//! * `train_log.jsonl` — every numeric field but `step` and `epoch` becomes `train/<field>`
//!   at that line's `step` (losses, learning rate);
//! * `evals.jsonl` — `success_rate` becomes `eval/success_rate` and each `per_task` entry
//!   `eval/<task>`, at step = the line's `epoch` (periodic closed-loop success).
//!
//! The logs are the record (a resumed run truncates them to its checkpoint); the event file is
//! rewritten from them, atomically, whenever they change.

use serde_json::Value;
use std::path::Path;

use super::event::{Scalar, encode_events};

/// Event file name inside a run directory (TensorBoard finds files whose name contains
/// `tfevents`).
pub const EVENT_FILE: &str = "events.out.tfevents.vlgor";
const TRAIN_LOG: &str = "train_log.jsonl";
const EVAL_LOG: &str = "evals.jsonl";

fn lines(path: &Path) -> Result<Vec<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn push(out: &mut Vec<Scalar>, tag: String, step: i64, v: &Value) {
    if let Some(value) = v.as_f64() {
        out.push(Scalar {
            tag,
            step,
            value: value as f32,
        });
    }
}

/// The scalars of `run_dir`'s logs, train lines first, in file order.
pub fn run_scalars(run_dir: &Path) -> Result<Vec<Scalar>, String> {
    let mut out = Vec::new();
    for line in lines(&run_dir.join(TRAIN_LOG))? {
        let (Some(obj), Some(step)) = (line.as_object(), line["step"].as_i64()) else {
            continue;
        };
        for (k, v) in obj {
            if k != "step" && k != "epoch" {
                push(&mut out, format!("train/{k}"), step, v);
            }
        }
    }
    for line in lines(&run_dir.join(EVAL_LOG))? {
        let Some(epoch) = line["epoch"].as_i64() else {
            continue;
        };
        push(
            &mut out,
            "eval/success_rate".into(),
            epoch,
            &line["success_rate"],
        );
        if let Some(tasks) = line["per_task"].as_object() {
            for (task, v) in tasks {
                push(&mut out, format!("eval/{task}"), epoch, v);
            }
        }
    }
    Ok(out)
}

/// Rewrites `run_dir/`[`EVENT_FILE`] from the run's logs (atomically).
pub fn write_run_events(run_dir: &Path) -> Result<(), String> {
    let scalars = run_scalars(run_dir)?;
    let path = run_dir.join(EVENT_FILE);
    vlgor_sim::dataset::write_atomic(&path, &encode_events(&scalars)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensorboard::decode_events;

    #[test]
    fn logs_become_tagged_curves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(TRAIN_LOG),
            "{\"step\":10,\"epoch\":1,\"lr\":0.001,\"loss\":2.5}\n{\"step\":20,\"epoch\":1,\"lr\":0.0005,\"loss\":1.5}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(EVAL_LOG),
            "{\"epoch\":1,\"success_rate\":0.25,\"per_task\":{\"clevr\":0.25}}\n",
        )
        .unwrap();
        write_run_events(dir.path()).unwrap();
        let got = decode_events(&std::fs::read(dir.path().join(EVENT_FILE)).unwrap()).unwrap();
        let find = |tag: &str| -> Vec<(i64, f32)> {
            got.iter()
                .filter(|s| s.tag == tag)
                .map(|s| (s.step, s.value))
                .collect()
        };
        assert_eq!(find("train/loss"), vec![(10, 2.5), (20, 1.5)]);
        assert_eq!(find("train/lr"), vec![(10, 0.001), (20, 0.0005)]);
        assert_eq!(find("eval/success_rate"), vec![(1, 0.25)]);
        assert_eq!(find("eval/clevr"), vec![(1, 0.25)]);
        assert!(find("train/step").is_empty() && find("train/epoch").is_empty());
    }

    #[test]
    fn a_broken_log_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TRAIN_LOG), "{\"step\":1}\nnot json\n").unwrap();
        let e = write_run_events(dir.path()).unwrap_err();
        assert!(e.contains("train_log.jsonl line 2"), "{e}");
    }
}
