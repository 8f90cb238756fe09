//! SVG charts a run can keep as artifacts: confusion-matrix heat map, per-class
//! precision/recall/F1 bars, feature-importance bars and the spread of CV scores.
//!
//! Drawn with plotters' SVG backend; text is emitted as SVG `<text>` so labels stay
//! searchable and sharp. Every function takes the output path, writes one file, and returns
//! an error (never panics) on empty input or an unwritable path.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::cv::CvResult;
use crate::error::{EvalError, Result};
use crate::metrics::ConfusionMatrix;
use crate::report::ClassificationReport;

const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const GREY: RGBColor = RGBColor(200, 200, 200);

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn chart_err(path: &Path, e: impl std::fmt::Display) -> EvalError {
    EvalError::Chart {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn text_style(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v))
}

/// Draws with `draw` on a fresh white canvas and writes it to `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> std::result::Result<(), String>,
) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(chart_err(
            path,
            format!("directory {} does not exist", parent.display()),
        ));
    }
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| chart_err(path, e))?;
    draw(&root).map_err(|e| chart_err(path, e))?;
    root.present().map_err(|e| chart_err(path, e))
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Confusion-matrix heat map: rows are true classes, columns predicted classes; each cell
/// shows its count and is shaded by the row-normalised rate (per-class recall on the
/// diagonal), so small classes read as clearly as large ones.
///
/// # Errors
/// `class_names` not matching the matrix size, or writing the file.
pub fn confusion_matrix_chart(
    path: impl AsRef<Path>,
    cm: &ConfusionMatrix,
    class_names: &[String],
) -> Result<()> {
    let path = path.as_ref();
    let n = cm.n_classes();
    if n == 0 || class_names.len() != n {
        return Err(EvalError::LengthMismatch {
            left: "class_names",
            left_len: class_names.len(),
            right: "confusion matrix classes",
            right_len: n,
        });
    }
    let cell = (560 / n as u32).clamp(40, 90) as i32;
    let left = 190;
    let top = 60;
    let grid = cell * n as i32;
    // Under the grid: the turned class names, then the axis title.
    let widest = class_names
        .iter()
        .map(|c| text_width(c, LABEL_SIZE))
        .max()
        .unwrap_or(0);
    let size = (
        (left + grid + 30) as u32,
        (top + grid + LABEL_GAP + widest + 14 + 2 * BOTTOM_MARGIN) as u32,
    );
    let norm = cm.normalized_by_true();
    render(path, size, |root| {
        root.draw(&Text::new(
            "Confusion matrix (counts; colour = row-normalised rate)",
            (size.0 as i32 / 2, 25),
            text_style(18, HPos::Center, VPos::Center),
        ))
        .map_err(s)?;
        for i in 0..n {
            for (j, &rate) in norm[i].iter().enumerate() {
                let shade = |c: u8| (255.0 - rate * (255.0 - f64::from(c))).round() as u8;
                let colour = RGBColor(shade(BLUE.0), shade(BLUE.1), shade(BLUE.2));
                let x0 = left + j as i32 * cell;
                let y0 = top + i as i32 * cell;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    colour.filled(),
                ))
                .map_err(s)?;
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], GREY))
                    .map_err(s)?;
                let ink = if rate > 0.5 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    cm.counts()[i][j].to_string(),
                    (x0 + cell / 2, y0 + cell / 2),
                    text_style(14, HPos::Center, VPos::Center).color(&ink),
                ))
                .map_err(s)?;
            }
            root.draw(&Text::new(
                class_names[i].clone(),
                (left - 8, top + i as i32 * cell + cell / 2),
                text_style(12, HPos::Right, VPos::Center),
            ))
            .map_err(s)?;
            root.draw(&Text::new(
                class_names[i].clone(),
                (left + i as i32 * cell + cell / 2, top + grid + LABEL_GAP),
                text_style(LABEL_SIZE, HPos::Left, VPos::Center).transform(FontTransform::Rotate90),
            ))
            .map_err(s)?;
        }
        root.draw(&Text::new(
            "true class",
            (12, top + grid / 2),
            text_style(14, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        ))
        .map_err(s)?;
        root.draw(&Text::new(
            "predicted class",
            (left + grid / 2, size.1 as i32 - BOTTOM_MARGIN),
            text_style(14, HPos::Center, VPos::Center),
        ))
        .map_err(s)?;
        Ok(())
    })
}

