//! Drops a decoder window's context as soon as the rest of the decoder no longer reads it.
//!
//! A window of the latent is decoded with [`crate::tts::voice::schedule::WINDOW_CONTEXT_FRAMES`] frames of
//! context on each side, so that its own frames come out as the whole decode gives them. But
//! HiFi-GAN's receptive field is spent unevenly. In the default voice most of it is read by the
//! first upsampling stage, which runs at 8 samples per frame on 128 channels; the later stages,
//! at 64 and 256 samples per frame, read less than a frame of context each and cost about 80 %
//! of the decoding. Decoded whole, a window's 20 frames of context cost as much as 20 frames of
//! speech; cropped around each upsampling to what the layers after it still read, they cost
//! about as much as 3.9 ([`Cropping::side_cost`], docs/design/streaming.md).
//!
//! [`plan`] finds, by structure, how far each tensor of the decoder still reaches into the
//! output (its *margin*), walking back from the output through the convolutions' kernels,
//! dilations, strides and paddings. A `Slice` is put on the time axis of each transposed
//! convolution's input and output; its bounds are inputs of the decoder graph, which
//! [`Cropping::window`] computes for each window from how much context it has on each side.
//! Nothing a kept sample depends on is dropped, so the window's own samples are the ones the
//! uncropped window gives. A decoder with a layer the walk does not know (anything but
//! convolutions, transposed convolutions with "same"-style padding, element-wise layers and a
//! final `Unsqueeze`) is not cropped: it decodes its windows whole, as before.

use super::wire::{GraphError, LEN, VARINT, field, fields, packed_varints, text};
use std::collections::{HashMap, HashSet};

/// One place the decoder crops a window's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CropPoint {
    /// Samples per latent frame of the tensor cropped here.
    pub rate: usize,
    /// Samples kept beyond the window's own, on each side that has context: how far the rest of
    /// the decoder reads from the window's own samples.
    pub margin: usize,
}

/// How a decoder crops its windows (empty: it does not; the window is decoded whole).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cropping {
    /// Output samples per latent frame (0 when there are no crop points).
    pub hop: usize,
    /// Latent frames of context a window needs on each side for its own frames to come out as
    /// the whole decode gives them: how far the decoder's output reaches into the latent.
    pub context: usize,
    /// The crop points in the order the decoder reaches them. Point `k` reads its bounds from
    /// the inputs [`start_input`]`(k)` and [`end_input`]`(k)`.
    pub points: Vec<CropPoint>,
    /// What decoding one side's [`Cropping::context`] costs, in latent frames of the window's
    /// own: the context's frame count if nothing were cropped, much less as it is (from the
    /// convolutions' sizes and the samples each one runs on).
    pub side_cost: f64,
}

/// The decoder input holding where crop point `k` starts, `[1]` int64.
pub fn start_input(k: usize) -> String {
    format!("orator_crop_{k}_start")
}

/// The decoder input holding where crop point `k` ends, `[1]` int64.
pub fn end_input(k: usize) -> String {
    format!("orator_crop_{k}_end")
}

/// What one window feeds the crop points, and what comes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCrops {
    /// For each crop point, the start and end (exclusive) of what it keeps, as indices into the
    /// tensor as it reaches that point.
    pub bounds: Vec<(i64, i64)>,
    /// Output samples cropped before the decoder's first output sample: the window's first
    /// latent frame starts this many samples before the output does.
    pub offset: usize,
    /// The decoder's output length, in samples.
    pub len: usize,
}

impl Cropping {
    /// Whether the decoder crops nothing.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The crops of a window of `frames` latent frames whose first `left` and last `right`
    /// frames are context (0 at a sentence's ends). Only for a non-empty cropping.
    pub fn window(&self, frames: usize, left: usize, right: usize) -> WindowCrops {
        // Samples dropped so far on each side, counted at `rate`.
        let (mut rate, mut dropped_left, mut dropped_right) = (1, 0, 0);
        let mut bounds = Vec::with_capacity(self.points.len());
        for point in &self.points {
            let scale = point.rate / rate.max(1);
            dropped_left *= scale;
            dropped_right *= scale;
            rate = point.rate;
            let keep_left = (left * rate).saturating_sub(point.margin).max(dropped_left);
            let keep_right = (right * rate)
                .saturating_sub(point.margin)
                .max(dropped_right);
            let len = frames * rate - dropped_left - dropped_right;
            let start = keep_left - dropped_left;
            let end = len.saturating_sub(keep_right - dropped_right).max(start);
            bounds.push((start as i64, end as i64));
            dropped_left = keep_left;
            dropped_right = keep_right;
        }
        let scale = self.hop / rate.max(1);
        WindowCrops {
            bounds,
            offset: dropped_left * scale,
            len: (frames * rate - dropped_left - dropped_right) * scale,
        }
    }
}

