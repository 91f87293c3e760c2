//! Splits a Piper (VITS) model in two at the decoder's input: a *front* (text encoder, duration
//! predictor, flow: phonemes → latent) and a *decoder* (HiFi-GAN: latent → audio). The decoder
//! is local in time, so it can be run on windows of the latent as they are needed
//! (within-sentence streaming, docs/design/streaming.md); this module only makes the two graphs.
//!
//! The split point is found by structure, not by the names in one voice: the first transposed
//! convolution on the way to the audio output is the decoder's first upsampling; walking back
//! from it along its data input through single-input layers (convolutions, activations,
//! arithmetic with constants) leads to the first tensor computed from more than one
//! non-constant input, the masked latent (`z · mask`, `/Mul_7_output_0` in the joe voice).
//! The split is checked: the decoder may read nothing from the front but that tensor and
//! constants (constant-only nodes it needs, such as the encoder's `Constant` that the decoder
//! also reads, are copied into it). A model that does not fit is refused with the reason,
//! and the caller keeps whole-sentence inference.
//!
//! The front also gives the phonemes' durations when it has them: VITS rounds each phoneme's
//! predicted length up to whole latent frames (`Ceil`) before it builds the alignment, and that
//! tensor, `[1, 1, ids]`, is the front's second output. It is found as the front's only `Ceil`
//! node; a front with none or several gives no durations (the voice speaks without word
//! timings), and what it gives is checked against the latent on every run.
//!
//! Works on the protobuf wire format like [`super::graph`]: nodes, initializers and every
//! other field are copied byte for byte; only the graph's node, initializer, input, output and
//! value-info lists are filtered.

use super::crop::{self, Cropping, PlanNode};
use super::wire::{
    Field, GraphError, LEN, field, fields, float_value_info, float3_value_info, int64_initializer,
    int64_value_info, node, packed_varints, put_len, text,
};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// The two halves.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Phonemes (and scales, noise) → latent. Same inputs as the whole model; one output.
    pub front: Vec<u8>,
    /// Latent → audio. One input, the whole model's outputs.
    pub decoder: Vec<u8>,
    /// The latent's name: the front's output and the decoder's input, `[1, channels, frames]`.
    pub latent: String,
    /// The phonemes' durations in latent frames, the front's second output, if found.
    pub durations: Option<String>,
    /// Where the decoder drops a window's context once it is no longer read ([`crop`]); its
    /// crop bounds are inputs of the decoder besides the latent. Empty for a decoder the
    /// planner does not know: its windows are decoded whole.
    pub cropping: Cropping,
}

/// Ops the walk back from the first upsampling may pass through: each keeps the decoder local
/// and takes one non-constant input.
const LOCAL_OPS: &[&str] = &[
    "Conv",
    "LeakyRelu",
    "Relu",
    "Tanh",
    "Add",
    "Mul",
    "Sub",
    "Div",
    "Identity",
    "Cast",
];

struct Node<'a> {
    raw: &'a [u8],
    payload: &'a [u8],
    op: &'a str,
    inputs: Vec<&'a str>,
    outputs: Vec<&'a str>,
}

fn name_of(message: &[u8], number: u64) -> Result<&str, GraphError> {
    let parts = fields(message)?;
    let name = parts
        .iter()
        .find(|f| f.number == number && f.wire == LEN)
        .map_or(&[][..], |f| f.payload);
    text(name)
}

fn has_subgraph(attribute: &[u8]) -> Result<bool, GraphError> {
    Ok(fields(attribute)?
        .iter()
        .any(|a| a.number == field::attribute::G || a.number == field::attribute::GRAPHS))
}

fn parse_node<'a>(field: &Field<'a>) -> Result<Node<'a>, GraphError> {
    let parts = fields(field.payload)?;
    let mut node = Node {
        raw: field.raw,
        payload: field.payload,
        op: "",
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    for part in &parts {
        match part.number {
            field::node::INPUT => node.inputs.push(text(part.payload)?),
            field::node::OUTPUT => node.outputs.push(text(part.payload)?),
            field::node::OP_TYPE => node.op = text(part.payload)?,
            // A subgraph may read outer tensors the node's inputs do not name, which this
            // analysis would miss.
            field::node::ATTRIBUTE if has_subgraph(part.payload)? => {
                let op = parts
                    .iter()
                    .find(|p| p.number == field::node::OP_TYPE)
                    .map_or(&[][..], |p| p.payload);
                return Err(GraphError::Unsupported(format!(
                    "a {} node with a subgraph",
                    text(op)?
                )));
            }
            _ => {}
        }
    }
    Ok(node)
}

