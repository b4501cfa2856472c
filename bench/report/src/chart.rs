//! The chart: median wall time per scenario (groups) and tool (bars), on a log scale.
//!
//! Drawn with plotters' SVG backend only. Without the `ttf` feature plotters measures text with
//! a built-in estimate instead of reading system fonts, and the SVG names a generic
//! `sans-serif` family that the viewer resolves, so nothing here depends on installed fonts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{summarise, Run, Summary};

/// Width and height of the smallest chart in pixels; it grows wider with the number of bars.
pub const SIZE: (u32, u32) = (1400, 600);

/// Room on the right for the legend, in pixels.
const LEGEND_W: i32 = 230;

/// Room for the margins and the y axis's labels, in pixels.
const FRAME_W: u32 = 12 + 70 + 12;

/// Pixels per x unit (one bar, or the gap of a group) at least: room for a value like "0.30".
const UNIT_PX: u32 = 26;

/// Where each group sits on the x axis, in units of one bar: a group of `n` bars spans `n + 1`
/// units (half a unit of gap on each side), so every bar has the same width however many
/// tools a scenario ran. Returns each group's start and the total.
pub fn layout(groups: &[(String, Vec<(String, Bar)>)]) -> (Vec<f64>, f64) {
    let mut starts = Vec::with_capacity(groups.len());
    let mut x = 0.0;
    for (_, bs) in groups {
        starts.push(x);
        x += bs.len() as f64 + 1.0;
    }
    (starts, x.max(1.0))
}

/// The chart's size for `units` x units: [`SIZE`], or wider when the bars would not fit.
pub fn size_for(units: f64) -> (u32, u32) {
    let need = (units.ceil() as u32) * UNIT_PX + FRAME_W + LEGEND_W as u32;
    (SIZE.0.max(need), SIZE.1)
}

/// Dark enough for a hollow (timed-out) bar to show; portscout's engines come first.
const PALETTE: [(u8, u8, u8); 12] = [
    (214, 39, 40),
    (255, 127, 14),
    (188, 130, 20),
    (140, 86, 75),
    (31, 119, 180),
    (44, 160, 44),
    (148, 103, 189),
    (23, 190, 207),
    (227, 119, 194),
    (127, 127, 127),
    (0, 0, 128),
    (0, 100, 0),
];

/// One bar: a completed median, or the time limit a tool never finished within.
#[derive(Clone, Debug, PartialEq)]
pub enum Bar {
    /// Median wall time of the completed runs, in seconds.
    Median(f64),
    /// Every run was killed at the limit: at least this many seconds.
    TimedOut(f64),
    /// Every run failed: no time to show, only the word.
    Failed,
}

impl Bar {
    fn secs(&self) -> Option<f64> {
        match self {
            Bar::Median(s) | Bar::TimedOut(s) => Some(*s),
            Bar::Failed => None,
        }
    }
}

/// The bars per scenario, in first-appearance order: `(scenario, [(tool, bar)])`.
pub fn bars(runs: &[Run]) -> Vec<(String, Vec<(String, Bar)>)> {
    let mut out: Vec<(String, Vec<(String, Bar)>)> = Vec::new();
    for s in summarise(runs) {
        let bar = match (s.median_wall(), s.timeout_wall()) {
            (Some(m), _) => Bar::Median(m),
            (None, Some(t)) => Bar::TimedOut(t),
            (None, None) => Bar::Failed,
        };
        let Summary { scenario, tool, .. } = s;
        if out.last().map(|(sc, _)| sc != &scenario).unwrap_or(true) {
            out.push((scenario, Vec::new()));
        }
        out.last_mut().expect("pushed above").1.push((tool, bar));
    }
    out
}

