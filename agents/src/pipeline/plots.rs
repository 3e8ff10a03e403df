//! The pipeline's figures (plotters, PNG): success per level (the paper's Figure 4) and success
//! vs epoch (Figure 6). The real-vs-imagined strips are written by the world-model evaluation.
//! Text uses DejaVu Sans from the Debian package fonts-dejavu-core (installed by setup).

use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use super::Layout;
use super::arms::VARIANT_NAMES;
use super::results::Results;
use super::stages::EVAL_LEVELS;
use crate::curves::PolicyEval;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// One colour per data variant, in report order ([`VARIANT_NAMES`]; tab10).
const COLORS: [RGBColor; 10] = [
    RGBColor(90, 90, 90),
    RGBColor(31, 119, 180),
    RGBColor(140, 86, 75),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(44, 160, 44),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(227, 119, 194),
];

/// A variant's colour: the same in every group, whichever variants a group has.
fn color_of(variant: &str) -> RGBColor {
    let k = VARIANT_NAMES
        .iter()
        .position(|v| *v == variant)
        .unwrap_or(VARIANT_NAMES.len());
    COLORS[k % COLORS.len()]
}

/// Report order of a variant (unknown names last, by name).
fn rank(variant: &str) -> (usize, String) {
    let k = VARIANT_NAMES.iter().position(|v| *v == variant);
    (k.unwrap_or(usize::MAX), variant.to_string())
}

pub(crate) type PlotResult<T> = Result<T, Box<dyn std::error::Error>>;

/// A bar group: its label and (variant, mean %, std %) per bar.
type BarGroup = (String, Vec<(String, f64, f64)>);

/// Registers DejaVu Sans as plotters' "sans-serif" (once per process).
pub(crate) fn register_font() -> PlotResult<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = std::fs::read(FONT)
            .map_err(|e| format!("{FONT}: {e} (install the Debian package fonts-dejavu-core)"))?;
        let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, leaked)
            .map_err(|_| format!("{FONT} is not a usable font"))
    })
    .clone()
    .map_err(Into::into)
}

/// Writes every plot into `OUT/plots/`.
pub fn write_all(l: &Layout, results: &Results) -> PlotResult<()> {
    register_font()?;
    let dir = l.out.join("plots");
    std::fs::create_dir_all(&dir)?;
    success_per_level(&dir.join("success_per_level.png"), results)?;
    success_vs_epoch(&dir.join("success_vs_epoch.png"), l, results)?;
    Ok(())
}

/// Grouped bars: one group per (algorithm, level), one bar per data variant, with ±std whiskers.
fn success_per_level(path: &Path, r: &Results) -> PlotResult<()> {
    // A level a variant lacks, or a statistic that is not a number, draws as 0.
    let percent = |x: Option<f64>| 100.0 * x.filter(|x| x.is_finite()).unwrap_or(0.0);
    let mut groups: Vec<BarGroup> = Vec::new();
    for (algo, per) in &r.success {
        for level in EVAL_LEVELS {
            if !per.values().any(|levels| levels.contains_key(level)) {
                continue; // a level this environment does not define
            }
            let mut bars: Vec<(String, f64, f64)> = per
                .iter()
                .map(|(variant, levels)| {
                    let c = levels.get(level);
                    (
                        variant.clone(),
                        percent(c.map(|c| c.mean)),
                        percent(c.map(|c| c.std)),
                    )
                })
                .collect();
            bars.sort_by_key(|(variant, _, _)| rank(variant));
            groups.push((format!("{} {level}", algo.to_uppercase()), bars));
        }
    }
    let root = BitMapBackend::new(path, (1300, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = groups.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Closed-loop success per level", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..n + 1.6, 0f64..112f64)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .light_line_style(WHITE)
        .y_desc("success (%)")
        .draw()?;
    // Group names above the bars (the top 12% of the plot is kept free for them).
    for (g, (name, _)) in groups.iter().enumerate() {
        chart.draw_series(std::iter::once(Text::new(
            name.clone(),
            (g as f64 + 0.12, 106.0),
            ("sans-serif", 13),
        )))?;
    }
    let mut legend: BTreeMap<(usize, String), RGBColor> = BTreeMap::new();
    for (g, (_, bars)) in groups.iter().enumerate() {
        let w = 0.8 / bars.len().max(1) as f64;
        for (k, (variant, mean, std)) in bars.iter().enumerate() {
            let color = color_of(variant);
            legend.entry(rank(variant)).or_insert(color);
            let x0 = g as f64 + 0.1 + k as f64 * w;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x0 + w * 0.9, *mean)],
                color.filled(),
            )))?;
            let xc = x0 + w * 0.45;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(xc, (mean - std).max(0.0)), (xc, (mean + std).min(100.0))],
                BLACK,
            )))?;
        }
    }
    for ((_, variant), color) in legend {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (0.0, 0.0)],
                color.filled(),
            )))?
            .label(variant)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Periodic training-time success (training-level goals) per epoch, mean over seeds: one panel
/// per algorithm, one line per data variant (coloured as in the bars), a dot per evaluation.
fn success_vs_epoch(path: &Path, l: &Layout, r: &Results) -> PlotResult<()> {
    type Lines = Vec<(String, Vec<(f64, f64)>)>;
    let mut panels: Vec<(String, Lines)> = Vec::new();
    let mut max_epoch = 1.0f64;
    for (algo, per) in &r.success {
        let mut variants: Vec<&String> = per.keys().collect();
        variants.sort_by_key(|v| rank(v));
        let mut lines = Vec::new();
        for variant in variants {
            let mut by_epoch: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for &s in &r.seeds {
                for e in PolicyEval::read_all(&l.policy(algo, variant, s)) {
                    by_epoch
                        .entry(e.epoch)
                        .or_default()
                        .push(100.0 * e.success_rate);
                }
            }
            let pts: Vec<(f64, f64)> = by_epoch
                .into_iter()
                .map(|(e, xs)| (e as f64, xs.iter().sum::<f64>() / xs.len() as f64))
                .collect();
            if let Some(last) = pts.last() {
                max_epoch = max_epoch.max(last.0);
                lines.push((variant.clone(), pts));
            }
        }
        panels.push((algo.to_uppercase(), lines));
    }
    let root = BitMapBackend::new(path, (1300, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for ((algo, lines), area) in panels.into_iter().zip(&areas) {
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{algo}: success during training (training-level goals)"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..max_epoch, 0f64..100f64)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("success (%)")
            .draw()?;
        for (variant, pts) in lines {
            let color = color_of(&variant);
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(variant)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