/// Splits `model` (the bytes [`super::noise::make_repeatable`] returns, or an original Piper
/// model) at the decoder's input. See the module docs.
pub fn split_decoder(model: &[u8]) -> Result<Split, GraphError> {
    let top = fields(model)?;
    let graph = super::wire::main_graph(&top)?;
    let parts = fields(graph.payload)?;
    let nodes: Vec<Node> = parts
        .iter()
        .filter(|f| f.number == field::graph::NODE && f.wire == LEN)
        .map(parse_node)
        .collect::<Result<_, _>>()?;
    let mut initializers: HashMap<&str, &[u8]> = HashMap::new();
    for f in parts
        .iter()
        .filter(|f| f.number == field::graph::INITIALIZER)
    {
        initializers.insert(name_of(f.payload, field::tensor::NAME)?, f.raw);
    }
    if parts
        .iter()
        .any(|f| f.number == field::graph::SPARSE_INITIALIZER)
    {
        return Err(GraphError::Unsupported("sparse initializers".into()));
    }
    let outputs: Vec<&str> = parts
        .iter()
        .filter(|f| f.number == field::graph::OUTPUT)
        .map(|f| name_of(f.payload, field::value_info::NAME))
        .collect::<Result<_, _>>()?;
    let producer = producers(&nodes)?;
    // Tensors computed from initializers alone (nodes are in topological order).
    let mut constant: HashSet<&str> = initializers.keys().copied().collect();
    constant.insert("");
    for node in &nodes {
        if node.inputs.iter().all(|i| constant.contains(i)) {
            constant.extend(node.outputs.iter().copied());
        }
    }
    let output = *outputs
        .first()
        .ok_or(GraphError::Unsupported("no graph output".into()))?;

    // The first transposed convolution that the output depends on.
    let cone = ancestors(&nodes, &producer, &[output], None);
    let upsample = (0..nodes.len())
        .find(|&i| cone.contains(&i) && nodes[i].op == "ConvTranspose")
        .ok_or(GraphError::Unsupported(
            "no transposed convolution before the output (not a HiFi-GAN decoder)".into(),
        ))?;
    // Walk back along the data input while the producer is a local, single-input layer.
    let mut latent = *nodes[upsample]
        .inputs
        .first()
        .ok_or(GraphError::Unsupported(
            "an upsampling without input".into(),
        ))?;
    while let Some(&p) = producer.get(latent) {
        let node = &nodes[p];
        let live: Vec<&str> = node
            .inputs
            .iter()
            .copied()
            .filter(|i| !constant.contains(i))
            .collect();
        match live.as_slice() {
            [only] if LOCAL_OPS.contains(&node.op) => latent = *only,
            _ => break,
        }
    }

    // The decoder: everything the outputs need, stopping at the latent and at initializers.
    let decoder_nodes = ancestors(&nodes, &producer, &outputs, Some(latent));
    // Its nodes may read only the latent, initializers and each other's outputs: a tensor
    // with no producer is a model input, which would tie the decoder to the front.
    for &i in &decoder_nodes {
        for input in &nodes[i].inputs {
            let known = *input == latent
                || input.is_empty()
                || initializers.contains_key(input)
                || producer.contains_key(input);
            if !known {
                return Err(GraphError::Unsupported(format!(
                    "the decoder would need the model input {input:?}"
                )));
            }
        }
    }
    let front_nodes = ancestors(&nodes, &producer, &[latent], None);
    let durations = durations_tensor(&nodes, &front_nodes);

    // Where the decoder may drop each window's context early.
    let mut order: Vec<usize> = decoder_nodes.iter().copied().collect();
    order.sort_unstable();
    let plan_nodes: Vec<PlanNode> = order
        .iter()
        .map(|&i| PlanNode {
            payload: nodes[i].payload,
            op: nodes[i].op,
            inputs: &nodes[i].inputs,
            outputs: &nodes[i].outputs,
        })
        .collect();
    let constant_len = |name: &str| constant_len(name, &initializers, &nodes, &producer);
    let plan = crop::plan(&plan_nodes, latent, &outputs, &constant, &constant_len)
        .map_err(|reason| tracing::info!("{reason}"))
        .ok();
    let crops: Vec<&str> = plan.as_ref().map(|p| p.tensors.clone()).unwrap_or_default();

    let front = rebuild(
        &top,
        &parts,
        &nodes,
        &front_nodes,
        &initializers,
        &Io::Front { latent, durations },
    )?;
    let decoder = rebuild(
        &top,
        &parts,
        &nodes,
        &decoder_nodes,
        &initializers,
        &Io::Decoder {
            latent,
            crops: &crops,
        },
    )?;
    Ok(Split {
        front,
        decoder,
        latent: latent.to_owned(),
        durations: durations.map(str::to_owned),
        cropping: plan.map(|p| p.cropping).unwrap_or_default(),
    })
}

