//! Constructs simulators and instructions by name, for every command (the types live in
//! [`vlgor_sim::spec`], shared with the Python bindings).

pub use vlgor_sim::spec::{EnvSpec, task_table};
