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

    /// The text tesseract reads in it. The image is turned into dark text on a light ground
    /// and scaled up 3× first (egui draws light, small text on a dark ground, which tesseract
    /// reads poorly as it is).
    pub fn read_text(&self, scratch: &Path) -> Result<String> {
        const SCALE: u32 = 3;
        let (w, h) = (self.width * SCALE, self.height * SCALE);
        let mut grey = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let i = (((y / SCALE) * self.width + x / SCALE) * 3) as usize;
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

/// Where tests keep their screenshots: `target/test-artifacts` (never committed).
pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("test-artifacts")
}
