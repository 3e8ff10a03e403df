//! TensorBoard event files (which W&B also syncs), written without TensorFlow.
//!
//! * [`record`] — TFRecord framing: `u64` length, masked CRC-32C of the length, payload,
//!   masked CRC-32C of the payload (all little-endian).
//! * [`event`] — the `Event` / `Summary` protocol buffers for scalar values, encoded by hand
//!   (`Event{wall_time=1, step=2, file_version=3, summary=5}`, `Summary{value=1}`,
//!   `Summary.Value{tag=1, simple_value=2}`).
//! * [`run`] — a run directory's curves: `train_log.jsonl` and `evals.jsonl` rewritten as one
//!   event file [`EVENT_FILE`] beside them.
//!
//! Events carry `wall_time = 0`: the files are a pure function of the JSON logs, so identical
//! runs (and resumed ones) write identical bytes. TensorBoard plots them against `step`.

pub mod event;
pub mod record;
pub mod run;

pub use event::{Scalar, decode_events, encode_events};
pub use run::{EVENT_FILE, write_run_events};
