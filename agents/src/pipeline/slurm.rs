//! `vlgor pipeline slurm DIR`: a planned directory as Slurm batch scripts. Slurm schedules;
//! vlgor only writes what `sbatch` reads: one script per stage, the policy grid as one job
//! array (and each split stage's parts as another), `--dependency=afterok:` between them, and
//! `submit.sh`, which submits them in order.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::cluster::open_planned;
use super::plan::{Job, Resources, Work, outputs_exist};
use crate::context::Context;
use crate::error::CliError;

/// The script holding the policy grid as one job array.
const POLICY_ARRAY: &str = "policy_runs";

/// Where and how the jobs run.
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub gpu_partition: Option<String>,
    pub account: Option<String>,
    pub time_scale: f64,
    pub submit: bool,
}

/// One `sbatch` script: a single job, or an array (the policy runs, a stage's parts).
struct Script {
    name: String,
    array: bool,
    /// Job ids of the plan it runs (one per array task).
    jobs: Vec<String>,
    /// Scripts it waits for.
    after: Vec<String>,
    resources: Resources,
}

/// Groups the plan's unfinished jobs into scripts: every policy run into one array, each
/// split stage's parts into one array (`{stage}_parts`), each other job alone; a finished job
/// is neither run again nor waited for.
fn scripts(jobs: &[Job], finished: &dyn Fn(&Job) -> bool) -> Vec<Script> {
    let jobs: Vec<&Job> = jobs.iter().filter(|j| !finished(j)).collect();
    let pending = |id: &str| jobs.iter().any(|j| j.id == id);
    let array = POLICY_ARRAY;
    let script_of = |id: &str| -> (String, bool) {
        match jobs.iter().find(|j| j.id == id).map(|j| j.work) {
            Some(Work::PolicyRun { .. }) => (array.to_string(), true),
            Some(Work::StagePart { stage, .. }) => (format!("{stage}_parts"), true),
            _ => (id.to_string(), false),
        }
    };
    let mut out: Vec<Script> = Vec::new();
    for j in &jobs {
        let (name, is_array) = script_of(&j.id);
        let mut after: Vec<String> = j
            .after
            .iter()
            .filter(|a| pending(a))
            .map(|a| script_of(a).0)
            .collect();
        after.sort();
        after.dedup();
        match out.iter_mut().find(|s| s.name == name) {
            Some(s) => {
                s.jobs.push(j.id.clone());
                s.resources.minutes = s.resources.minutes.max(j.resources.minutes);
                s.resources.gpu |= j.resources.gpu;
            }
            None => out.push(Script {
                name,
                array: is_array,
                jobs: vec![j.id.clone()],
                after,
                resources: j.resources.clone(),
            }),
        }
    }
    out
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn batch_script(s: &Script, dir: &Path, exe: &Path, o: &SlurmOptions) -> String {
    let logs = dir.join("slurm");
    let mut t = String::from("#!/bin/bash\n");
    let _ = writeln!(t, "#SBATCH --job-name=vlgor-{}", s.name);
    let _ = writeln!(t, "#SBATCH --cpus-per-task={}", s.resources.cpus);
    let _ = writeln!(t, "#SBATCH --mem={}G", s.resources.memory_gb);
    let minutes = ((s.resources.minutes as f64) * o.time_scale)
        .ceil()
        .max(1.0) as u64;
    let _ = writeln!(t, "#SBATCH --time={minutes}");
    let gpu = s.resources.gpu && o.gpu_partition.is_some();
    match (gpu, &o.gpu_partition, &o.partition) {
        (true, Some(g), _) => {
            let _ = writeln!(t, "#SBATCH --partition={g}\n#SBATCH --gres=gpu:1");
        }
        (_, _, Some(p)) => {
            let _ = writeln!(t, "#SBATCH --partition={p}");
        }
        _ => {}
    }
    if let Some(a) = &o.account {
        let _ = writeln!(t, "#SBATCH --account={a}");
    }
    let array = s.array;
    let log = if array {
        format!("{}-%A_%a.log", s.name)
    } else {
        format!("{}-%j.log", s.name)
    };
    let _ = writeln!(t, "#SBATCH --output={}", logs.join(log).display());
    if array {
        let _ = writeln!(t, "#SBATCH --array=0-{}", s.jobs.len() - 1);
    }
    t.push_str("set -euo pipefail\n");
    let _ = writeln!(
        t,
        "JOBS=({})",
        s.jobs
            .iter()
            .map(|j| quote(j))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        t,
        "exec {} --threads \"${{VLGOR_THREADS:-${{SLURM_CPUS_PER_TASK:-1}}}}\" --device auto pipeline run-job {} --job \"${{JOBS[${{SLURM_ARRAY_TASK_ID:-0}}]}}\"",
        quote(&exe.display().to_string()),
        quote(&dir.display().to_string())
    );
    t
}

/// `submit.sh`: every script through `sbatch --parsable`, each after the ones it waits for.
fn submit_script(scripts: &[Script], dir: &Path) -> String {
    let var = |n: &str| format!("job_{}", n.replace('-', "_"));
    let mut t = String::from(
        "#!/bin/bash\n# Submits the pipeline's jobs in order; prints each Slurm job id.\nset -euo pipefail\n",
    );
    for s in scripts {
        let dep = if s.after.is_empty() {
            String::new()
        } else {
            format!(
                " --dependency=afterok:{}",
                s.after
                    .iter()
                    .map(|a| format!("${}", var(a)))
                    .collect::<Vec<_>>()
                    .join(":")
            )
        };
        let path = dir.join("slurm").join(format!("{}.sbatch", s.name));
        let _ = writeln!(
            t,
            "{}=$(sbatch --parsable{dep} {})\necho \"{} ${}\"",
            var(&s.name),
            quote(&path.display().to_string()),
            s.name,
            var(&s.name)
        );
    }
    t
}

fn write_file(path: &Path, text: &str, executable: bool) -> Result<(), CliError> {
    vlgor_sim::dataset::write_atomic(path, text.as_bytes())
        .map_err(|e| CliError::Other(anyhow::anyhow!("{}: {e}", path.display())))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| CliError::Other(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    Ok(())
}

pub fn write(ctx: &Context, dir: &Path, o: &SlurmOptions) -> Result<(), CliError> {
    if !(o.time_scale.is_finite() && o.time_scale > 0.0) {
        return Err(CliError::Input(format!(
            "--time-scale must be a positive number, got {}",
            o.time_scale
        )));
    }
    let (_, plan, _) = open_planned(ctx, dir)?;
    // Absolute paths: the scripts run from Slurm's working directory on another node.
    let dir: PathBuf = std::fs::canonicalize(dir)
        .map_err(|e| CliError::Input(format!("{}: {e}", dir.display())))?;
    let exe = std::env::current_exe().map_err(|e| CliError::Other(e.into()))?;
    let scripts = scripts(&plan.jobs, &|j| outputs_exist(&dir, j).is_ok());
    if scripts.is_empty() {
        println!("slurm: every job of {} has finished", dir.display());
        return Ok(());
    }
    let slurm = dir.join("slurm");
    std::fs::create_dir_all(&slurm)
        .map_err(|e| CliError::Input(format!("{}: {e}", slurm.display())))?;
    // Scripts of an earlier submission whose jobs have finished since are removed.
    if let Ok(entries) = std::fs::read_dir(&slurm) {
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "sbatch") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    for s in &scripts {
        write_file(
            &slurm.join(format!("{}.sbatch", s.name)),
            &batch_script(s, &dir, &exe, o),
            false,
        )?;
    }
    let submit = slurm.join("submit.sh");
    write_file(&submit, &submit_script(&scripts, &dir), true)?;
    let arrays: Vec<String> = scripts
        .iter()
        .filter(|s| s.array)
        .map(|s| format!("{}: an array of {}", s.name, s.jobs.len()))
        .collect();
    println!(
        "slurm: {} scripts in {}{}; submit with {}",
        scripts.len(),
        slurm.display(),
        if arrays.is_empty() {
            String::new()
        } else {
            format!(" ({})", arrays.join(", "))
        },
        submit.display()
    );
    if o.submit {
        let out = std::process::Command::new("bash")
            .arg(&submit)
            .output()
            .map_err(|e| CliError::Input(format!("cannot run {}: {e}", submit.display())))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(CliError::Input(format!(
                "{} failed (is sbatch on PATH?): {}",
                submit.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}
