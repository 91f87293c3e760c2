//! Splits a Piper (VITS) model in two at the decoder's input: a *front* (text encoder, duration
//! predictor, flow: phonemes → latent) and a *decoder* (HiFi-GAN: latent → audio). The decoder
//! is local in time, so it can be run on windows of the latent as they are needed
//! (within-sentence streaming, issue 6); this module only makes the two graphs.
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
//! Works on the protobuf wire format like [`super::graph`]: nodes, initializers and every
//! other field are copied byte for byte; only the graph's node, initializer, input, output and
//! value-info lists are filtered.

use super::graph::{
    Field, GraphError, LEN, fields, float3_value_info, model_with_graph, put_len, text,
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
}

/// GraphProto field numbers.
const NODE: u64 = 1;
const INITIALIZER: u64 = 5;
const INPUT: u64 = 11;
const OUTPUT: u64 = 12;
const VALUE_INFO: u64 = 13;
const SPARSE_INITIALIZER: u64 = 15;

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
        .any(|a| a.number == 6 || a.number == 11))
}

fn parse_node<'a>(field: &Field<'a>) -> Result<Node<'a>, GraphError> {
    let parts = fields(field.payload)?;
    let mut node = Node {
        op: "",
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    for part in &parts {
        match part.number {
            1 => node.inputs.push(text(part.payload)?),
            2 => node.outputs.push(text(part.payload)?),
            4 => node.op = text(part.payload)?,
            // AttributeProto g = 6, graphs = 11: a subgraph may read outer tensors the node's
            // inputs do not name, which this analysis would miss.
            5 if has_subgraph(part.payload)? => {
                let op = parts
                    .iter()
                    .find(|p| p.number == 4)
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

/// A model's main graph, read for splitting.
struct Parsed<'a> {
    /// The graph's fields.
    parts: Vec<Field<'a>>,
    nodes: Vec<Node<'a>>,
    /// Initializer name → the whole field.
    initializers: HashMap<&'a str, &'a [u8]>,
    /// The graph's output names.
    outputs: Vec<&'a str>,
    /// Tensor → the node that computes it.
    producer: HashMap<&'a str, usize>,
    /// Tensors computed from initializers alone.
    constant: HashSet<&'a str>,
}

impl<'a> Parsed<'a> {
    fn new(top: &[Field<'a>]) -> Result<Self, GraphError> {
        let graph = top
            .iter()
            .find(|f| f.number == 7 && f.wire == LEN)
            .ok_or(GraphError::Malformed("no graph"))?;
        let parts = fields(graph.payload)?;
        let nodes: Vec<Node> = parts
            .iter()
            .filter(|f| f.number == NODE && f.wire == LEN)
            .map(parse_node)
            .collect::<Result<_, _>>()?;
        let mut initializers: HashMap<&str, &[u8]> = HashMap::new();
        for f in parts.iter().filter(|f| f.number == INITIALIZER) {
            initializers.insert(name_of(f.payload, 8)?, f.raw); // TensorProto.name = 8
        }
        if parts.iter().any(|f| f.number == SPARSE_INITIALIZER) {
            return Err(GraphError::Unsupported("sparse initializers".into()));
        }
        let outputs: Vec<&str> = parts
            .iter()
            .filter(|f| f.number == OUTPUT)
            .map(|f| name_of(f.payload, 1))
            .collect::<Result<_, _>>()?;
        let producer: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.outputs.iter().map(move |&o| (o, i)))
            .collect();
        // Nodes are in topological order.
        let mut constant: HashSet<&str> = initializers.keys().copied().collect();
        constant.insert("");
        for node in &nodes {
            if node.inputs.iter().all(|i| constant.contains(i)) {
                constant.extend(node.outputs.iter().copied());
            }
        }
        Ok(Self {
            parts,
            nodes,
            initializers,
            outputs,
            producer,
            constant,
        })
    }
}

/// Splits `model` (the bytes [`super::graph::make_repeatable`] returns, or an original Piper
/// model) at the decoder's input. See the module docs.
pub fn split_decoder(model: &[u8]) -> Result<Split, GraphError> {
    let top = fields(model)?;
    let parsed = Parsed::new(&top)?;
    let Parsed {
        parts,
        nodes,
        initializers,
        outputs,
        producer,
        constant,
    } = &parsed;
    let output = *outputs
        .first()
        .ok_or(GraphError::Unsupported("no graph output".into()))?;

    // The first transposed convolution that the output depends on.
    let cone = ancestors(nodes, producer, &[output], &[]);
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
    let decoder_nodes = ancestors(nodes, producer, outputs, &[latent]);
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
    let front_nodes = ancestors(nodes, producer, &[latent], &[]);

    let front = rebuild(
        &top,
        parts,
        nodes,
        &front_nodes,
        initializers,
        &Io {
            model_inputs: true,
            model_outputs: false,
            inputs: &[],
            outputs: &[latent],
        },
    )?;
    let decoder = rebuild(
        &top,
        parts,
        nodes,
        &decoder_nodes,
        initializers,
        &Io {
            model_inputs: false,
            model_outputs: true,
            inputs: &[latent],
            outputs: &[],
        },
    )?;
    Ok(Split {
        front,
        decoder,
        latent: latent.to_owned(),
    })
}

/// The front split again at the flow's input (see [`split_flow`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSplit {
    /// Phonemes (and scales, noise) → the flow's inputs: `input` first, then `extras`.
    pub front: Vec<u8>,
    /// The flow: `input` and `extras` → the latent.
    pub flow: Vec<u8>,
    /// The noisy prior the flow transforms (`z_p`), `[1, channels, frames]`.
    pub input: String,
    /// The flow's other inputs from the front, in order: the frame mask (`[1, 1, frames]`,
    /// windowed with `input`) and, in a multi-speaker voice, the speaker embedding
    /// (`[1, channels, 1]`, passed whole).
    pub extras: Vec<String>,
}

/// Ops a noise tensor may pass through on its way to being added to the prior's mean.
const NOISE_OPS: &[&str] = &["Slice", "Mul", "Div", "Cast", "Identity"];

/// Splits a front made by [`split_decoder`] (whose output is `latent`) once more, before its
/// normalising flow: VITS draws `z_p = m_p + noise · exp(logs_p) · noise_scale` over the latent
/// frames and the flow turns it into the latent with convolutions only (local: ±32 frames in
/// Piper voices), so, like the decoder, it can run on windows. Everything before it (text
/// encoder, duration predictor, length regulation) stays in the front.
///
/// `z_p` is found by structure: the one `Add` that one of the graph's `noise` inputs reaches
/// through single-consumer scaling (the duration predictor's noise goes into a flow of its
/// own instead). The flow's other inputs are whatever else it reads from the front.
pub fn split_flow(front: &[u8], latent: &str, noise: &[&str]) -> Result<FlowSplit, GraphError> {
    let top = fields(front)?;
    let parsed = Parsed::new(&top)?;
    let Parsed {
        parts,
        nodes,
        initializers,
        producer,
        constant,
        ..
    } = &parsed;
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for &input in &node.inputs {
            consumers.entry(input).or_default().push(i);
        }
    }
    let mut found = Vec::new();
    for &start in noise {
        let mut tensor = start;
        while let Some([only]) = consumers.get(tensor).map(Vec::as_slice) {
            let node = &nodes[*only];
            match (node.op, node.outputs.as_slice()) {
                ("Add", [sum]) => {
                    found.push(*sum);
                    break;
                }
                (op, [next]) if NOISE_OPS.contains(&op) => tensor = next,
                _ => break,
            }
        }
    }
    let input = match found.as_slice() {
        [one] => *one,
        _ => {
            return Err(GraphError::Unsupported(format!(
                "{} noise additions before the flow (one expected)",
                found.len()
            )));
        }
    };
    let head = ancestors(nodes, producer, &[input], &[]);
    let mut extras: Vec<&str> = Vec::new();
    for i in ancestors(nodes, producer, &[latent], &[input]) {
        if head.contains(&i) {
            continue;
        }
        for &tensor in &nodes[i].inputs {
            let from_front = producer.get(tensor).is_some_and(|p| head.contains(p));
            if tensor != input
                && !constant.contains(tensor)
                && from_front
                && !extras.contains(&tensor)
            {
                extras.push(tensor);
            }
        }
    }
    extras.sort_unstable();
    let mut stops = vec![input];
    stops.extend(&extras);
    let flow_nodes = ancestors(nodes, producer, &[latent], &stops);
    if !flow_nodes.iter().any(|&i| nodes[i].op == "Conv") {
        return Err(GraphError::Unsupported("no convolution in the flow".into()));
    }
    for &i in &flow_nodes {
        for tensor in &nodes[i].inputs {
            let known = stops.contains(tensor)
                || tensor.is_empty()
                || initializers.contains_key(tensor)
                || producer.contains_key(tensor);
            if !known {
                return Err(GraphError::Unsupported(format!(
                    "the flow would need the model input {tensor:?}"
                )));
            }
        }
    }
    let front_nodes = ancestors(nodes, producer, &stops, &[]);
    let front = rebuild(
        &top,
        parts,
        nodes,
        &front_nodes,
        initializers,
        &Io {
            model_inputs: true,
            model_outputs: false,
            inputs: &[],
            outputs: &stops,
        },
    )?;
    let flow = rebuild(
        &top,
        parts,
        nodes,
        &flow_nodes,
        initializers,
        &Io {
            model_inputs: false,
            model_outputs: false,
            inputs: &stops,
            outputs: &[latent],
        },
    )?;
    Ok(FlowSplit {
        front,
        flow,
        input: input.to_owned(),
        extras: extras.iter().map(|&e| e.to_owned()).collect(),
    })
}

/// The nodes `targets` depend on, not looking past `stop`.
fn ancestors(
    nodes: &[Node],
    producer: &HashMap<&str, usize>,
    targets: &[&str],
    stop: &[&str],
) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = targets.to_vec();
    while let Some(tensor) = stack.pop() {
        if stop.contains(&tensor) {
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

/// What a rebuilt part takes and gives.
struct Io<'a> {
    /// Keep the whole model's inputs that the part uses.
    model_inputs: bool,
    /// Keep the whole model's outputs.
    model_outputs: bool,
    /// Tensors made inputs (float, rank 3).
    inputs: &'a [&'a str],
    /// Tensors made outputs (float, rank 3).
    outputs: &'a [&'a str],
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
    let mut pieces: Vec<Cow<[u8]>> = Vec::new();
    let mut node_index = 0;
    for field in graph {
        let wanted = match field.number {
            NODE => {
                node_index += 1;
                keep.contains(&(node_index - 1))
            }
            INITIALIZER => {
                let name = name_of(field.payload, 8)?;
                used.contains(name) && initializers.contains_key(name)
            }
            // The front keeps the model's inputs it uses; the other parts get new ones.
            INPUT => io.model_inputs && used.contains(name_of(field.payload, 1)?),
            OUTPUT => io.model_outputs,
            VALUE_INFO => produced.contains(name_of(field.payload, 1)?),
            _ => true,
        };
        if wanted {
            pieces.push(Cow::Borrowed(field.raw));
        }
    }
    for (number, names) in [(OUTPUT, io.outputs), (INPUT, io.inputs)] {
        for name in names {
            let mut field = Vec::new();
            put_len(&mut field, number, &latent_info(name));
            pieces.push(Cow::Owned(field));
        }
    }
    model_with_graph(top, &pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_with_a_subgraph_is_refused() {
        let mut attribute = Vec::new();
        put_len(&mut attribute, 1, b"then_branch");
        put_len(&mut attribute, 6, b"");
        let mut node = Vec::new();
        put_len(&mut node, 1, b"cond");
        put_len(&mut node, 2, b"out");
        put_len(&mut node, 4, b"If");
        put_len(&mut node, 5, &attribute);
        let mut graph = Vec::new();
        put_len(&mut graph, NODE, &node);
        let mut model = Vec::new();
        put_len(&mut model, 7, &graph);
        assert_eq!(
            split_decoder(&model),
            Err(GraphError::Unsupported("a If node with a subgraph".into()))
        );
    }
}
