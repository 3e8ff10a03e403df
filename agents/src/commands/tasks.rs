//! `vlgor tasks`: levels, goals and example instructions per environment.

use vlgor_sim::{EnvKind, Level};

use crate::cli::TasksArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::report::table;
use vlgor_sim::spec::task_table;

pub fn run(ctx: &Context, args: &TasksArgs) -> Result<(), CliError> {
    let kinds: Vec<EnvKind> = match args.env {
        Some(e) => vec![e],
        None => EnvKind::ALL.to_vec(),
    };
    let level: Option<Level> = args.level;
    let mut json = serde_json::Map::new();
    for kind in kinds {
        let rows: Vec<_> = task_table(kind)
            .into_iter()
            .filter(|r| level.is_none_or(|l| r.level == l))
            .collect();
        if !ctx.json {
            println!("{kind}: {} goals", rows.len());
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| vec![r.level.to_string(), r.goal.clone(), r.example.clone()])
                .collect();
            println!(
                "{}\n",
                table(&["level", "goal", "example instruction"], &cells)
            );
        }
        json.insert(
            kind.name().into(),
            serde_json::to_value(&rows).map_err(anyhow::Error::from)?,
        );
    }
    ctx.emit_json(&serde_json::Value::Object(json));
    Ok(())
}
