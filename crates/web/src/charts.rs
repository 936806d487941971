//! Charts as inline SVG, drawn on the server: pure functions from series to an SVG string.
//!
//! Why by hand rather than a charting crate: the dashboard needs two shapes (bars, stacked or side by
//! side, and lines on a log scale), a few dozen elements each; and the page's Content-Security-Policy
//! (`style-src 'self'`) blocks `style="…"` attributes, which the SVG backends of charting crates write
//! for every element, while JavaScript charts are out (no script, no CDN). So geometry goes in
//! presentation attributes (`x`, `height`, `transform`, `text-anchor`…) and colours in classes styled by
//! `app.css` (`s-…`, shared with the legends). Every text written here goes through [`escape`]: today
//! only numbers and fixed labels, but escaping costs nothing and keeps it safe whatever comes later.
//!
//! Each chart is `role="img"` with a `<title>` and a `<desc>` (a sentence summarising it) referenced by
//! `aria-labelledby`; the page adds the figures as a table under `<details>`.

use std::fmt::Write as _;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 240.0;
/// Room for the y axis's ticks and label (left), the x axis's (bottom).
const LEFT: f64 = 72.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 46.0;

/// Escapes text for SVG (XML) content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What every chart has: its frame, labels and text equivalent.
pub(crate) struct Frame<'a> {
    /// Prefix of the element ids (`{id}-title`, `{id}-desc`); letters, digits and dashes.
    pub id: &'a str,
    pub title: &'a str,
    /// The text equivalent: what the chart shows, in a sentence or two.
    pub desc: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// How many slots (buckets) along the x axis.
    pub slots: usize,
    /// Labels under some slots: (slot, label).
    pub x_ticks: &'a [(usize, String)],
    /// Slots whose figures are incomplete (being computed): drawn shaded.
    pub shaded: &'a [usize],
}

/// One series: a CSS class (its colour) and a value per slot (`None`: no value, e.g. no latency in an
/// hour without answers).
pub(crate) struct Series<'a> {
    pub class: &'a str,
    pub values: &'a [Option<f64>],
}

/// How several bar series share a slot.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// On top of each other (parts of a whole).
    Stacked,
    /// Side by side.
    Grouped,
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

fn slot_width(frame: &Frame) -> f64 {
    plot_width() / frame.slots.max(1) as f64
}

/// The opening of the SVG, its title, description, shaded slots and axis labels.
fn open(frame: &Frame, out: &mut String) {
    let id = escape(frame.id);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(frame.title),
        escape(frame.desc)
    );
    let slot = slot_width(frame);
    if !frame.shaded.is_empty() {
        out.push_str("<g class=\"pending\">");
        for &i in frame.shaded {
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                LEFT + slot * i as f64,
                slot,
                plot_height()
            );
        }
        out.push_str("</g>");
    }
    out.push_str("<g class=\"axis\">");
    for (i, label) in frame.x_ticks {
        let x = LEFT + slot * (*i as f64 + 0.5);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + plot_height(),
            TOP + plot_height() + 4.0,
            TOP + plot_height() + 16.0,
            escape(label)
        );
    }
    let _ = write!(
        out,
        "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"label\" transform=\"rotate(-90)\" x=\"{:.1}\" y=\"14\" text-anchor=\"middle\">{}</text>\
         <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/></g>",
        LEFT + plot_width() / 2.0,
        HEIGHT - 6.0,
        escape(frame.x_label),
        -(TOP + plot_height() / 2.0),
        escape(frame.y_label),
        TOP + plot_height(),
        WIDTH - RIGHT,
        TOP + plot_height(),
    );
}

/// Horizontal grid lines with their labels at `ticks` (value, y position).
fn grid(ticks: &[(String, f64)], out: &mut String) {
    out.push_str("<g class=\"grid\">");
    for (label, y) in ticks {
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(label)
        );
    }
    out.push_str("</g>");
}

/// A "nice" axis maximum above `max` and its step: 1, 2, 2.5 or 5 times a power of ten, 4 steps or so.
pub(crate) fn nice_scale(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 {
        return (1.0, 1.0);
    }
    let rough = max / 4.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    // Counts are whole: no step under 1.
    let step = step.max(1.0);
    (step * (max / step).ceil(), step)
}