/// A node of the decoder as the planner sees it.
pub(super) struct PlanNode<'a> {
    /// The NodeProto's bytes (without its tag).
    pub(super) payload: &'a [u8],
    pub(super) op: &'a str,
    pub(super) inputs: &'a [&'a str],
    pub(super) outputs: &'a [&'a str],
}

/// Where to crop, found by [`plan`].
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// The cropped tensors, in the order of [`Cropping::points`].
    pub(super) tensors: Vec<&'a str>,
    pub(super) cropping: Cropping,
}

/// How a layer maps time between its input and output.
enum Layer {
    /// Same length and alignment; reads `halo` samples on each side.
    Same { halo: usize },
    /// A transposed convolution: `stride` output samples per input sample.
    Up {
        kernel: usize,
        stride: usize,
        pad: usize,
    },
    /// Changes the rank only (`Unsqueeze`): crops may not follow it.
    Shape,
}

/// Element-wise layers: the same length, nothing read beside the sample itself.
const ELEMENTWISE: &[&str] = &[
    "LeakyRelu",
    "Relu",
    "Tanh",
    "Sigmoid",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Identity",
    "Cast",
];

/// Why a decoder is not cropped: what the planner met that it cannot follow. Not a failure:
/// such a decoder decodes each window's whole context, as correct as a cropped one and slower.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decoder windows keep their whole context: {0}")]
pub struct Uncroppable(pub String);

