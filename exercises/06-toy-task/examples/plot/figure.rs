//! The seed notebook's three-panel figure, drawn with plotters as PNG and
//! SVG: the attention heat map with the digits written on it (2s and 4s in
//! red), the values where the attention is above 0.1, and the loss curve.
//! Also the plot command itself ([`run`]): it trains the model of the crate
//! that `crate::toy` names, with a progress bar, then draws.
//!
//! Text uses the font embedded beside this file (a subset of DejaVu Sans,
//! see FONT-LICENSE.txt), so no system font library is needed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::toy;

const FONT: &str = "sans-serif";
const CELL: u32 = 30;
/// Digits on blank cells (values hidden by low attention).
const GREY: RGBColor = RGBColor(150, 150, 150);
/// The seed's panel 2 hides values where the attention is at most this.
pub const SHOWN_ATTENTION: f32 = 0.1;

/// The command line: `--out DIR --seed N --rows N --steps N`.
pub struct Args {
    pub out: PathBuf,
    pub seed: u64,
    pub rows: usize,
    pub steps: Option<usize>,
}

impl Args {
    pub fn parse() -> Result<Args> {
        let mut args = Args {
            out: PathBuf::from("out/06"),
            seed: 0,
            rows: 12,
            steps: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--out" => args.out = PathBuf::from(value()?),
                "--seed" => args.seed = value()?.parse().context("--seed wants a number")?,
                "--rows" => args.rows = value()?.parse().context("--rows wants a number")?,
                "--steps" => args.steps = Some(value()?.parse().context("--steps wants a number")?),
                "-h" | "--help" => {
                    println!(
                        "Trains the model of exercise 06 and draws the seed's figure.\n\
                         Options: --out DIR (default out/06), --seed N (default 0),\n\
                         --rows N sequences in the heat maps (default 12), --steps N"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (try --help)"),
            }
        }
        if args.rows == 0 {
            bail!("--rows must be at least 1");
        }
        Ok(args)
    }
}

/// The whole command: train, draw, say where the files are.
pub fn run() -> Result<()> {
    let args = Args::parse()?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut held_out_rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let (held_x, held_y) = toy::make_batch(1000, &mut held_out_rng)?;

    let (model, varmap) = toy::fresh_model(&mut rng)?;
    let mut config = toy::TrainConfig::default();
    if let Some(steps) = args.steps {
        config.steps = steps;
    }
    let bar = progress(config.steps);
    let mut accuracy = None;
    let trajectory = toy::train(&model, &varmap, &config, &mut rng, |step, loss| {
        if step % 10 == 0 || step + 1 == config.steps {
            accuracy = model
                .forward(&held_x)
                .and_then(|p| toy::accuracy(&p, &held_y))
                .ok();
        }
        let accuracy = accuracy.map_or("?".to_string(), |a| format!("{:.1}%", 100.0 * a));
        bar.set_position(step as u64 + 1);
        bar.set_message(format!("loss {loss:.4}  held-out accuracy {accuracy}"));
    })?;
    bar.finish_and_clear();

    let (x, _) = toy::make_batch(args.rows, &mut rng)?;
    let embedded = model.embed(&x)?;
    let attention = model.attention(&embedded)?;
    let figure = Figure {
        digits: x.to_vec2::<u32>()?,
        attention: attention.squeeze(1)?.to_vec2::<f32>()?,
        values: model.values(&embedded)?.squeeze(2)?.to_vec2::<f32>()?,
        trajectory,
    };
    let (png, svg) = draw(&args.out, &figure)?;

    let accuracy = toy::accuracy(&model.forward(&held_x)?, &held_y)?;
    let focus =
        toy::attention_on_twos_and_fours(&held_x, &model.attention(&model.embed(&held_x)?)?)?;
    println!(
        "trained {} steps: held-out accuracy {:.1}%, attention mass on 2s and 4s {}",
        config.steps,
        100.0 * accuracy,
        focus.map_or("-".to_string(), |f| format!("{:.0}%", 100.0 * f))
    );
    println!("wrote {} and {}", png.display(), svg.display());
    Ok(())
}

/// A progress bar on stderr when a person watches (a terminal, not CI);
/// hidden otherwise.
pub fn progress(steps: usize) -> ProgressBar {
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("training {bar:30} {pos}/{len} steps  {msg}")
            .expect("a valid template"),
    );
    bar
}

/// What the figure shows: `rows` sequences and the training loss.
pub struct Figure {
    /// (rows, 10) digits.
    pub digits: Vec<Vec<u32>>,
    /// (rows, 10) attention weights, one row per sequence.
    pub attention: Vec<Vec<f32>>,
    /// (rows, 10) values.
    pub values: Vec<Vec<f32>>,
    /// The loss of every training step.
    pub trajectory: Vec<f32>,
}