/// "Nice" ticks over `[lo, hi]`: a step of 1, 2, 2.5 or 5 × 10^k giving at most `max_ticks`
/// intervals, the range widened to whole steps, and the decimals that tell every tick apart
/// (a fixed `{:.2}` printed 0.95 twice on a CV axis from 0.948 to 0.956).
fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> (f64, f64, f64, usize) {
    let span = if hi > lo { hi - lo } else { 1.0 };
    let raw = span / max_ticks.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let lo = (lo / step + 1e-9).floor() * step;
    let hi = (hi / step - 1e-9).ceil() * step;
    let hi = if hi > lo { hi } else { lo + step };
    // Decimals of the step itself: 0.25 needs 2, 0.005 needs 3, 20 needs 0.
    let mut decimals = 0usize;
    while decimals < 10 {
        let scaled = step * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0) {
            break;
        }
        decimals += 1;
    }
    (lo, hi, step, decimals)
}

/// Estimated width in pixels of `text` at `size` px (sans-serif averages about 0.6 em per
/// character), for sizing the label band under an axis to its labels.
fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * f64::from(size) * 0.6).ceil() as i32
}

/// A vertical value axis from `lo` to `hi` with gridlines, for the bar and point charts.
struct ValueAxis {
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
    lo: f64,
    hi: f64,
    step: f64,
    decimals: usize,
}

impl ValueAxis {
    /// An axis whose range is `[lo, hi]` widened to nice ticks (at most `max_ticks`
    /// intervals).
    fn new(
        left: i32,
        right: i32,
        top: i32,
        bottom: i32,
        lo: f64,
        hi: f64,
        max_ticks: usize,
    ) -> Self {
        let (lo, hi, step, decimals) = nice_ticks(lo, hi, max_ticks);
        ValueAxis {
            left,
            right,
            top,
            bottom,
            lo,
            hi,
            step,
            decimals,
        }
    }

    fn y(&self, v: f64) -> i32 {
        let t = ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        self.bottom - (t * f64::from(self.bottom - self.top)).round() as i32
    }