impl From<String> for Uncroppable {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for Uncroppable {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

impl From<GraphError> for Uncroppable {
    fn from(error: GraphError) -> Self {
        Self(error.to_string())
    }
}

/// A node's INT and INTS attributes by name.
fn int_attributes(payload: &[u8]) -> Result<HashMap<&str, Vec<i64>>, GraphError> {
    use field::attribute;
    let mut out = HashMap::new();
    for node_attribute in fields(payload)?
        .iter()
        .filter(|f| f.number == field::node::ATTRIBUTE)
    {
        let parts = fields(node_attribute.payload)?;
        let name = parts
            .iter()
            .find(|f| f.number == attribute::NAME)
            .map_or(Ok(""), |f| text(f.payload))?;
        let mut values = Vec::new();
        for part in &parts {
            match (part.number, part.wire) {
                (attribute::I | attribute::INTS, VARINT) => values.push(part.varint as i64),
                // Packed ints.
                (attribute::INTS, LEN) => {
                    for value in packed_varints(part.payload)? {
                        values.push(value as i64);
                    }
                }
                _ => {}
            }
        }
        let strings: Vec<&[u8]> = parts
            .iter()
            .filter(|f| f.number == attribute::S)
            .map(|f| f.payload)
            .collect();
        if name == "auto_pad" && strings.iter().any(|s| *s != b"NOTSET") {
            return Err(GraphError::Unsupported("auto_pad".into()));
        }
        out.insert(name, values);
    }
    Ok(out)
}

/// One attribute with exactly `n` values (`default` when absent).
/// The largest kernel, stride, dilation or padding a layer may have here: a HiFi-GAN's are
/// under 32; anything near this is not a decoder the planner should follow, and the bound keeps
/// every product of them far from overflowing.
const MAX_LAYER_SIZE: usize = 4096;

/// The most output samples per latent frame a decoder may make (Piper's make 256).
const MAX_HOP: usize = 1 << 16;

fn ints<const N: usize>(
    attributes: &HashMap<&str, Vec<i64>>,
    name: &str,
    default: Option<[i64; N]>,
) -> Result<[usize; N], Uncroppable> {
    let values: Vec<i64> = match (attributes.get(name), default) {
        (Some(values), _) => values.clone(),
        (None, Some(default)) => default.to_vec(),
        (None, None) => return Err(format!("no {name} attribute").into()),
    };
    // Kernels, strides and dilations of 0 would divide by zero below; pads may be 0.
    let least = usize::from(name != "pads" && name != "output_padding");
    let values: Vec<usize> = values
        .iter()
        .map(|&v| {
            usize::try_from(v)
                .ok()
                .filter(|v| (least..=MAX_LAYER_SIZE).contains(v))
                .ok_or_else(|| {
                    Uncroppable(format!("{name} {v} (outside {least}–{MAX_LAYER_SIZE})"))
                })
        })
        .collect::<Result<_, _>>()?;
    values
        .try_into()
        .map_err(|v: Vec<usize>| Uncroppable(format!("{name} {v:?} (only 1-D layers)")))
}

fn layer(node: &PlanNode) -> Result<Layer, Uncroppable> {
    let attributes = int_attributes(node.payload)?;
    match node.op {
        "Conv" => {
            let [kernel] = ints(&attributes, "kernel_shape", None)?;
            let [dilation] = ints(&attributes, "dilations", Some([1]))?;
            let [stride] = ints(&attributes, "strides", Some([1]))?;
            let [left, right] = ints(&attributes, "pads", Some([0, 0]))?;
            let halo = dilation * kernel.saturating_sub(1) / 2;
            if stride != 1 || kernel % 2 == 0 || left != halo || right != halo {
                return Err(format!(
                    "a convolution that changes the length (kernel {kernel}, dilation \
                     {dilation}, stride {stride}, pads {left}/{right})"
                )
                .into());
            }
            Ok(Layer::Same { halo })
        }
        "ConvTranspose" => {
            let [kernel] = ints(&attributes, "kernel_shape", None)?;
            let [dilation] = ints(&attributes, "dilations", Some([1]))?;
            let [stride] = ints(&attributes, "strides", Some([1]))?;
            let [left, right] = ints(&attributes, "pads", Some([0, 0]))?;
            let [extra] = ints(&attributes, "output_padding", Some([0]))?;
            if attributes.contains_key("output_shape")
                || dilation != 1
                || extra != 0
                || left != right
                || kernel != stride + 2 * left
            {
                return Err(format!(
                    "a transposed convolution whose output is not its input's length times its \
                     stride (kernel {kernel}, stride {stride}, pads {left}/{right})"
                )
                .into());
            }
            Ok(Layer::Up {
                kernel,
                stride,
                pad: left,
            })
        }
        "Unsqueeze" => Ok(Layer::Shape),
        op if ELEMENTWISE.contains(&op) => Ok(Layer::Same { halo: 0 }),
        op => Err(format!("a {op} layer").into()),
    }
}

/// Samples of its input a layer reads beyond those under `need` samples of its output.
fn input_need(layer: &Layer, need: usize) -> usize {
    match *layer {
        Layer::Same { halo } => need + halo,
        Layer::Shape => need,
        // Output j reads input i when 0 ≤ j + pad − i·stride < kernel; input i's own outputs
        // are [i·stride, (i+1)·stride).
        Layer::Up {
            kernel,
            stride,
            pad,
        } => ((need + kernel - 1).saturating_sub(pad) / stride)
            .max((stride - 1 + need + pad) / stride),
    }
}

/// Plans the crops of a decoder whose `nodes` (in topological order) turn `latent` into
/// `outputs`. `constant` holds the tensors computed from initializers alone, and `constant_len(name)` the number of
/// elements of such a tensor if known (an element-wise layer may only read scalars beside the
/// signal; a convolution's weights give its cost). An error says why the decoder is not
/// cropped.
pub(super) fn plan<'a>(
    nodes: &[PlanNode<'a>],
    latent: &str,
    outputs: &[&str],
    constant: &HashSet<&str>,
    constant_len: &dyn Fn(&str) -> Option<usize>,
) -> Result<Plan<'a>, Uncroppable> {
    let live = |node: &PlanNode<'a>| -> Vec<&'a str> {
        node.inputs
            .iter()
            .copied()
            .filter(|i| !i.is_empty() && !constant.contains(i))
            .collect()
    };
    // Nodes computed from constants alone have no layer: they do not run in time.
    let layers: Vec<Option<Layer>> = nodes
        .iter()
        .map(|node| {
            if live(node).is_empty() {
                return Ok(None);
            }
            let layer = layer(node)?;
            if ELEMENTWISE.contains(&node.op) {
                for input in node.inputs.iter().filter(|i| constant.contains(*i)) {
                    if constant_len(input) != Some(1) {
                        return Err(format!(
                            "a {} layer reads {input:?}, which may vary in time",
                            node.op
                        )
                        .into());
                    }
                }
            }
            Ok(Some(layer))
        })
        .collect::<Result<_, Uncroppable>>()?;

