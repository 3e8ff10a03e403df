//! `vlgor view`: the debugging window.

use crate::cli::ViewArgs;
use crate::context::Context;
use crate::error::CliError;

pub fn run(_ctx: &Context, _args: &ViewArgs) -> Result<(), CliError> {
    Err(CliError::NotBuilt("view", "the debugging window lands with issue #5"))
}