    fn draw(&self, root: &Area<'_>, label: &str) -> std::result::Result<(), String> {
        let n = ((self.hi - self.lo) / self.step).round() as usize;
        for t in 0..=n {
            let v = self.lo + self.step * t as f64;
            let y = self.y(v);
            root.draw(&PathElement::new(
                vec![(self.left, y), (self.right, y)],
                GREY,
            ))
            .map_err(s)?;
            root.draw(&Text::new(
                format!("{v:.*}", self.decimals),
                (self.left - 6, y),
                text_style(11, HPos::Right, VPos::Center),
            ))
            .map_err(s)?;
        }
        root.draw(&PathElement::new(
            vec![
                (self.left, self.top),
                (self.left, self.bottom),
                (self.right, self.bottom),
            ],
            BLACK,
        ))
        .map_err(s)?;
        root.draw(&Text::new(
            label.to_string(),
            (14, (self.top + self.bottom) / 2),
            text_style(13, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        ))
        .map_err(s)
    }
}

/// How category labels sit under an axis: horizontal when every label fits its slot,
/// else turned 90°; and the height of the band they need (plus a margin), so a chart ends
/// just under its longest label instead of at a fixed height.
struct LabelBand {
    rotate: bool,
    height: i32,
}

const LABEL_SIZE: u32 = 12;
/// Space between the axis and its labels, and between the labels and the canvas edge.
const LABEL_GAP: i32 = 8;
const BOTTOM_MARGIN: i32 = 16;

fn label_band(names: &[String], slot: i32) -> LabelBand {
    let widest = names
        .iter()
        .map(|n| text_width(n, LABEL_SIZE))
        .max()
        .unwrap_or(0);
    let rotate = widest > slot - 6;
    let extent = if rotate { widest } else { LABEL_SIZE as i32 };
    LabelBand {
        rotate,
        height: LABEL_GAP + extent + BOTTOM_MARGIN,
    }
}

fn category_labels(
    root: &Area<'_>,
    names: &[String],
    axis: &ValueAxis,
    slot: i32,
    band: &LabelBand,
) -> std::result::Result<(), String> {
    for (k, name) in names.iter().enumerate() {
        let x = axis.left + k as i32 * slot + slot / 2;
        let style = if band.rotate {
            text_style(LABEL_SIZE, HPos::Left, VPos::Center).transform(FontTransform::Rotate90)
        } else {
            text_style(LABEL_SIZE, HPos::Center, VPos::Top)
        };
        root.draw(&Text::new(
            name.clone(),
            (x, axis.bottom + LABEL_GAP),
            style,
        ))
        .map_err(s)?;
    }
    Ok(())
}

fn legend(
    root: &Area<'_>,
    x: i32,
    y: i32,
    entries: &[(&str, RGBColor)],
) -> std::result::Result<(), String> {
    for (i, (name, colour)) in entries.iter().enumerate() {
        let yy = y + i as i32 * 18;
        root.draw(&Rectangle::new(
            [(x, yy - 6), (x + 12, yy + 6)],
            colour.filled(),
        ))
        .map_err(s)?;
        root.draw(&Text::new(
            (*name).to_string(),
            (x + 18, yy),
            text_style(12, HPos::Left, VPos::Center),
        ))
        .map_err(s)?;
    }
    Ok(())
}

/// Grouped bars of precision, recall and F1 for every class of a [`ClassificationReport`].
///
/// # Errors
/// A report with no class, or writing the file.
pub fn per_class_chart(path: impl AsRef<Path>, report: &ClassificationReport) -> Result<()> {
    let path = path.as_ref();
    let n = report.classes.len();
    if n == 0 {
        return Err(EvalError::EmptyInput {
            what: "report.classes",
        });
    }
    let slot = 90;
    let axis = ValueAxis::new(70, 70 + slot * n as i32, 50, 370, 0.0, 1.0, 5);
    let names: Vec<String> = report.classes.iter().map(|r| r.label.clone()).collect();
    let band = label_band(&names, slot);
    let size = (
        (axis.right + 140) as u32,
        (axis.bottom + band.height) as u32,
    );
    render(path, size, |root| {
        root.draw(&Text::new(
            "Per-class precision, recall and F1",
            (size.0 as i32 / 2, 22),
            text_style(18, HPos::Center, VPos::Center),
        ))
        .map_err(s)?;
        axis.draw(root, "score")?;
        let bar = (slot - 18) / 3;
        for (k, row) in report.classes.iter().enumerate() {
            for (m, (v, colour)) in [
                (row.precision, BLUE),
                (row.recall, ORANGE),
                (row.f1_score, GREEN),
            ]
            .into_iter()
            .enumerate()
            {
                let v = if v.is_nan() { 0.0 } else { v };
                let x0 = axis.left + k as i32 * slot + 9 + m as i32 * bar;
                root.draw(&Rectangle::new(
                    [(x0, axis.y(v)), (x0 + bar - 2, axis.bottom)],
                    colour.filled(),
                ))
                .map_err(s)?;
            }
        }
        category_labels(root, &names, &axis, slot, &band)?;
        legend(
            root,
            axis.right + 20,
            axis.top + 10,
            &[("precision", BLUE), ("recall", ORANGE), ("f1-score", GREEN)],
        )
    })
}

/// Horizontal bars of the `top_n` largest importances (with ± `std` whiskers when given),
/// largest at the top.
///
/// # Errors
/// Empty input, `names`/`values`/`std` of different lengths, `top_n == 0`, non-finite values,
/// or writing the file.
pub fn feature_importance_chart(
    path: impl AsRef<Path>,
    names: &[String],
    values: &[f64],
    std: Option<&[f64]>,
    top_n: usize,
    title: &str,
) -> Result<()> {
    let path = path.as_ref();
    if values.is_empty() || top_n == 0 {
        return Err(EvalError::EmptyInput {
            what: "importances",
        });
    }
    crate::compare::check_same_len("names", names.len(), "values", values.len())?;
    if let Some(sd) = std {
        crate::compare::check_same_len("std", sd.len(), "values", values.len())?;
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::InvalidValue {
            what: "importances",
            value: format!("{} for `{}`", values[i], names[i]),
            expected: "finite values".into(),
        });
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order.truncate(top_n);
    let err = |i: usize| std.map_or(0.0, |sd| if sd[i].is_finite() { sd[i] } else { 0.0 });
    let hi = order
        .iter()
        .map(|&i| values[i] + err(i))
        .fold(0.0f64, f64::max);
    let lo = order
        .iter()
        .map(|&i| values[i] - err(i))
        .fold(0.0f64, f64::min);
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let (lo, hi, step, decimals) = nice_ticks(lo, hi, 4);
    let n_ticks = ((hi - lo) / step).round() as i32;
    let row = 24;
    let left = 230;
    let right = 760;
    let top = 50;
    let bottom = top + row * order.len() as i32;
    let x = |v: f64| left + (((v - lo) / (hi - lo)) * f64::from(right - left)).round() as i32;
    let size = (
        (right + 40) as u32,
        (bottom + 20 + 11 + BOTTOM_MARGIN) as u32,
    );
    render(path, size, |root| {
        root.draw(&Text::new(
            title.to_string(),
            (size.0 as i32 / 2, 22),
            text_style(18, HPos::Center, VPos::Center),
        ))
        .map_err(s)?;
        for t in 0..=n_ticks {
            let v = lo + step * f64::from(t);
            root.draw(&PathElement::new(vec![(x(v), top), (x(v), bottom)], GREY))
                .map_err(s)?;
            root.draw(&Text::new(
                format!("{v:.decimals$}"),
                (x(v), bottom + 14),
                text_style(11, HPos::Center, VPos::Center),
            ))
            .map_err(s)?;
        }
        for (r, &i) in order.iter().enumerate() {
            let y0 = top + r as i32 * row + 3;
            let (a, b) = (x(0.0).min(x(values[i])), x(0.0).max(x(values[i])));
            root.draw(&Rectangle::new(
                [(a, y0), (b.max(a + 1), y0 + row - 6)],
                BLUE.filled(),
            ))
            .map_err(s)?;
            if err(i) > 0.0 {
                let yc = y0 + (row - 6) / 2;
                root.draw(&PathElement::new(
                    vec![(x(values[i] - err(i)), yc), (x(values[i] + err(i)), yc)],
                    BLACK,
                ))
                .map_err(s)?;
            }
            root.draw(&Text::new(
                names[i].clone(),
                (left - 8, y0 + (row - 6) / 2),
                text_style(12, HPos::Right, VPos::Center),
            ))
            .map_err(s)?;
        }
        root.draw(&PathElement::new(
            vec![(x(0.0), top), (x(0.0), bottom)],
            BLACK,
        ))
        .map_err(s)?;
        Ok(())
    })
}

/// The spread of cross-validation scores: one column per scorer, a point per fold and a bar
/// at the mean, on a shared axis (so use scorers of the same scale: accuracy, F1, ...).
///
/// # Errors
/// A result with no scorer or no fold, non-finite scores, or writing the file.
pub fn cv_scores_chart(path: impl AsRef<Path>, cv: &CvResult) -> Result<()> {
    let path = path.as_ref();
    if cv.scores.is_empty() || cv.scores.values().any(|v| v.per_fold.is_empty()) {
        return Err(EvalError::EmptyInput { what: "cv.scores" });
    }
    let all: Vec<f64> = cv
        .scores
        .values()
        .flat_map(|v| v.per_fold.iter().copied())
        .collect();
    if let Some(v) = all.iter().find(|v| !v.is_finite()) {
        return Err(EvalError::InvalidValue {
            what: "cv.scores",
            value: v.to_string(),
            expected: "finite scores".into(),
        });
    }
    let min = all.iter().copied().fold(f64::INFINITY, f64::min);
    let max = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((max - min) * 0.15).max(0.01);
    let slot = 120;
    let names: Vec<String> = cv.scores.keys().cloned().collect();
    let axis = ValueAxis::new(
        80,
        80 + slot * names.len() as i32,
        50,
        370,
        min - pad,
        max + pad,
        5,
    );
    let band = label_band(&names, slot);
    let size = (
        (axis.right + 150) as u32,
        (axis.bottom + band.height) as u32,
    );
    let title = format!(
        "Cross-validation scores: {} ({} folds)",
        cv.model,
        all.len() / names.len()
    );
    render(path, size, |root| {
        root.draw(&Text::new(
            title,
            (size.0 as i32 / 2, 22),
            text_style(18, HPos::Center, VPos::Center),
        ))
        .map_err(s)?;
        axis.draw(root, "score")?;
        for (k, summary) in cv.scores.values().enumerate() {
            let xc = axis.left + k as i32 * slot + slot / 2;
            let nf = summary.per_fold.len() as i32;
            for (f, &v) in summary.per_fold.iter().enumerate() {
                let dx = (f as i32 - nf / 2) * 6;
                root.draw(&Circle::new((xc + dx, axis.y(v)), 4, BLUE.filled()))
                    .map_err(s)?;
            }
            let ym = axis.y(summary.mean);
            root.draw(&PathElement::new(
                vec![(xc - 30, ym), (xc + 30, ym)],
                ORANGE.stroke_width(3),
            ))
            .map_err(s)?;
            root.draw(&Text::new(
                format!("{:.3}", summary.mean),
                (xc + 34, ym),
                text_style(11, HPos::Left, VPos::Center),
            ))
            .map_err(s)?;
        }
        category_labels(root, &names, &axis, slot, &band)?;
        legend(
            root,
            axis.right + 20,
            axis.top + 10,
            &[("fold score", BLUE), ("mean", ORANGE)],
        )
    })
}