    // How far into each tensor the outputs still read, walking back from them.
    let mut need: HashMap<&str, usize> = outputs.iter().map(|&o| (o, 0)).collect();
    for (node, layer) in nodes.iter().zip(&layers).rev() {
        let Some(layer) = layer else { continue };
        let Some(out) = node.outputs.iter().filter_map(|o| need.get(o)).max() else {
            continue;
        };
        let reach = input_need(layer, *out);
        let data: Vec<&str> = match layer {
            // Only the data input of a convolution runs in time; weights and bias are constant.
            Layer::Same { .. } | Layer::Up { .. } if node.op.starts_with("Conv") => {
                live(node).into_iter().take(1).collect()
            }
            Layer::Shape => node.inputs.iter().copied().take(1).collect(),
            _ => live(node),
        };
        for input in data {
            let entry = need.entry(input).or_insert(0);
            *entry = (*entry).max(reach);
        }
    }

    // The context a window needs: how far the output reaches into the latent.
    let context = need.get(latent).copied().unwrap_or(0);

    // Crop around every upsampling, where the rate changes and the margin shrinks most.
    let producer: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |&o| (o, i)))
        .collect();
    let mut tensors: Vec<&'a str> = Vec::new();
    for (node, layer) in nodes.iter().zip(&layers) {
        if let Some(Layer::Up { .. }) = layer {
            let input = node.inputs.first().copied().unwrap_or_default();
            for tensor in [input, node.outputs.first().copied().unwrap_or_default()] {
                if producer.contains_key(tensor) && !tensors.contains(&tensor) {
                    tensors.push(tensor);
                }
            }
        }
    }
    tensors.sort_by_key(|t| producer[t]);
    if tensors.is_empty() {
        return Err("no upsampling to crop around".into());
    }

    // Walk forward, checking that the crop points form one chain every path to the output
    // goes through (anything mixing tensors cropped differently would misalign them), and
    // note each one's rate.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Domain {
        rate: usize,
        crops: usize,
        shaped: bool,
        /// Samples of context on each side of a window with the full context.
        context: usize,
    }
    let mut domain: HashMap<&str, Domain> = HashMap::new();
    domain.insert(
        latent,
        Domain {
            rate: 1,
            crops: 0,
            shaped: false,
            context,
        },
    );
    let mut points = Vec::with_capacity(tensors.len());
    // Multiply-adds per latent frame of the window's own, and per side of context, summed over
    // the convolutions (a weight's elements are its multiply-adds per input sample).
    let (mut own_cost, mut context_cost) = (0.0f64, 0.0f64);
    for (node, layer) in nodes.iter().zip(&layers) {
        let Some(layer) = layer else { continue };
        let inputs: Vec<Domain> = live(node)
            .iter()
            .map(|i| {
                domain
                    .get(i)
                    .copied()
                    .ok_or_else(|| format!("{i:?} comes from outside the decoder"))
            })
            .collect::<Result<_, _>>()?;
        let Some(&first) = inputs.first() else {
            continue;
        };
        if inputs.iter().any(|d| *d != first) {
            return Err(format!(
                "a {} layer mixes tensors of different rates or crops",
                node.op
            )
            .into());
        }
        if node.op.starts_with("Conv") {
            let weights = node
                .inputs
                .get(1)
                .and_then(|w| constant_len(w))
                .ok_or_else(|| format!("a {} layer with weights of unknown size", node.op))?;
            own_cost += weights as f64 * first.rate as f64;
            context_cost += weights as f64 * first.context as f64;
        }
        let mut out = first;
        match layer {
            Layer::Up { stride, .. } => {
                out.rate = out
                    .rate
                    .checked_mul(*stride)
                    .filter(|&r| r <= MAX_HOP)
                    .ok_or_else(|| format!("upsamplings of more than {MAX_HOP} samples a frame"))?;
                out.context = out.context.saturating_mul(*stride);
            }
            Layer::Shape => out.shaped = true,
            Layer::Same { .. } => {}
        }
        for &output in node.outputs {
            let mut d = out;
            if let Some(k) = tensors.iter().position(|&t| t == output) {
                if d.crops != k || d.shaped {
                    return Err(format!("{output:?} is not on the decoder's one path").into());
                }
                d.crops += 1;
                let margin = need.get(output).copied().unwrap_or(0);
                d.context = d.context.min(margin);
                points.push(CropPoint {
                    rate: d.rate,
                    margin,
                });
            }
            domain.insert(output, d);
        }
    }
    let mut hop = None;
    for output in outputs {
        let d = domain
            .get(output)
            .ok_or_else(|| format!("the output {output:?} is not computed from the latent"))?;
        if d.crops != tensors.len() || hop.is_some_and(|h| h != d.rate) {
            return Err(format!("the output {output:?} bypasses a crop").into());
        }
        hop = Some(d.rate);
    }
    Ok(Plan {
        tensors,
        cropping: Cropping {
            hop: hop.unwrap_or(0),
            points,
            context,
            side_cost: if own_cost > 0.0 {
                context_cost / own_cost
            } else {
                context as f64
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::model::wire::{node, put_len, put_uint};

    /// An INTS attribute.
    fn ints_attribute(name: &str, values: &[i64]) -> Vec<u8> {
        use field::attribute;
        let mut a = Vec::new();
        put_len(&mut a, attribute::NAME, name.as_bytes());
        for &v in values {
            put_uint(&mut a, attribute::INTS, v as u64);
        }
        put_uint(&mut a, attribute::TYPE, attribute::TYPE_INTS);
        a
    }

    /// One node of a toy decoder.
    struct ToyNode {
        op: String,
        inputs: Vec<&'static str>,
        outputs: Vec<&'static str>,
        /// The NodeProto's bytes.
        payload: Vec<u8>,
    }

    /// A toy decoder's nodes.
    struct Toy {
        nodes: Vec<ToyNode>,
    }

    impl Toy {
        fn new() -> Self {
            Self { nodes: Vec::new() }
        }

        fn add(
            &mut self,
            op: &str,
            inputs: &[&'static str],
            output: &'static str,
            ints: &[(&str, &[i64])],
        ) {
            let attributes: Vec<Vec<u8>> = ints.iter().map(|(n, v)| ints_attribute(n, v)).collect();
            let payload = node(op, output, inputs, &[output], &attributes);
            self.nodes.push(ToyNode {
                op: op.to_owned(),
                inputs: inputs.to_vec(),
                outputs: vec![output],
                payload,
            });
        }

        fn conv(
            &mut self,
            input: &'static str,
            weights: &'static str,
            output: &'static str,
            kernel: i64,
            dilation: i64,
        ) {
            let pad = dilation * (kernel - 1) / 2;
            self.add(
                "Conv",
                &[input, weights],
                output,
                &[
                    ("kernel_shape", &[kernel]),
                    ("dilations", &[dilation]),
                    ("pads", &[pad, pad]),
                ],
            );
        }

        fn up(
            &mut self,
            input: &'static str,
            weights: &'static str,
            output: &'static str,
            kernel: i64,
            stride: i64,
        ) {
            let pad = (kernel - stride) / 2;
            self.add(
                "ConvTranspose",
                &[input, weights],
                output,
                &[
                    ("kernel_shape", &[kernel]),
                    ("strides", &[stride]),
                    ("pads", &[pad, pad]),
                ],
            );
        }

        /// A decoder like HiFi-GAN's, small: a convolution, two upsamplings (by 8 and 4) with a
        /// residual block between them, a last convolution and tanh.
        fn hifigan() -> Self {
            let mut toy = Self::new();
            toy.conv("z", "w1", "a", 7, 1);
            toy.add("LeakyRelu", &["a"], "b", &[]);
            toy.up("b", "w2", "c", 16, 8);
            toy.conv("c", "w3", "d", 3, 1);
            toy.add("Add", &["c", "d"], "e", &[]);
            toy.up("e", "w4", "f", 8, 4);
            toy.conv("f", "w5", "g", 7, 1);
            toy.add("Tanh", &["g"], "out", &[]);
            toy
        }

        fn plan(&self) -> Result<Plan<'_>, Uncroppable> {
            let nodes: Vec<PlanNode> = self
                .nodes
                .iter()
                .map(|n| PlanNode {
                    payload: &n.payload,
                    op: &n.op,
                    inputs: &n.inputs,
                    outputs: &n.outputs,
                })
                .collect();
            let weights: HashMap<&str, usize> =
                [("w1", 10), ("w2", 20), ("w3", 5), ("w4", 8), ("w5", 2)].into();
            let constant: HashSet<&str> = weights.keys().copied().collect();
            let sizes = |name: &str| weights.get(name).copied();
            plan(&nodes, "z", &["out"], &constant, &sizes)
        }
    }

    #[test]
    fn margins_follow_each_layer_back_from_the_output() {
        let toy = Toy::hifigan();
        let plan = toy.plan().expect("plans");
        // Around both upsamplings, in order.
        assert_eq!(plan.tensors, ["b", "c", "e", "f"]);
        // Back from the output: the last convolution reads 3 of f; the ×4 upsampling turns 3
        // into 2 of e; the residual block's convolution reads 1 more of c than e does (3); the ×8
        // upsampling turns that into 1 of b.
        let expected = [(1, 1), (8, 3), (8, 2), (32, 3)];
        let got: Vec<(usize, usize)> = plan
            .cropping
            .points
            .iter()
            .map(|p| (p.rate, p.margin))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(plan.cropping.hop, 32);
        // The first convolution reads 3 more of the latent than b needs: 4 frames of context.
        assert_eq!(plan.cropping.context, 4);
        // Multiply-adds per frame of its own: 10·1 + 20·1 + 5·8 + 8·8 + 2·32 = 198; per side of
        // context: 10·4 + 20·1 + 5·3 + 8·2 + 2·3 = 97.
        assert!((plan.cropping.side_cost - 97.0 / 198.0).abs() < 1e-12);
    }

    #[test]
    fn a_decoder_it_cannot_follow_is_not_cropped() {
        // A layer it does not know.
        let mut toy = Toy::hifigan();
        toy.add("Resize", &["out"], "resized", &[]);
        let err = toy.plan().unwrap_err();
        assert!(err.0.contains("Resize"), "{err}");

        // A path around an upsampling: the output mixes rates.
        let mut toy = Toy::hifigan();
        toy.nodes.pop();
        toy.add("Add", &["g", "z"], "out", &[]);
        let err = toy.plan().unwrap_err();
        assert!(err.0.contains("mixes"), "{err}");

        // A strided convolution changes the length.
        let mut toy = Toy::new();
        toy.add(
            "Conv",
            &["z", "w1"],
            "a",
            &[("kernel_shape", &[3]), ("strides", &[2]), ("pads", &[1, 1])],
        );
        toy.up("a", "w2", "out", 16, 8);
        let err = toy.plan().unwrap_err();
        assert!(err.0.contains("stride 2"), "{err}");

        // An upsampling whose output is not its input times its stride.
        let mut toy = Toy::new();
        toy.add(
            "ConvTranspose",
            &["z", "w2"],
            "out",
            &[
                ("kernel_shape", &[16]),
                ("strides", &[8]),
                ("pads", &[0, 0]),
            ],
        );
        assert!(toy.plan().unwrap_err().0.contains("stride"));

        // Kernel, stride and padding 0 satisfy "kernel = stride + 2 pads" and would divide by
        // the stride; they are refused, as are sizes past any decoder's.
        for (kernel, stride) in [(0, 0), (1 << 40, 1 << 40), (-8, 8)] {
            let mut toy = Toy::new();
            toy.add(
                "ConvTranspose",
                &["z", "w2"],
                "out",
                &[
                    ("kernel_shape", &[kernel]),
                    ("strides", &[stride]),
                    ("pads", &[0, 0]),
                ],
            );
            let err = toy.plan().unwrap_err();
            assert!(err.0.contains("outside"), "{kernel}/{stride}: {err}");
        }
    }

    fn cropping() -> Cropping {
        // The default voice's: around upsamplings by 8, 8 and 4.
        Cropping {
            hop: 256,
            context: 11,
            side_cost: 2.0,
            points: vec![
                CropPoint { rate: 1, margin: 8 },
                CropPoint {
                    rate: 8,
                    margin: 53,
                },
                CropPoint { rate: 8, margin: 8 },
                CropPoint {
                    rate: 64,
                    margin: 58,
                },
                CropPoint {
                    rate: 64,
                    margin: 13,
                },
                CropPoint {
                    rate: 256,
                    margin: 48,
                },
            ],
        }
    }

    /// Each point's kept range in samples of the uncropped window at its rate.
    fn kept(c: &Cropping, frames: usize, w: &WindowCrops) -> Vec<(usize, usize)> {
        let (mut rate, mut from, mut to) = (1, 0, frames);
        let mut out = Vec::new();
        for (point, &(start, end)) in c.points.iter().zip(&w.bounds) {
            let scale = point.rate / rate;
            rate = point.rate;
            (from, to) = (from * scale, to * scale);
            assert!(
                start >= 0 && end as usize <= to - from,
                "{start}..{end} in {from}..{to}"
            );
            (from, to) = (from + start as usize, from + end as usize);
            out.push((from, to));
        }
        out
    }

    #[test]
    fn a_window_keeps_each_margin_around_its_own_samples() {
        let c = cropping();
        for (frames, left, right) in [
            (36, 10, 10),
            (52, 10, 10),
            (26, 0, 10),
            (42, 10, 0),
            (30, 10, 4),
        ] {
            let w = c.window(frames, left, right);
            for (point, (from, to)) in c.points.iter().zip(kept(&c, frames, &w)) {
                let r = point.rate;
                assert_eq!(from, left * r - point.margin.min(left * r), "{point:?}");
                assert_eq!(
                    to,
                    (frames - right) * r + point.margin.min(right * r),
                    "{point:?}"
                );
            }
            // The output: the last margin around the window's own samples.
            let last = c.points[c.points.len() - 1];
            let (l, r) = (last.margin.min(left * 256), last.margin.min(right * 256));
            assert_eq!(w.offset, left * 256 - l);
            assert_eq!(w.len, (frames - left - right) * 256 + l + r);
        }
    }

    #[test]
    fn a_side_without_context_is_not_cropped() {
        let c = cropping();
        let w = c.window(26, 0, 10);
        assert!(w.bounds.iter().all(|&(start, _)| start == 0));
        assert_eq!(w.offset, 0);
        assert_eq!(w.len, 16 * 256 + 48);
        let whole = c.window(40, 0, 0);
        assert_eq!(whole.len, 40 * 256);
        assert_eq!(whole.offset, 0);
        let mut len = 40;
        let mut rate = 1;
        for (point, &(start, end)) in c.points.iter().zip(&whole.bounds) {
            len *= point.rate / rate;
            rate = point.rate;
            assert_eq!((start, end), (0, len as i64));
        }
    }

    #[test]
    fn short_context_keeps_what_it_has() {
        let c = cropping();
        // 3 frames of context on the right: less than the first point's margin of 8.
        let w = c.window(19, 0, 3);
        assert_eq!(w.bounds[0], (0, 19));
        assert_eq!(w.len, 16 * 256 + 48);
    }

    #[test]
    fn the_upsampling_reach_follows_kernel_stride_and_padding() {
        // Kernel 16, stride 8, padding 4: output j reads inputs (j - 11) / 8 ..= (j + 4) / 8.
        let up = Layer::Up {
            kernel: 16,
            stride: 8,
            pad: 4,
        };
        assert_eq!(input_need(&up, 0), 1);
        assert_eq!(input_need(&up, 58), 8);
        assert_eq!(input_need(&Layer::Same { halo: 36 }, 12), 48);
    }
}
