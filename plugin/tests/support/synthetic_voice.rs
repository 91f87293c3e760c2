//! Piper voices built in the tests, in Piper's format: a small VITS-shaped model (phoneme
//! embedding, a duration predictor whose rounded-up durations build the alignment, latent
//! noise, a HiFi-GAN decoder) with random weights, and its `.onnx.json`. Shared by the voice
//! tests of the plugin crate and the host tests (`#[path]`), so both build the same voices.
//!
//! A [`Shape`] says what varies between voices, as it varies between real Piper voices: the
//! sample rate, the decoder's strides and kernels, the speakers, the espeak-ng language, and
//! how durations are made whole.

use std::path::{Path, PathBuf};

// ---- A minimal ONNX protobuf writer (field numbers from onnx.proto) ----

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn int_field(out: &mut Vec<u8>, number: u64, v: i64) {
    varint(out, number << 3);
    varint(out, v as u64);
}

const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// A node attribute.
enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

fn attribute(name: &str, value: &Attr) -> Vec<u8> {
    let mut a = Vec::new();
    len_field(&mut a, 1, name.as_bytes());
    match value {
        Attr::Float(f) => {
            varint(&mut a, 2 << 3 | 5);
            a.extend_from_slice(&f.to_le_bytes());
            int_field(&mut a, 20, 1);
        }
        Attr::Int(i) => {
            int_field(&mut a, 3, *i);
            int_field(&mut a, 20, 2);
        }
        Attr::Ints(values) => {
            for v in values {
                int_field(&mut a, 8, *v);
            }
            int_field(&mut a, 20, 7);
        }
    }
    a
}

fn tensor(name: &str, dims: &[i64], data_type: i64, raw: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        int_field(&mut t, 1, d);
    }
    int_field(&mut t, 2, data_type);
    len_field(&mut t, 8, name.as_bytes());
    len_field(&mut t, 9, raw);
    t
}