/// Writes the grouped bar chart to `path`.
pub fn write_svg(runs: &[Run], path: &std::path::Path) -> Result<(), String> {
    let groups = bars(runs);
    let mut tools: Vec<String> = Vec::new();
    for (_, bs) in &groups {
        for (t, _) in bs {
            if !tools.contains(t) {
                tools.push(t.clone());
            }
        }
    }
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|(_, bs)| bs.iter().filter_map(|(_, b)| b.secs()))
        .filter(|s| *s > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if all.is_empty() {
        (0.01, 1.0)
    } else {
        (
            10f64.powf((lo / 1.5).log10().floor()),
            10f64.powf((hi * 3.0).log10().ceil()),
        )
    };
    // Colours follow every tool that ran, bars or not, so a tool keeps its colour when another
    // one fails.
    let mut all_tools: Vec<String> = Vec::new();
    for r in runs {
        if !all_tools.contains(&r.tool) {
            all_tools.push(r.tool.clone());
        }
    }
    draw(&groups, &tools, &all_tools, lo, hi, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn draw(
    groups: &[(String, Vec<(String, Bar)>)],
    tools: &[String],
    all_tools: &[String],
    lo: f64,
    hi: f64,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let (starts, units) = layout(groups);
    let size = size_for(units);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Median wall time per scenario and tool (log scale; hollow bar = timed out)",
            ("sans-serif", 24),
        )
        .margin(12)
        .margin_right(LEGEND_W)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..units, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("seconds")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 16))
        .y_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v}")
            }
        })
        .draw()?;

    let colour = |t: &str| {
        let i = all_tools.iter().position(|x| x == t).unwrap_or(0);
        let (r, g, b) = PALETTE[i % PALETTE.len()];
        RGBColor(r, g, b)
    };
    for tool in tools {
        let c = colour(tool);
        let mut rects = Vec::new();
        let mut values = Vec::new();
        for (g, (_, bs)) in groups.iter().enumerate() {
            let Some(j) = bs.iter().position(|(t, _)| t == tool) else {
                continue;
            };
            let x0 = starts[g] + 0.5 + j as f64 + 0.05;
            let x1 = x0 + 0.9;
            let size = 11;
            let (text, top) = match &bs[j].1 {
                Bar::Median(s) => {
                    rects.push(Rectangle::new([(x0, lo), (x1, *s)], c.filled()));
                    let t = if *s < 10.0 {
                        format!("{s:.2}")
                    } else {
                        format!("{s:.0}")
                    };
                    (t, *s)
                }
                Bar::TimedOut(s) => {
                    rects.push(Rectangle::new([(x0, lo), (x1, *s)], c.stroke_width(2)));
                    (format!(">{s:.0}"), *s)
                }
                // No bar: the word, just above the axis.
                Bar::Failed => ("failed".to_string(), lo * 1.6),
            };
            values.push(((x0 + x1) / 2.0, top, text, size));
        }
        chart.draw_series(rects)?;
        // The value above each bar.
        chart.draw_series(values.into_iter().map(|(x, y, t, size)| {
            let font = ("sans-serif", size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            Text::new(t, (x, y), font)
        }))?;
    }
    // The legend, in the right-hand margin so that it never hides a bar.
    let legend_font = ("sans-serif", 16).into_font().color(&BLACK);
    let lx = size.0 as i32 - LEGEND_W + 12;
    for (i, tool) in tools.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        root.draw(&Rectangle::new(
            [(lx, y - 6), (lx + 14, y + 6)],
            colour(tool).filled(),
        ))?;
        root.draw(&Text::new(
            tool.clone(),
            (lx + 22, y),
            legend_font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }

    // Scenario names under their groups (the x axis itself has no numeric labels).
    let label = ("sans-serif", 20).into_font().color(&BLACK);
    for (g, (name, bs)) in groups.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(starts[g] + (bs.len() as f64 + 1.0) / 2.0, lo));
        root.draw(&Text::new(
            name.clone(),
            (px - 4 * name.len() as i32, py + 10),
            label.clone(),
        ))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn run(scenario: &str, tool: &str, status: Status, wall: f64) -> Run {
        crate::tests::run(scenario, tool, status, wall, 0)
    }

    #[test]
    fn bars_group_by_scenario_and_keep_timeouts() {
        let runs = vec![
            run("S1", "a", Status::Ok, 1.0),
            run("S1", "b", Status::Failed, 0.1),
            run("S1", "b", Status::Failed, 0.3),
            run("S4", "a", Status::Ok, 2.0),
            run("S4", "b", Status::Timeout, 120.0),
            run("S1", "a", Status::Ok, 3.0),
        ];
        assert_eq!(
            bars(&runs),
            vec![
                (
                    "S1".to_string(),
                    vec![
                        ("a".to_string(), Bar::Median(2.0)),
                        ("b".to_string(), Bar::Failed),
                    ]
                ),
                (
                    "S4".to_string(),
                    vec![
                        ("a".to_string(), Bar::Median(2.0)),
                        ("b".to_string(), Bar::TimedOut(120.0)),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn groups_are_as_wide_as_their_bars_and_the_chart_grows() {
        let runs = vec![
            run("S2", "a", Status::Ok, 1.0),
            run("S2", "b", Status::Ok, 1.0),
            run("S2", "c", Status::Ok, 1.0),
            run("S4H", "a", Status::Ok, 1.0),
            run("S7", "a", Status::Ok, 1.0),
            run("S7", "b", Status::Timeout, 120.0),
        ];
        let groups = bars(&runs);
        let names: Vec<&str> = groups.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["S2", "S4H", "S7"]);
        assert_eq!(layout(&groups), (vec![0.0, 4.0, 6.0], 9.0));
        assert_eq!(layout(&[]), (vec![], 1.0));
        assert_eq!(size_for(9.0), SIZE);
        // The full benchmark: 8 scenarios, 55 bars.
        let wide = size_for(55.0 + 8.0);
        assert_eq!(wide.1, SIZE.1);
        assert!(wide.0 > SIZE.0, "{wide:?}");
        assert!(
            (wide.0 - FRAME_W - LEGEND_W as u32) / 63 >= UNIT_PX,
            "{wide:?}"
        );
    }

    #[test]
    fn writes_an_svg_file() {
        let runs = vec![
            run("S1", "portscout-auto", Status::Ok, 0.75),
            run("S1", "nmap", Status::Ok, 1.2),
            run("S4", "nmap", Status::Timeout, 120.0),
            run("S4H", "portscout-auto", Status::Ok, 5.2),
            run("S4H", "nmap", Status::Timeout, 120.0),
            run("S7", "portscout-auto", Status::Ok, 2.1),
            run("S7", "nmap", Status::Ok, 3.6),
        ];
        let dir = std::env::temp_dir().join(format!("psbr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        write_svg(&runs, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        for text in ["S1", "S4", "S4H", "S7", "portscout-auto", "nmap"] {
            assert!(
                svg.contains(&format!("\n{text}\n</text>")),
                "no label {text}"
            );
        }
    }
}