/// The phonemes' rounded durations among the front's nodes: the output of its only `Ceil`.
fn durations_tensor<'a>(nodes: &[Node<'a>], front: &HashSet<usize>) -> Option<&'a str> {
    let mut ceil = front.iter().filter(|&&i| nodes[i].op == "Ceil");
    match (ceil.next(), ceil.next()) {
        (Some(&i), None) => nodes[i].outputs.first().copied().filter(|o| !o.is_empty()),
        _ => None,
    }
}

/// Elements of the constant tensor `name` (an initializer or a `Constant` node's output), if
/// known: the product of its dims (TensorProto dims = 1).
fn constant_len(
    name: &str,
    initializers: &HashMap<&str, &[u8]>,
    nodes: &[Node],
    producer: &HashMap<&str, usize>,
) -> Option<usize> {
    let dims_len = |tensor: &[u8]| -> Option<usize> {
        let mut len = 1usize;
        for dim in fields(tensor)
            .ok()?
            .iter()
            .filter(|f| f.number == field::tensor::DIMS)
        {
            let dims: Vec<u64> = if dim.wire == LEN {
                packed_varints(dim.payload).ok()?
            } else {
                vec![dim.varint]
            };
            for d in dims {
                len = len.checked_mul(usize::try_from(d).ok()?)?;
            }
        }
        Some(len)
    };
    if let Some(raw) = initializers.get(name) {
        let field = fields(raw).ok()?;
        return dims_len(field.first()?.payload);
    }
    let node = &nodes[*producer.get(name)?];
    if node.op != "Constant" {
        return None;
    }
    // `value_float` and `value_int` are scalars.
    for attribute in fields(node.payload)
        .ok()?
        .iter()
        .filter(|f| f.number == field::node::ATTRIBUTE)
    {
        let parts = fields(attribute.payload).ok()?;
        let attribute_name = parts
            .iter()
            .find(|f| f.number == field::attribute::NAME)?
            .payload;
        match attribute_name {
            b"value" => {
                return dims_len(
                    parts
                        .iter()
                        .find(|f| f.number == field::attribute::T)?
                        .payload,
                );
            }
            b"value_float" | b"value_int" => return Some(1),
            _ => {}
        }
    }
    None
}

/// Which node computes each tensor. ONNX requires nodes in topological order; a graph that is
/// not (a node reading its own output or a later node's, a cycle, a tensor computed twice) is
/// refused, so every walk back through producers goes to lower indices and ends.
fn producers<'a>(nodes: &[Node<'a>]) -> Result<HashMap<&'a str, usize>, GraphError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for output in node.outputs.iter().copied().filter(|o| !o.is_empty()) {
            if producer.insert(output, i).is_some() {
                return Err(GraphError::Unsupported(format!(
                    "the tensor {output:?} is computed by two nodes"
                )));
            }
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        if let Some(input) = node
            .inputs
            .iter()
            .find(|input| producer.get(*input).is_some_and(|&p| p >= i))
        {
            return Err(GraphError::Unsupported(format!(
                "the graph is not in order: a {} node reads {input:?} before it is computed \
                 (a cycle, or a damaged model)",
                node.op
            )));
        }
    }
    Ok(producer)
}

/// The nodes `targets` depend on, not looking past `stop`.
fn ancestors(
    nodes: &[Node],
    producer: &HashMap<&str, usize>,
    targets: &[&str],
    stop: Option<&str>,
) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = targets.to_vec();
    while let Some(tensor) = stack.pop() {
        if Some(tensor) == stop {
            continue;
        }
        if let Some(&p) = producer.get(tensor)
            && seen.insert(p)
        {
            stack.extend(nodes[p].inputs.iter().copied());
        }
    }
    seen
}

/// The axis every crop slices: time, the last axis of a 1-D convolution's `[batch, channels,
/// time]`.
const CROP_AXES: &str = "orator_crop_axes";

