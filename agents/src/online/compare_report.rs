//! `vlgor varl`'s report: `report.md` (steps to the threshold and final success per task and
//! advisor, with the bar per task) and `curves.png` (success vs env steps, mean ± std over
//! seeds, advised vs unadvised, one panel per task).

use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

use super::compare::{CURVES_FILE, CompareResults, REPORT_FILE, TaskResult, arm_key};
use crate::cli::AdvisorArg;
use crate::error::CliError;
use crate::pipeline::plots::{PlotResult, register_font};

fn color(a: AdvisorArg) -> RGBColor {
    match a {
        AdvisorArg::None => RGBColor(90, 90, 90),
        AdvisorArg::WorldModel => RGBColor(31, 119, 180),
        AdvisorArg::Expert => RGBColor(44, 160, 44),
    }
}

fn steps_cell(t: &TaskResult, key: &str) -> String {
    let Some(s) = t.steps_to_threshold.get(key) else {
        return "—".into();
    };
    let seeds: Vec<String> = s
        .per_seed
        .iter()
        .map(|v| v.map_or(format!(">{}", t.steps), |v| v.to_string()))
        .collect();
    format!(
        "{:.0} ± {:.0} ({}{})",
        s.mean,
        s.std,
        seeds.join(" / "),
        if s.censored > 0 {
            format!("; {} censored", s.censored)
        } else {
            String::new()
        }
    )
}

/// The markdown report.
pub fn markdown(r: &CompareResults, command: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# VARL: the world model as action advisor for online RL\n"
    );
    let _ = writeln!(
        md,
        "Command: `{command}` (preset `{}`, seeds {:?}, {} reward, advice `{}`).\n",
        r.preset, r.seeds, r.reward, r.advice
    );
    let _ = writeln!(
        md,
        "Steps to threshold = env steps of a run's first closed-loop evaluation ({} greedy \
         episodes of the training level, every {} env steps) at or above the task's success \
         threshold; a run that never reaches it is censored and counts as its length (a lower \
         bound), so a ratio with censored *unadvised* runs is an upper bound of the true ratio \
         and one with censored *advised* runs a lower bound. Bar: advised ≤ 0.7 × unadvised and \
         the advised final success not below the unadvised one.\n",
        r.online.eval_episodes, r.online.eval_every
    );
    let _ = writeln!(
        md,
        "| env / task | learner | steps | threshold | arm | steps to threshold, mean ± std (per \
         seed) | final success, mean ± std | advisor share of wall time | wall time per run (s) \
         |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for t in &r.tasks {
        for a in &t.arms {
            let key = arm_key(a.advisor);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} | {key} | {} | {:.3} ± {:.3} | {} | {:.0} ± {:.0} |",
                t.task,
                t.algo,
                t.steps,
                t.threshold,
                steps_cell(t, key),
                a.final_success.mean,
                a.final_success.std,
                if a.advisor == AdvisorArg::None {
                    "—".into()
                } else {
                    format!("{:.1}%", 100.0 * a.advisor_share.mean)
                },
                a.seconds.mean,
                a.seconds.std,
            );
        }
    }
    let _ = writeln!(md, "\n| env / task | advised / unadvised steps | bar met |");
    let _ = writeln!(md, "|---|---|---|");
    for t in &r.tasks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            t.task,
            t.ratio.map_or("—".into(), |x| format!("{x:.2}×")),
            if t.meets_bar { "yes" } else { "no" }
        );
    }
    let met = r.tasks.iter().filter(|t| t.meets_bar).count();
    let _ = writeln!(
        md,
        "\nBar met on {met} of {} tasks. Advisor share of wall time over the advised runs: \
         {:.1}% (target ≤ 20%). Runs' wall time in all: {:.1} min.\n",
        r.tasks.len(),
        100.0 * r.advisor_share,
        r.run_seconds / 60.0
    );
    let _ = writeln!(md, "![success vs env steps]({CURVES_FILE})");
    md
}

/// Writes `report.md` and `curves.png` into `out`.
pub fn write(out: &Path, r: &CompareResults, command: &str) -> Result<(), CliError> {
    vlgor_sim::dataset::write_atomic(&out.join(REPORT_FILE), markdown(r, command).as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    curves(&out.join(CURVES_FILE), r)
        .map_err(|e| CliError::Other(anyhow::anyhow!("{}: {e}", out.join(CURVES_FILE).display())))
}

/// One panel per task: success vs env steps, mean line and ±std band per advisor.
fn curves(path: &Path, r: &CompareResults) -> PlotResult<()> {
    register_font()?;
    let n = r.tasks.len().max(1);
    let root = BitMapBackend::new(path, (420 * n as u32, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    for (panel, t) in root.split_evenly((1, n)).iter().zip(&r.tasks) {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{} ({})", t.task, t.algo), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..t.steps as f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|x| format!("{:.0}k", x / 1000.0))
            .x_desc("env steps")
            .y_desc("success")
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(0.0, t.threshold), (t.steps as f64, t.threshold)],
            BLACK.mix(0.4).stroke_width(1),
        ))?;
        for a in &t.arms {
            let c = color(a.advisor);
            let upper: Vec<(f64, f64)> = a
                .curve
                .iter()
                .map(|&(x, m, s)| (x as f64, (m + s).min(1.0)))
                .collect();
            let lower: Vec<(f64, f64)> = a
                .curve
                .iter()
                .rev()
                .map(|&(x, m, s)| (x as f64, (m - s).max(0.0)))
                .collect();
            let band: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
            chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))?;
            chart
                .draw_series(LineSeries::new(
                    a.curve.iter().map(|&(x, m, _)| (x as f64, m)),
                    c.stroke_width(2),
                ))?
                .label(arm_key(a.advisor))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