/// A value info with an element type and dims (`Some(n)` fixed, `None` symbolic).
fn value_info(name: &str, elem_type: i64, dims: &[Option<i64>]) -> Vec<u8> {
    let mut shape = Vec::new();
    for (k, d) in dims.iter().enumerate() {
        let mut dim = Vec::new();
        match d {
            Some(n) => int_field(&mut dim, 1, *n),
            None => len_field(&mut dim, 2, format!("{name}_{k}").as_bytes()),
        }
        len_field(&mut shape, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    int_field(&mut tensor_type, 1, elem_type);
    len_field(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    len_field(&mut type_proto, 1, &tensor_type);
    let mut info = Vec::new();
    len_field(&mut info, 1, name.as_bytes());
    len_field(&mut info, 2, &type_proto);
    info
}

/// Builds a graph node by node; tensor names are made unique by a counter.
struct Graph {
    nodes: Vec<Vec<u8>>,
    initializers: Vec<Vec<u8>>,
    count: usize,
    /// A fixed pseudo-random sequence for the weights.
    seed: u64,
}

impl Graph {
    fn new(seed: u64) -> Self {
        Self {
            nodes: Vec::new(),
            initializers: Vec::new(),
            count: 0,
            seed,
        }
    }

    fn name(&mut self, what: &str) -> String {
        self.count += 1;
        format!("{what}_{}", self.count)
    }

    fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.name(op);
        let mut n = Vec::new();
        for i in inputs {
            len_field(&mut n, 1, i.as_bytes());
        }
        len_field(&mut n, 2, out.as_bytes());
        len_field(&mut n, 3, format!("/{out}").as_bytes());
        len_field(&mut n, 4, op.as_bytes());
        for (name, value) in attrs {
            len_field(&mut n, 5, &attribute(name, value));
        }
        self.nodes.push(n);
        out
    }

    fn random(&mut self) -> f32 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// A float initializer of `dims` with uniform values in ±`scale`, plus `offset`.
    fn weights(&mut self, what: &str, dims: &[i64], scale: f32, offset: f32) -> String {
        let name = self.name(what);
        let count: i64 = dims.iter().product();
        let raw: Vec<u8> = (0..count)
            .flat_map(|_| (self.random() * scale + offset).to_le_bytes())
            .collect();
        self.initializers.push(tensor(&name, dims, FLOAT, &raw));
        name
    }

    fn int64s(&mut self, what: &str, dims: &[i64], values: &[i64]) -> String {
        let name = self.name(what);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor(&name, dims, INT64, &raw));
        name
    }

    /// A 1-D convolution keeping the length ("same" padding), `cin` → `cout` channels.
    fn conv(&mut self, x: &str, cin: i64, cout: i64, kernel: i64, dilation: i64) -> String {
        let scale = 1.0 / ((cin * kernel) as f32).sqrt();
        let w = self.weights("conv_w", &[cout, cin, kernel], scale, 0.0);
        let b = self.weights("conv_b", &[cout], 0.01, 0.0);
        let pad = dilation * (kernel - 1) / 2;
        self.op(
            "Conv",
            &[x, &w, &b],
            &[
                ("dilations", Attr::Ints(vec![dilation])),
                ("kernel_shape", Attr::Ints(vec![kernel])),
                ("pads", Attr::Ints(vec![pad, pad])),
                ("strides", Attr::Ints(vec![1])),
            ],
        )
    }

    fn finish(self, inputs: &[Vec<u8>], output: &str) -> Vec<u8> {
        let mut g = Vec::new();
        for n in &self.nodes {
            len_field(&mut g, 1, n);
        }
        len_field(&mut g, 2, b"synthetic");
        for t in &self.initializers {
            len_field(&mut g, 5, t);
        }
        for i in inputs {
            len_field(&mut g, 11, i);
        }
        len_field(
            &mut g,
            12,
            &value_info(output, FLOAT, &[Some(1), Some(1), None]),
        );
        let mut model = Vec::new();
        int_field(&mut model, 1, 8);
        len_field(&mut model, 2, b"orator-tests");
        let mut opset = Vec::new();
        len_field(&mut opset, 1, b"");
        int_field(&mut opset, 2, 15);
        len_field(&mut model, 8, &opset);
        len_field(&mut model, 7, &g);
        model
    }
}

/// What varies between the synthetic voices.
pub struct Shape {
    pub name: &'static str,
    pub sample_rate: u32,
    /// The decoder's upsampling strides (their product is the hop: 256 in Piper's voices).
    pub strides: [i64; 4],
    /// The residual blocks' kernels and dilations after each upsampling.
    pub resblocks: &'static [(i64, i64)],
    pub speakers: u32,
    pub espeak_voice: &'static str,
    /// The op that makes the durations whole: Piper's `Ceil` (the front then gives them as
    /// its second output), or another (`Round`), which hides them.
    pub whole_durations: &'static str,
    /// The audio's scale: real voices differ in loudness by many dB.
    pub gain: f32,
}

/// A medium voice's shape: 22.05 kHz, Piper's strides, one small resblock, one English
/// speaker. Each test changes what it is about.
pub const MEDIUM: Shape = Shape {
    name: "medium-22k",
    sample_rate: 22_050,
    strides: [8, 8, 2, 2],
    resblocks: &[(3, 1)],
    speakers: 1,
    espeak_voice: "en-us",
    whole_durations: "Ceil",
    gain: 1.0,
};

const CHANNELS: i64 = 16;

/// The model's bytes: Piper's inputs (`input`, `input_lengths`, `scales`, and `sid` with
/// several speakers) and one output, the audio.
pub fn model(shape: &Shape, num_symbols: i64) -> Vec<u8> {
    let mut g = Graph::new(0x2545_f491_4f6c_dd1d ^ u64::from(shape.sample_rate));
    let c = CHANNELS;
    // Text encoder: embedding, channels first.
    let emb = g.weights("emb", &[num_symbols, c], 1.0, 0.0);
    let x = g.op("Gather", &[&emb, "input"], &[]);
    let x = g.op("Transpose", &[&x], &[("perm", Attr::Ints(vec![0, 2, 1]))]);
    let x = g.conv(&x, c, c, 5, 1);
    // Piper masks the phonemes past `input_lengths`; here the whole input is the sentence,
    // so the mask is 1 (it keeps the input in the graph, as Piper's is).
    let lengths = g.op("Cast", &["input_lengths"], &[("to", Attr::Int(FLOAT))]);
    let mask = g.op("Div", &[&lengths, &lengths], &[]);
    let x = g.op("Mul", &[&x, &mask], &[]);
    // Durations: about 3 to 8 frames a phoneme, times the length scale, rounded up.
    let logw = g.conv(&x, c, 1, 3, 1);
    let base = g.weights("dur_base", &[1], 0.0, 1.6);
    let logw = g.op("Add", &[&logw, &base], &[]);
    let w = g.op("Exp", &[&logw], &[]);
    let one = g.int64s("one", &[], &[1]);
    let zero = g.int64s("zero", &[], &[0]);
    let length_scale = g.op("Gather", &["scales", &one], &[]);
    let w = g.op("Mul", &[&w, &length_scale], &[]);
    let w = g.op(shape.whole_durations, &[&w], &[]);
    // The alignment: frame t belongs to phoneme n when start[n] <= t < end[n].
    let total = g.op("ReduceSum", &[&w], &[("keepdims", Attr::Int(0))]);
    let frames = g.op("Cast", &[&total], &[("to", Attr::Int(INT64))]);
    let t = g.op("Range", &[&zero, &frames, &one], &[]);
    let t = g.op("Cast", &[&t], &[("to", Attr::Int(FLOAT))]);
    let axis = g.int64s("axis", &[], &[2]);
    let end = g.op("CumSum", &[&w, &axis], &[]);
    let start = g.op("Sub", &[&end, &w], &[]);
    let end = g.op("Transpose", &[&end], &[("perm", Attr::Ints(vec![0, 2, 1]))]);
    let start = g.op(
        "Transpose",
        &[&start],
        &[("perm", Attr::Ints(vec![0, 2, 1]))],
    );
    let before_end = g.op("Less", &[&t, &end], &[]);
    let after_start = g.op("GreaterOrEqual", &[&t, &start], &[]);
    let inside = g.op("And", &[&before_end, &after_start], &[]);
    let attn = g.op("Cast", &[&inside], &[("to", Attr::Int(FLOAT))]);
    let mut z = g.op("MatMul", &[&x, &attn], &[]);
    // The speaker: its embedding is added to the latent and conditions the decoder's first
    // layer, as in Piper (the split then falls after that layer).
    let speaker = (shape.speakers > 1).then(|| {
        let table = g.weights("speakers", &[i64::from(shape.speakers), c], 1.0, 0.0);
        let s = g.op("Gather", &[&table, "sid"], &[]);
        let axes = g.int64s("axes", &[1], &[2]);
        g.op("Unsqueeze", &[&s, &axes], &[])
    });
    if let Some(s) = &speaker {
        z = g.op("Add", &[&z, s], &[]);
    }
    // Latent noise, scaled by `scales[0]` (Piper's noise_scale).
    let noise = g.op(
        "RandomNormalLike",
        &[&z],
        &[("dtype", Attr::Int(FLOAT)), ("scale", Attr::Float(1.0))],
    );
    let zero_index = g.int64s("index0", &[], &[0]);
    let noise_scale = g.op("Gather", &["scales", &zero_index], &[]);
    let noise = g.op("Mul", &[&noise, &noise_scale], &[]);
    let z = g.op("Add", &[&z, &noise], &[]);

    // HiFi-GAN decoder.
    let mut h = g.conv(&z, c, c, 7, 1);
    if let Some(s) = &speaker {
        let cond = g.conv(s, c, c, 1, 1);
        h = g.op("Add", &[&h, &cond], &[]);
    }
    for stride in shape.strides {
        h = g.op("LeakyRelu", &[&h], &[("alpha", Attr::Float(0.1))]);
        let kernel = stride * 2;
        let wt = g.weights("up_w", &[c, c, kernel], 1.0 / ((c * 2) as f32).sqrt(), 0.0);
        let bt = g.weights("up_b", &[c], 0.01, 0.0);
        h = g.op(
            "ConvTranspose",
            &[&h, &wt, &bt],
            &[
                ("dilations", Attr::Ints(vec![1])),
                ("group", Attr::Int(1)),
                ("kernel_shape", Attr::Ints(vec![kernel])),
                ("pads", Attr::Ints(vec![stride / 2, stride / 2])),
                ("strides", Attr::Ints(vec![stride])),
            ],
        );
        for &(kernel, dilation) in shape.resblocks {
            let r = g.op("LeakyRelu", &[&h], &[("alpha", Attr::Float(0.1))]);
            let r = g.conv(&r, c, c, kernel, dilation);
            h = g.op("Add", &[&h, &r], &[]);
        }
    }
    let h = g.op("LeakyRelu", &[&h], &[("alpha", Attr::Float(0.01))]);
    let h = g.conv(&h, c, 1, 7, 1);
    let audio = g.op("Tanh", &[&h], &[]);
    let audio = if shape.gain == 1.0 {
        audio
    } else {
        let gain = g.weights("gain", &[1], 0.0, shape.gain);
        g.op("Mul", &[&audio, &gain], &[])
    };
    let output = g.op("Identity", &[&audio], &[]);

    let mut inputs = vec![
        value_info("input", INT64, &[Some(1), None]),
        value_info("input_lengths", INT64, &[Some(1)]),
        value_info("scales", FLOAT, &[Some(3)]),
    ];
    if shape.speakers > 1 {
        inputs.push(value_info("sid", INT64, &[Some(1)]));
    }
    g.finish(&inputs, &output)
}

/// Writes the voice's model and config into `dir`; returns the model's path. The phoneme map
/// is that of `real`, a real voice's model (every phoneme espeak-ng gives for these languages
/// has an id in the default voice's).
pub fn write_voice(shape: &Shape, dir: &Path, real: &Path) -> PathBuf {
    let mut config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(real.with_extension("onnx.json")).expect("the real voice's config"),
    )
    .expect("JSON");
    let num_symbols = 256;
    config["audio"]["sample_rate"] = shape.sample_rate.into();
    config["espeak"]["voice"] = shape.espeak_voice.into();
    config["num_symbols"] = num_symbols.into();
    config["num_speakers"] = shape.speakers.into();
    config["speaker_id_map"] = (0..shape.speakers)
        .map(|s| (format!("speaker {s}"), serde_json::Value::from(s)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let path = dir.join(format!("{}.onnx", shape.name));
    std::fs::write(&path, model(shape, num_symbols)).expect("write the model");
    std::fs::write(
        path.with_extension("onnx.json"),
        serde_json::to_vec(&config).expect("config"),
    )
    .expect("write the config");
    path
}