/// `node` (kept) followed by a `Slice` for each of its outputs in `cropped` (crop point,
/// tensor): the node's output is renamed, and the slice gives the old name its cropped value,
/// so every reader of it reads the cropped tensor.
fn with_crops(kept: &Node, cropped: &[(usize, &str)]) -> Result<Vec<u8>, GraphError> {
    let uncropped = |tensor: &str| format!("{tensor}_orator_uncropped");
    let mut payload = Vec::with_capacity(kept.payload.len() + 64);
    for field in fields(kept.payload)? {
        let name = if field.number == field::node::OUTPUT {
            text(field.payload)?
        } else {
            ""
        };
        if field.number == field::node::OUTPUT && cropped.iter().any(|&(_, t)| t == name) {
            put_len(
                &mut payload,
                field::node::OUTPUT,
                uncropped(name).as_bytes(),
            );
        } else {
            payload.extend_from_slice(field.raw);
        }
    }
    let mut out = Vec::new();
    put_len(&mut out, field::graph::NODE, &payload);
    for &(k, tensor) in cropped {
        let slice = node(
            "Slice",
            &format!("orator_crop_{k}"),
            &[
                &uncropped(tensor),
                &crop::start_input(k),
                &crop::end_input(k),
                CROP_AXES,
            ],
            &[tensor],
            &[],
        );
        put_len(&mut out, field::graph::NODE, &slice);
    }
    Ok(out)
}

/// Which half is being rebuilt.
enum Io<'a> {
    /// The whole model's inputs; the latent and, if found, the durations as outputs.
    Front {
        latent: &'a str,
        durations: Option<&'a str>,
    },
    /// The latent and the crop bounds as inputs; the whole model's outputs. Each tensor of
    /// `crops` is cropped ([`crop`]).
    Decoder {
        latent: &'a str,
        crops: &'a [&'a str],
    },
}