/// A bar chart: `series` stacked or side by side in each slot, on a linear axis from 0.
pub(crate) fn bars(
    frame: &Frame,
    series: &[Series],
    layout: Layout,
    tick_label: impl Fn(f64) -> String,
) -> String {
    let value = |s: &Series, i: usize| s.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0);
    let max = (0..frame.slots)
        .map(|i| match layout {
            Layout::Stacked => series.iter().map(|s| value(s, i)).sum::<f64>(),
            Layout::Grouped => series.iter().map(|s| value(s, i)).fold(0.0, f64::max),
        })
        .fold(0.0, f64::max);
    let (top, step) = nice_scale(max);
    let y_of = |v: f64| TOP + plot_height() * (1.0 - v / top);
    let mut out = String::with_capacity(4096);
    open(frame, &mut out);
    let ticks: Vec<(String, f64)> = (0..=((top / step).round() as u32))
        .map(|k| {
            let v = f64::from(k) * step;
            (tick_label(v), y_of(v))
        })
        .collect();
    grid(&ticks, &mut out);
    let slot = slot_width(frame);
    let band = slot * 0.8;
    let mut base = vec![0.0; frame.slots];
    for (n, s) in series.iter().enumerate() {
        let _ = write!(out, "<g class=\"{}\">", escape(s.class));
        for (i, below) in base.iter_mut().enumerate() {
            let v = value(s, i);
            if v <= 0.0 {
                continue;
            }
            let (x, w, from) = match layout {
                Layout::Stacked => (LEFT + slot * i as f64 + (slot - band) / 2.0, band, *below),
                Layout::Grouped => {
                    let w = band / series.len() as f64;
                    (
                        LEFT + slot * i as f64 + (slot - band) / 2.0 + w * n as f64,
                        w,
                        0.0,
                    )
                }
            };
            let (y0, y1) = (y_of(from), y_of(from + v));
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{w:.1}\" height=\"{:.1}\"/>",
                (y0 - y1).max(0.5)
            );
            if layout == Layout::Stacked {
                *below += v;
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A line chart on a logarithmic axis (for latencies: a p99 a hundred times the median stays readable),
/// with a dot on every value so that isolated values show. Gaps (`None`) break the line.
pub(crate) fn log_lines(
    frame: &Frame,
    series: &[Series],
    tick_label: impl Fn(f64) -> String,
) -> String {
    let values = || {
        series
            .iter()
            .flat_map(|s| s.values.iter().copied().flatten())
            .filter(|v| *v > 0.0)
    };
    // From the power of ten under the smallest value to the one over the largest.
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(0.0, f64::max);
    let (lo_exp, hi_exp) = if hi > 0.0 {
        let lo_exp = lo.log10().floor();
        let hi_exp = hi.log10().ceil().max(lo_exp + 1.0);
        (lo_exp, hi_exp)
    } else {
        (2.0, 4.0)
    };
    let y_of = |v: f64| {
        let t = (v.max(f64::MIN_POSITIVE).log10() - lo_exp) / (hi_exp - lo_exp);
        TOP + plot_height() * (1.0 - t.clamp(0.0, 1.0))
    };
    let mut out = String::with_capacity(4096);
    open(frame, &mut out);
    // Powers of ten; with 2 and 5 times them too when the axis spans at most two of them.
    let multiples: &[f64] = if hi_exp - lo_exp <= 2.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let ticks: Vec<(String, f64)> = (lo_exp as i32..=hi_exp as i32)
        .flat_map(|e| multiples.iter().map(move |m| m * 10f64.powi(e)))
        .filter(|v| *v <= 10f64.powf(hi_exp))
        .map(|v| (tick_label(v), y_of(v)))
        .collect();
    grid(&ticks, &mut out);
    let slot = slot_width(frame);
    for s in series {
        let _ = write!(out, "<g class=\"{}\">", escape(s.class));
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut dots = String::new();
        let flush = |run: &mut Vec<(f64, f64)>, out: &mut String| {
            if run.len() > 1 {
                out.push_str("<polyline fill=\"none\" points=\"");
                for (k, (x, y)) in run.iter().enumerate() {
                    let _ = write!(out, "{}{x:.1},{y:.1}", if k > 0 { " " } else { "" });
                }
                out.push_str("\"/>");
            }
            run.clear();
        };
        for i in 0..frame.slots {
            match s.values.get(i).copied().flatten().filter(|v| *v > 0.0) {
                Some(v) => {
                    let (x, y) = (LEFT + slot * (i as f64 + 0.5), y_of(v));
                    run.push((x, y));
                    let _ = write!(dots, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\"/>");
                }
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
        out.push_str(&dots);
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A count for axes: `950`, `1.5k`, `2M`.
pub(crate) fn compact(v: f64) -> String {
    let (scaled, suffix) = if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{scaled:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{suffix}")
}

/// A latency in milliseconds for people: `850 ms`, `1.2 s`, `2.5 min`.
pub(crate) fn duration_ms(ms: f64) -> String {
    let trim = |s: String| s.strip_suffix(".0").map(str::to_string).unwrap_or(s);
    if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else if ms < 60_000.0 {
        format!("{} s", trim(format!("{:.1}", ms / 1000.0)))
    } else {
        format!("{} min", trim(format!("{:.1}", ms / 60_000.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame<'a>(ticks: &'a [(usize, String)], shaded: &'a [usize]) -> Frame<'a> {
        Frame {
            id: "chart-x",
            title: "Commands <per> hour",
            desc: "A \"desc\" & more",
            x_label: "Hour (UTC)",
            y_label: "Commands",
            slots: 4,
            x_ticks: ticks,
            shaded,
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let ticks = [(0, "<b>".to_string())];
        let svg = bars(
            &frame(&ticks, &[]),
            &[Series {
                class: "s-completed",
                values: &[Some(1.0)],
            }],
            Layout::Stacked,
            compact,
        );
        assert!(svg.contains("<title id=\"chart-x-title\">Commands &lt;per&gt; hour</title>"));
        assert!(svg.contains("<desc id=\"chart-x-desc\">A &quot;desc&quot; &amp; more</desc>"));
        assert!(svg.contains("&lt;b&gt;"));
        assert!(!svg.contains("<b>"));
        assert!(!svg.contains("style="), "the CSP blocks style attributes");
    }

    #[test]
    fn stacked_bars_add_up_and_grouped_bars_sit_side_by_side() {
        let completed = [Some(3.0), Some(0.0), None, Some(1.0)];
        let failed = [Some(1.0), Some(2.0), None, None];
        let series = [
            Series {
                class: "s-completed",
                values: &completed,
            },
            Series {
                class: "s-failed",
                values: &failed,
            },
        ];
        let svg = bars(&frame(&[], &[2]), &series, Layout::Stacked, compact);
        // Zero and missing values draw nothing: 2 + 2 bars.
        assert_eq!(svg.matches("<rect").count(), 4 + 1, "and one shaded slot");
        assert!(svg.contains("<g class=\"pending\">"));
        // The axis reaches the tallest stack (4): ticks 0, 1, 2, 3, 4.
        assert!(svg.contains(">4</text>"), "{svg}");
        assert!(!svg.contains(">5</text>"), "{svg}");
        let svg = bars(&frame(&[], &[]), &series, Layout::Grouped, compact);
        assert!(svg.contains(">3</text>"), "{svg}");
        assert!(!svg.contains(">4</text>"), "grouped: the tallest bar, 3");
    }

    #[test]
    fn lines_break_at_gaps_and_mark_every_value() {
        let p50 = [Some(100.0), Some(120.0), None, Some(5000.0)];
        let svg = log_lines(
            &frame(&[(0, "00:00".into())], &[]),
            &[Series {
                class: "s-p50",
                values: &p50,
            }],
            duration_ms,
        );
        assert_eq!(
            svg.matches("<polyline").count(),
            1,
            "the lone value has no line"
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        // Powers of ten from 100 ms to 10 s.
        for tick in [">100 ms<", ">1 s<", ">10 s<"] {
            assert!(svg.contains(tick), "{tick}: {svg}");
        }
        // No values at all: still a chart.
        let empty = log_lines(
            &frame(&[], &[]),
            &[Series {
                class: "s-p50",
                values: &[None, None],
            }],
            duration_ms,
        );
        assert!(empty.ends_with("</svg>"));
        assert!(!empty.contains("<circle"));
    }

    #[test]
    fn scales_and_labels() {
        assert_eq!(nice_scale(0.0), (1.0, 1.0));
        assert_eq!(nice_scale(4.0), (4.0, 1.0));
        assert_eq!(nice_scale(7.0), (8.0, 2.0));
        assert_eq!(nice_scale(1389.0), (1500.0, 500.0));
        assert_eq!(nice_scale(33_000.0), (40_000.0, 10_000.0));
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(1500.0), "1.5k");
        assert_eq!(compact(2_000_000.0), "2M");
        assert_eq!(duration_ms(850.4), "850 ms");
        assert_eq!(duration_ms(1000.0), "1 s");
        assert_eq!(duration_ms(1234.0), "1.2 s");
        assert_eq!(duration_ms(150_000.0), "2.5 min");
    }
}
