//! `--plot DIR`: each failed attention-weights comparison as a PNG, the
//! expected rows on the left and yours on the right, shaded from white (0)
//! to dark blue (the largest expected weight shown, on both sides; yours
//! above it are as dark), the worst cell framed in red.
//! The same window of rows the terminal's heat map shows; the file name
//! says which exercise and check it is, and so does the picture's own
//! heading, with "expected" and "yours" over the two grids (a 3×5 pixel
//! font, drawn here: no font file is needed).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use grader_kit::protocol::Rows;

use crate::grade::RunReport;

/// Pixels per cell, and between the two grids.
const CELL: u32 = 24;
const GAP: u32 = 2 * CELL;

/// Writes `DIR/<exercise>-<check>.png` for every failed comparison that kept
/// its rows; returns the files written.
pub fn write_plots(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for exercise in &report.exercises {
        for record in super::problems(exercise) {
            let Some(rows) = record.mismatch.as_ref().and_then(|m| m.rows.as_ref()) else {
                continue;
            };
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join(format!("{}-{}.png", exercise.dir_like(), record.check));
            write_png(&path, rows)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The 3×5 glyphs of the labels, one string of 15 cells per character
/// (rows top to bottom, `#` lit); letters are drawn as capitals.
const GLYPHS: &[(char, &str)] = &[
    ('a', ".#.#.#####.##.#"),
    ('b', "##.#.###.#.###."),
    ('c', ".###..#..#...##"),
    ('d', "##.#.##.##.###."),
    ('e', "####..##.#..###"),
    ('f', "####..##.#..#.."),
    ('g', ".###..#.##.#.##"),
    ('h', "#.##.#####.##.#"),
    ('i', "###.#..#..#.###"),
    ('j', "..#..#..##.#.#."),
    ('k', "#.##.###.#.##.#"),
    ('l', "#..#..#..#..###"),
    ('m', "#.########.##.#"),
    ('n', "##.#.##.##.##.#"),
    ('o', ".#.#.##.##.#.#."),
    ('p', "##.#.###.#..#.."),
    ('q', ".#.#.##.###..##"),
    ('r', "##.#.###.#.##.#"),
    ('s', ".###...#...###."),
    ('t', "###.#..#..#..#."),
    ('u', "#.##.##.##.####"),
    ('v', "#.##.##.##.#.#."),
    ('w', "#.##.########.#"),
    ('x', "#.##.#.#.#.##.#"),
    ('y', "#.##.#.#..#..#."),
    ('z', "###..#.#.#..###"),
    ('0', "####.##.##.####"),
    ('1', ".#.##..#..#.###"),
    ('2', "###..#####..###"),
    ('3', "###..#.##..####"),
    ('4', "#.##.####..#..#"),
    ('5', "####..###..####"),
    ('6', "####..####.####"),
    ('7', "###..#..#..#..#"),
    ('8', "####.#####.####"),
    ('9', "####.####..####"),
    ('-', "......###......"),
    ('_', "............###"),
    ('.', ".............#."),
    (':', "....#.....#...."),
    ('/', "..#..#.#.#..#.."),
    ('(', ".#.#..#..#...#."),
    (')', ".#...#..#..#.#."),
    (',', "..........#.#.."),
    ('[', "##.#..#..#..##."),
    (']', ".##..#..#..#.##"),
    ('=', "...###...###..."),
];

/// Pixels per font cell, and the height of one line of text.
const FONT: u32 = 2;
const LINE: u32 = 7 * FONT;

/// Draws `text` with its top left at (x, y); characters without a glyph
/// are blank. Returns the width drawn.
fn draw_text(paint: &mut dyn FnMut(u32, u32, [u8; 3]), x: u32, y: u32, text: &str) -> u32 {
    let mut at = x;
    for ch in text.chars().map(|c| c.to_ascii_lowercase()) {
        if let Some((_, cells)) = GLYPHS.iter().find(|(c, _)| *c == ch) {
            for (i, _) in cells.chars().enumerate().filter(|(_, c)| *c == '#') {
                let (gx, gy) = ((i % 3) as u32, (i / 3) as u32);
                for dy in 0..FONT {
                    for dx in 0..FONT {
                        paint(at + gx * FONT + dx, y + gy * FONT + dy, [40, 40, 40]);
                    }
                }
            }
        }
        at += 4 * FONT;
    }
    at - x
}

fn write_png(path: &Path, rows: &Rows) -> Result<()> {
    let label = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    write_labelled_png(path, rows, &label)
}

/// The PNG of `rows`, headed by `label` (the exercise and check), what the
/// window shows, and "expected" and "yours" over the two grids.
fn write_labelled_png(path: &Path, rows: &Rows, label: &str) -> Result<()> {
    let height = rows.expected.len() as u32;
    let width = rows.expected.first().map_or(0, Vec::len) as u32;
    let top = super::weight_scale(rows);
    let window = format!(
        "rows {}-{}, cols {}-{}{}, scale 0-{top:.3}",
        rows.first_row,
        rows.first_row + height.saturating_sub(1) as usize,
        rows.first_col,
        rows.first_col + width.saturating_sub(1) as usize,
        if rows.slice.is_empty() {
            String::new()
        } else {
            format!(" of slice {:?}", rows.slice)
        }
    );
    let text_width = |t: &str| t.chars().count() as u32 * 4 * FONT;
    let header = 3 * LINE + 2 * FONT;
    let grids = 2 * width * CELL + GAP;
    let w = grids.max(text_width(label)).max(text_width(&window)) + 2 * FONT;
    let h = header + height * CELL;
    // The terminal's scale (`top`): the largest expected weight, on both sides.
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    let mut paint = |x: u32, y: u32, rgb: [u8; 3]| {
        if x < w && y < h {
            let at = ((y * w + x) * 3) as usize;
            pixels[at..at + 3].copy_from_slice(&rgb);
        }
    };
    draw_text(&mut paint, 0, 0, label);
    draw_text(&mut paint, 0, LINE, &window);
    draw_text(&mut paint, 0, 2 * LINE, "expected");
    draw_text(&mut paint, width * CELL + GAP, 2 * LINE, "yours");
    for (side, grid) in [&rows.expected, &rows.got].into_iter().enumerate() {
        let left = side as u32 * (width * CELL + GAP);
        for (r, row) in grid.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                let rgb = match value {
                    // White to a dark blue, by the weight's share of the largest.
                    Some(v) => {
                        let t = (v / top).clamp(0.0, 1.0);
                        let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                        [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)]
                    }
                    None => [255, 0, 255], // NaN or infinite: magenta
                };
                let worst = (r, c) == rows.worst;
                let (x0, y0) = (left + c as u32 * CELL, header + r as u32 * CELL);
                for y in y0..y0 + CELL {
                    for x in x0..x0 + CELL {
                        let edge =
                            x - x0 < 3 || y - y0 < 3 || x0 + CELL - x <= 3 || y0 + CELL - y <= 3;
                        paint(x, y, if worst && edge { [220, 20, 20] } else { rgb });
                    }
                }
            }
        }
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_holds_both_grids_and_frames_the_worst_cell_in_red() {
        let rows = Rows {
            slice: vec![],
            first_row: 0,
            first_col: 0,
            expected: vec![vec![Some(0.0), Some(1.0)]],
            got: vec![vec![Some(1.0), Some(0.0)]],
            worst: (0, 1),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        write_png(&path, &rows).unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let header = 3 * LINE + 2 * FONT;
        assert_eq!(info.height, header + CELL);
        assert!(info.width >= 4 * CELL + GAP);
        let at = |x: u32, y: u32| {
            let i = ((y * info.width + x) * 3) as usize;
            [pixels[i], pixels[i + 1], pixels[i + 2]]
        };
        let y = header + CELL / 2;
        assert_eq!(at(CELL / 2, y), [255, 255, 255]); // expected 0: white
        assert_eq!(at(CELL + CELL / 2, y), [8, 48, 107]); // expected 1: dark
        assert_eq!(at(CELL, header), [220, 20, 20]); // the worst cell's frame
        let right = 2 * CELL + GAP;
        assert_eq!(at(right + CELL / 2, y), [8, 48, 107]); // yours 1: dark
                                                           // The heading is drawn: some dark text pixels above the grids.
        let text = (0..header)
            .flat_map(|y| (0..info.width).map(move |x| (x, y)))
            .filter(|&(x, y)| at(x, y) == [40, 40, 40])
            .count();
        assert!(text > 50, "{text} text pixels");
    }
}