/// A model with the graph cut down to `keep` (in the original order) and the inputs and
/// outputs `io` asks for. Every other field of the model and the graph is copied.
fn rebuild(
    top: &[Field],
    graph: &[Field],
    nodes: &[Node],
    keep: &HashSet<usize>,
    initializers: &HashMap<&str, &[u8]>,
    io: &Io,
) -> Result<Vec<u8>, GraphError> {
    let used: HashSet<&str> = keep
        .iter()
        .flat_map(|&i| nodes[i].inputs.iter().copied())
        .collect();
    let produced: HashSet<&str> = keep
        .iter()
        .flat_map(|&i| nodes[i].outputs.iter().copied())
        .collect();
    let latent_info = |latent: &str| {
        float3_value_info(latent, ["orator_batch", "orator_channels", "orator_frames"])
    };
    // The graph's pieces, borrowed from the model where they are kept as they are, written
    // into the new model in one allocation (`graph::model_with_graph`).
    let mut out: Vec<Cow<[u8]>> = Vec::with_capacity(graph.len() + 1);
    let mut node_index = 0;
    for field in graph {
        match field.number {
            field::graph::NODE => {
                if keep.contains(&node_index) {
                    let node = &nodes[node_index];
                    let cropped: Vec<(usize, &str)> = match io {
                        Io::Decoder { crops, .. } => crops
                            .iter()
                            .enumerate()
                            .filter(|(_, t)| node.outputs.contains(t))
                            .map(|(k, &t)| (k, t))
                            .collect(),
                        Io::Front { .. } => Vec::new(),
                    };
                    if cropped.is_empty() {
                        out.push(Cow::Borrowed(node.raw));
                    } else {
                        out.push(Cow::Owned(with_crops(node, &cropped)?));
                    }
                }
                node_index += 1;
            }
            field::graph::INITIALIZER => {
                let name = name_of(field.payload, field::tensor::NAME)?;
                if used.contains(name) && initializers.contains_key(name) {
                    out.push(Cow::Borrowed(field.raw));
                }
            }
            field::graph::INPUT => {
                let name = name_of(field.payload, field::value_info::NAME)?;
                // The front keeps the model's inputs it uses; the decoder gets the latent.
                if matches!(io, Io::Front { .. }) && used.contains(name) {
                    out.push(Cow::Borrowed(field.raw));
                }
            }
            field::graph::OUTPUT => {
                if matches!(io, Io::Decoder { .. }) {
                    out.push(Cow::Borrowed(field.raw));
                }
            }
            field::graph::VALUE_INFO => {
                let name = name_of(field.payload, field::value_info::NAME)?;
                if produced.contains(name) {
                    out.push(Cow::Borrowed(field.raw));
                }
            }
            _ => out.push(Cow::Borrowed(field.raw)),
        }
    }
    let mut io_field = Vec::new();
    match io {
        Io::Front { latent, durations } => {
            put_len(&mut io_field, field::graph::OUTPUT, &latent_info(latent));
            if let Some(durations) = durations {
                put_len(
                    &mut io_field,
                    field::graph::OUTPUT,
                    &float_value_info(durations),
                );
            }
        }
        Io::Decoder { latent, crops } => {
            put_len(&mut io_field, field::graph::INPUT, &latent_info(latent));
            for k in 0..crops.len() {
                for name in [crop::start_input(k), crop::end_input(k)] {
                    put_len(
                        &mut io_field,
                        field::graph::INPUT,
                        &int64_value_info(&name, 1),
                    );
                }
            }
            if !crops.is_empty() {
                put_len(
                    &mut io_field,
                    field::graph::INITIALIZER,
                    &int64_initializer(CROP_AXES, &[-1]),
                );
            }
        }
    }
    out.push(Cow::Owned(io_field));
    super::wire::model_with_graph(top, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_with_a_subgraph_is_refused() {
        let mut attribute = Vec::new();
        put_len(&mut attribute, field::attribute::NAME, b"then_branch");
        put_len(&mut attribute, field::attribute::G, b"");
        let mut node = Vec::new();
        put_len(&mut node, field::node::INPUT, b"cond");
        put_len(&mut node, field::node::OUTPUT, b"out");
        put_len(&mut node, field::node::OP_TYPE, b"If");
        put_len(&mut node, field::node::ATTRIBUTE, &attribute);
        let mut graph = Vec::new();
        put_len(&mut graph, field::graph::NODE, &node);
        let mut model = Vec::new();
        put_len(&mut model, field::model::GRAPH, &graph);
        assert_eq!(
            split_decoder(&model),
            Err(GraphError::Unsupported("a If node with a subgraph".into()))
        );
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
        let mut node = Vec::new();
        for input in inputs {
            put_len(&mut node, field::node::INPUT, input.as_bytes());
        }
        for output in outputs {
            put_len(&mut node, field::node::OUTPUT, output.as_bytes());
        }
        put_len(&mut node, field::node::OP_TYPE, op.as_bytes());
        node
    }

    fn model(nodes: &[Vec<u8>], output: &str) -> Vec<u8> {
        let mut graph = Vec::new();
        for node in nodes {
            put_len(&mut graph, field::graph::NODE, node);
        }
        let mut info = Vec::new();
        put_len(&mut info, field::value_info::NAME, output.as_bytes());
        put_len(&mut graph, field::graph::OUTPUT, &info);
        let mut model = Vec::new();
        put_len(&mut model, field::model::GRAPH, &graph);
        model
    }

    /// Runs the split on another thread: a walk that never ends fails the test instead of
    /// hanging it.
    fn split_within_seconds(model: Vec<u8>) -> Result<Split, GraphError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(split_decoder(&model));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("the split did not return: it walks forever")
    }

    #[test]
    fn a_cycle_of_layers_is_refused_not_walked_forever() {
        // y = Upsample(b); b = Relu(a); a = Relu(b): two local layers feeding each other.
        let cyclic = model(
            &[
                node("ConvTranspose", &["b", "w"], &["y"]),
                node("Relu", &["a"], &["b"]),
                node("Relu", &["b"], &["a"]),
            ],
            "y",
        );
        let err = split_within_seconds(cyclic).expect_err("a cyclic graph");
        assert!(err.to_string().contains("not in order"), "{err}");
        // The same cycle in an order that reads forward only for one edge.
        let cyclic = model(
            &[
                node("Relu", &["a"], &["b"]),
                node("Relu", &["b"], &["a"]),
                node("ConvTranspose", &["b", "w"], &["y"]),
            ],
            "y",
        );
        assert!(split_within_seconds(cyclic).is_err());
        let twice = model(
            &[
                node("Relu", &["x"], &["a"]),
                node("Relu", &["x"], &["a"]),
                node("ConvTranspose", &["a", "w"], &["y"]),
            ],
            "y",
        );
        let err = split_within_seconds(twice).expect_err("a tensor computed twice");
        assert!(err.to_string().contains("two nodes"), "{err}");
    }
}
