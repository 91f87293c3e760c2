//! A virtual X display for editor tests: Xvfb started per test, x11rb for the host's parent
//! window, focus and screenshots, xdotool for typing and clicking (through XTEST, as a user
//! would), tesseract to read the screenshots.
//!
//! `cargo xtask test` installs Xvfb, xdotool and tesseract (Debian packages); a missing one is
//! an error that names the package, never a skipped test.

use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt, CreateWindowAux, EventMask, ImageFormat, InputFocus, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// An Xvfb server, killed when dropped.
pub struct Display {
    server: Child,
    /// `:N`, for `DISPLAY`.
    pub name: String,
}

impl Display {
    /// Starts Xvfb on the first free display number from `first`, 1280×900, 24-bit.
    pub fn start(first: u32) -> Result<Self> {
        for number in first..first + 50 {
            let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            if lock.exists() || socket.exists() {
                continue;
            }
            let name = format!(":{number}");
            let mut server = Command::new("Xvfb")
                // `-noreset`: by default Xvfb resets when its last client leaves, and the
                // readiness probe below is a client. A connection made during that reset is
                // dropped ("failed to read whole buffer"), which failed CI once.
                .args([
                    &name,
                    "-screen",
                    "0",
                    "1280x900x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context(
                    "could not start Xvfb (Debian package `xvfb`; `cargo xtask test` installs it)",
                )?;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if socket.exists() && RustConnection::connect(Some(&name)).is_ok() {
                    return Ok(Self { server, name });
                }
                if let Some(status) = server.try_wait()? {
                    // Lost a race for this number: try the next.
                    eprintln!("Xvfb {name} exited ({status}); trying the next display");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
        bail!("could not start Xvfb on any display from :{first}")
    }

    /// Runs xdotool on this display; returns its output.
    pub fn xdotool(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.name)
            .output()
            .context("could not run xdotool (Debian package `xdotool`)")?;
        ensure!(
            out.status.success(),
            "xdotool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A connection to the display, for windows, focus and screenshots.
pub struct X {
    conn: RustConnection,
    root: u32,
    depth: u8,
    visual: u32,
}

impl X {
    /// Connects to `display` (`:N`).
    pub fn connect(display: &str) -> Result<Self> {
        let (conn, screen) = RustConnection::connect(Some(display))
            .with_context(|| format!("could not connect to X display {display}"))?;
        let screen = &conn.setup().roots[screen];
        let (root, depth, visual) = (screen.root, screen.root_depth, screen.root_visual);
        Ok(Self {
            conn,
            root,
            depth,
            visual,
        })
    }

    /// Creates and maps a top-level window of `width`×`height` at the screen's corner: the
    /// host's window a plugin editor is embedded in.
    pub fn create_window(&self, width: u16, height: u16) -> Result<u32> {
        let window = self.conn.generate_id()?;
        self.conn.create_window(
            self.depth,
            window,
            self.root,
            0,
            0,
            width,
            height,
            0,
            WindowClass::INPUT_OUTPUT,
            self.visual,
            &CreateWindowAux::new()
                .background_pixel(0x202020)
                .event_mask(EventMask::STRUCTURE_NOTIFY),
        )?;
        self.conn.map_window(window)?;
        self.conn.sync()?;
        Ok(window)
    }

    /// The children of `window`.
    pub fn children(&self, window: u32) -> Result<Vec<u32>> {
        Ok(self.conn.query_tree(window)?.reply()?.children)
    }

    /// Gives `window` the keyboard focus (there is no window manager to do it).
    pub fn focus(&self, window: u32) -> Result<()> {
        self.conn
            .set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME)?;
        self.conn.sync()?;
        Ok(())
    }

    /// What `window` shows now (including the windows inside it).
    pub fn screenshot(&self, window: u32) -> Result<Image> {
        let geometry = self.conn.get_geometry(window)?.reply()?;
        let (width, height) = (geometry.width, geometry.height);
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, width, height, !0)?
            .reply()?;
        let pixels = usize::from(width) * usize::from(height);
        ensure!(
            reply.data.len() >= pixels * 4,
            "unexpected image format: {} bytes for {width}×{height} at depth {}",
            reply.data.len(),
            reply.depth
        );
        // 24-bit depth comes as 32-bit little-endian pixels: B, G, R, unused.
        let rgb = reply
            .data
            .chunks_exact(4)
            .take(pixels)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        Ok(Image {
            width: u32::from(width),
            height: u32::from(height),
            rgb,
        })
    }
}

/// An RGB screenshot.
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Rows top to bottom, 3 bytes per pixel.
    pub rgb: Vec<u8>,
}

impl Image {
    /// How many different colours it has (a blank or single-colour window has 1).
    pub fn distinct_colors(&self) -> usize {
        let mut seen: Vec<u32> = self
            .rgb
            .chunks_exact(3)
            .map(|p| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// Writes it as a PNG.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&self.rgb)?;
        Ok(())
    }

    /// The text tesseract reads in it.
    pub fn read_text(&self, scratch: &Path) -> Result<String> {
        self.ocr(scratch, &[])
    }

    /// Where tesseract reads `phrase` (its words in a row on one line, case-blind, punctuation
    /// around each ignored, a word of four letters or more allowed one misread letter): the
    /// centre of its first match, in the image's pixels.
    pub fn find_text(&self, phrase: &str, scratch: &Path) -> Result<Option<(u32, u32)>> {
        let tsv = self.ocr(scratch, &["tsv"])?;
        let wanted: Vec<String> = phrase.split_whitespace().map(str::to_lowercase).collect();
        // Columns: level page block paragraph line word left top width height confidence text.
        let words: Vec<([&str; 4], [u32; 4], String)> = tsv
            .lines()
            .skip(1)
            .filter_map(|row| {
                let cols: Vec<&str> = row.split('\t').collect();
                let [
                    _,
                    page,
                    block,
                    par,
                    line,
                    _,
                    left,
                    top,
                    width,
                    height,
                    _,
                    text,
                ] = cols[..]
                else {
                    return None;
                };
                let n = |s: &str| s.parse::<u32>().unwrap_or(0) / OCR_SCALE;
                let text = text
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase();
                Some((
                    [page, block, par, line],
                    [n(left), n(top), n(width), n(height)],
                    text,
                ))
            })
            .collect();
        for run in words.windows(wanted.len().max(1)) {
            let same_line = run.iter().all(|w| w.0 == run[0].0);
            if same_line && run.iter().zip(&wanted).all(|(w, x)| read_as(&w.2, x)) {
                let (first, last) = (run[0].1, run[run.len() - 1].1);
                let right = last[0] + last[2];
                return Ok(Some(((first[0] + right) / 2, first[1] + first[3] / 2)));
            }
        }
        Ok(None)
    }

    /// Runs tesseract over the image with `config` (its output format; none: plain text). The
    /// image is turned into dark text on a light ground and scaled up [`OCR_SCALE`]× first
    /// (egui draws light, small text on a dark ground, which tesseract reads poorly as it is).
    fn ocr(&self, scratch: &Path, config: &[&str]) -> Result<String> {
        let (w, h) = (self.width * OCR_SCALE, self.height * OCR_SCALE);
        let mut grey = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let i = (((y / OCR_SCALE) * self.width + x / OCR_SCALE) * 3) as usize;
                let p = &self.rgb[i..i + 3];
                let luma = (u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10;
                grey.push(255 - luma as u8);
            }
        }
        if let Some(dir) = scratch.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::io::BufWriter::new(std::fs::File::create(scratch)?);
        let mut encoder = png::Encoder::new(file, w, h);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&grey)?;
        let out = Command::new("tesseract")
            .arg(scratch)
            .arg("stdout")
            .args(config)
            .output()
            .context("could not run tesseract (Debian package `tesseract-ocr`)")?;
        ensure!(
            out.status.success(),
            "tesseract failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Whether OCR's `read` is `wanted`, allowing one letter misread, missing or extra in words of
/// four letters or more ("expert" for "export").
fn read_as(read: &str, wanted: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (read.chars().collect(), wanted.chars().collect());
    if a == b {
        return true;
    }
    if b.len() < 4 || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // Skip the common prefix and suffix; what is left must be one edit.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    a.len() - prefix - suffix <= 1 && b.len() - prefix - suffix <= 1
}

/// How much [`Image::ocr`] scales a screenshot up before tesseract reads it.
const OCR_SCALE: u32 = 3;

/// Where tests keep their screenshots: `target/test-artifacts` (never committed).
pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("test-artifacts")
}
