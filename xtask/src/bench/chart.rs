//! downtime.svg: one horizontal stacked bar per variant (median shutdown, handoff and
//! boot phases), drawn with plotters' SVG backend. Text goes into the SVG as `<text>`
//! elements sized by plotters' built-in estimate, so no font files are needed.

use super::report::{field_summary, Sample, Set};
use plotters::prelude::*;

/// One bar: its label and median phases in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub shutdown: f64,
    pub handoff: f64,
    pub boot: f64,
}

/// The bars of every variant with passing samples, in report order.
pub fn bars(samples: &[Sample]) -> Vec<Bar> {
    let mut seen: Vec<(Set, String)> = Vec::new();
    let mut out = Vec::new();
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by_key(|s| s.run);
    for s in sorted {
        let set = Set::of(s);
        let key = (set.clone(), s.id.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let med = |f: fn(&Sample) -> Option<f64>| {
            field_summary(samples, &set, &s.id, f).map(|x| x.median)
        };
        if let (Some(shutdown), Some(handoff), Some(boot)) = (
            med(|s| s.shutdown_s),
            med(|s| s.handoff_s),
            med(|s| s.boot_s),
        ) {
            out.push(Bar {
                label: format!("{} {}", set.name(), s.id),
                shutdown,
                handoff,
                boot,
            });
        }
    }
    out
}

/// One bar of any suite's chart: its label and its phases' medians, in seconds, in the
/// order of the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Stacked {
    pub label: String,
    pub parts: Vec<f64>,
}

/// The colours of the phases, in order (matplotlib's "deep" palette).
const COLOURS: [RGBColor; 5] = [
    RGBColor(0x4c, 0x72, 0xb0),
    RGBColor(0xdd, 0x84, 0x52),
    RGBColor(0x55, 0xa8, 0x68),
    RGBColor(0xc4, 0x4e, 0x52),
    RGBColor(0x81, 0x72, 0xb3),
];

/// Renders the kernel suite's chart as SVG text.
pub fn render(bars: &[Bar]) -> Result<String, String> {
    let stacked: Vec<Stacked> = bars
        .iter()
        .map(|b| Stacked {
            label: b.label.clone(),
            parts: vec![b.shutdown, b.handoff, b.boot],
        })
        .collect();
    render_stacked(
        "Reboot downtime by phase (medians of each phase, seconds, QEMU)",
        "seconds from the reboot request to the new kernel's init",
        &[
            "shutdown (old kernel)",
            "handoff (firmware, purgatory, decompression)",
            "boot (new kernel to init)",
        ],
        &stacked,
    )
}

/// One horizontal bar per entry of `bars`, its parts stacked left to right in the order
/// (and colours) of `legend`, the total written after it.
pub fn render_stacked(
    caption: &str,
    x_desc: &str,
    legend: &[&str],
    bars: &[Stacked],
) -> Result<String, String> {
    let mut svg = String::new();
    let height = 120 + 34 * bars.len().max(1) as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let total = |b: &Stacked| b.parts.iter().sum::<f64>();
        let max = bars.iter().map(total).fold(1.0f64, f64::max);
        let n = bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(10)
            .build_cartesian_2d(0f64..max * 1.45, -0.6f64..n - 0.4)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc(x_desc)
            .draw()
            .map_err(|e| e.to_string())?;
        // Top to bottom in report order.
        let y = |i: usize| n - 1.0 - i as f64;
        for (k, name) in legend.iter().enumerate() {
            let color = COLOURS[k % COLOURS.len()];
            chart
                .draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let x0: f64 = b.parts.iter().take(k).sum();
                    let x1 = x0 + b.parts.get(k).copied().unwrap_or(0.0);
                    Rectangle::new([(x0, y(i) - 0.35), (x1, y(i) + 0.35)], color.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let t = total(b);
                Text::new(
                    format!("{}  {t:.2} s", b.label),
                    (t + max * 0.01, y(i) + 0.15),
                    ("sans-serif", 13),
                )
            }))
            .map_err(|e| e.to_string())?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::tests::fixed_results;

    #[test]
    fn one_bar_per_variant_with_passing_samples() {
        let b = bars(&fixed_results().samples);
        let labels: Vec<&str> = b.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "arm64 6.1 cold-direct",
                "arm64 6.1 warm-warmboot-classic",
                "arm64 6.1 warm-warmboot-classic-verify",
                "arm64 6.1 warm-kexec-tools",
                "arm64 6.12 cold-direct",
                "arm64 6.12 warm-warmboot-classic"
            ]
        );
        assert!((b[0].handoff - 0.55).abs() < 1e-9, "{:?}", b[0]);
    }

    #[test]
    fn the_svg_names_every_variant_and_phase() {
        let svg = render(&bars(&fixed_results().samples)).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for text in [
            "arm64 6.1 warm-kexec-tools  23.35 s",
            "arm64 6.1 cold-direct  3.15 s",
            "arm64 6.12 cold-direct  3.65 s",
            "shutdown (old kernel)",
            "boot (new kernel to init)",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
        // Three phases per bar plus three legend swatches.
        assert!(svg.matches("<rect").count() >= 12);
        assert!(render(&[]).is_ok());
    }
}