/// Writes `dir/toy-task.png` and `dir/toy-task.svg`; returns their paths.
pub fn draw(dir: &Path, figure: &Figure) -> Result<(PathBuf, PathBuf)> {
    plotters::style::register_font(
        FONT,
        FontStyle::Normal,
        include_bytes!("DejaVuSans-subset.ttf"),
    )
    .map_err(|_| anyhow!("the embedded font could not be read"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let size = figure_size(figure);
    let png = dir.join("toy-task.png");
    let svg = dir.join("toy-task.svg");

    let mut pixels = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw_on(&root, figure)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    write_png(&png, size, &pixels)?;

    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw_on(&root, figure)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok((png, svg))
}

fn figure_size(figure: &Figure) -> (u32, u32) {
    let rows = figure.digits.len() as u32;
    (3 * (10 * CELL + 90), rows * CELL + 90)
}

fn write_png(path: &Path, (width, height): (u32, u32), pixels: &[u8]) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(())
}

fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<()> {
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e}");
    root.fill(&WHITE).map_err(fail)?;
    let panels = root.split_evenly((1, 3));

    heat_map(
        &panels[0],
        "attention (one row per sequence)",
        figure,
        |r, c| Some(figure.attention[r][c]),
        None,
    )
    .map_err(fail)?;
    heat_map(
        &panels[1],
        "values where attention > 0.1",
        figure,
        |r, c| (figure.attention[r][c] > SHOWN_ATTENTION).then_some(figure.values[r][c]),
        Some((-1.0, 1.0)),
    )
    .map_err(fail)?;

    let loss = &figure.trajectory;
    let top = loss
        .iter()
        .cloned()
        .filter(|l| l.is_finite())
        .fold(0f32, f32::max)
        .max(1e-3)
        * 1.05;
    let mut chart = ChartBuilder::on(&panels[2])
        .caption("training loss", (FONT, 16))
        .margin(10)
        .margin_right(25)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0f32..loss.len().max(1) as f32, 0f32..top)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 12))
        .light_line_style(WHITE)
        .draw()
        .map_err(fail)?;
    chart
        .draw_series(LineSeries::new(
            loss.iter()
                .enumerate()
                .map(|(i, &l)| (i as f32, l.min(top))),
            BLUE.stroke_width(2),
        ))
        .map_err(fail)?;
    Ok(())
}

/// One heat map: rows × 10 cells coloured by `value(r, c)` (blank where
/// None), with the digits written on them, 2s and 4s in red. `range` fixes
/// the colour scale (vmin, vmax), as the seed's imshow; otherwise it spans
/// the shown values.
fn heat_map<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    figure: &Figure,
    value: impl Fn(usize, usize) -> Option<f32>,
    range: Option<(f32, f32)>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let rows = figure.digits.len();
    let shown: Vec<f32> = (0..rows)
        .flat_map(|r| (0..10).map(move |c| (r, c)))
        .filter_map(|(r, c)| value(r, c))
        .collect();
    let (low, high) = range.unwrap_or_else(|| {
        let low = shown.iter().cloned().fold(f32::INFINITY, f32::min);
        let high = shown.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        if low.is_finite() {
            (low, high)
        } else {
            (0.0, 1.0)
        }
    });
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0f32..10f32, rows as f32..0f32)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(10)
        .y_labels(rows.min(12))
        .x_label_formatter(&|x| format!("{}", x.floor() as i64))
        .y_label_formatter(&|y| format!("{}", y.floor() as i64))
        .x_desc("position")
        .y_desc("sequence")
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()?;
    let cells = (0..rows).flat_map(|r| (0..10).map(move |c| (r, c)));
    chart.draw_series(cells.clone().filter_map(|(r, c)| {
        let v = value(r, c)?;
        let t = if high > low {
            (v - low) / (high - low)
        } else {
            0.5
        };
        let (x, y) = (c as f32, r as f32);
        Some(Rectangle::new(
            [(x, y), (x + 1.0, y + 1.0)],
            viridis(t).filled(),
        ))
    }))?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    chart.draw_series(cells.map(|(r, c)| {
        let digit = figure.digits[r][c];
        let key = digit == 2 || digit == 4;
        let blank = value(r, c).is_none();
        let color: &'static RGBColor = if key {
            &RED
        } else if blank {
            &GREY
        } else {
            &WHITE
        };
        let style = TextStyle::from((FONT, 15).into_font())
            .color(color)
            .pos(centre);
        Text::new(digit.to_string(), (c as f32 + 0.5, r as f32 + 0.5), style)
    }))?;
    Ok(())
}

/// matplotlib's default colour map (viridis), from five of its colours.
fn viridis(t: f32) -> RGBColor {
    const STOPS: [(f32, f32, f32); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f32;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f32, y: f32| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}
