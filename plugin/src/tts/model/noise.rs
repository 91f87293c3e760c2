//! Makes a Piper model repeatable: its `RandomNormalLike` nodes (duration noise and latent noise)
//! draw from ONNX Runtime's generator, whose state advances with every call, so the same
//! sentence never renders twice the same. At load time each such node is replaced by a slice of
//! a new graph input, which Orator fills with noise from a PRNG seeded by what is being said:
//! the same phrase then renders identically on every call and in every process (offline bounces
//! repeat; a cache hit and a fresh synthesis agree).
//!
//! `RandomNormalLike(x)` becomes `Slice(noise, starts=[0,0], ends=Shape(x)[1..3], axes=[1,2])`,
//! where `noise` is a `[1, C, L]` input at least as large as `x` (C and L chosen per call).
//!
//! The rewrite works on the protobuf wire format directly: every byte of the model it does not
//! need to change is copied as is (no schema, so nothing is lost or reordered).

use super::wire::{
    FIXED32, GraphError, LEN, field, fields, float3_value_info, int_attribute, int64_initializer,
    main_graph, model_with_graph, node, put_len, text,
};
use std::borrow::Cow;

/// A rewritten model.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeatable {
    /// The new model bytes.
    pub model: Vec<u8>,
    /// The noise inputs to feed, in the order of the nodes they replaced.
    pub noise: Vec<NoiseInput>,
}

/// One noise input: its name and the distribution the replaced node drew from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoiseInput {
    /// Graph input name.
    pub name: String,
    /// Mean of the replaced node's normal distribution.
    pub mean: f32,
    /// Standard deviation of the replaced node's normal distribution.
    pub scale: f32,
}
/// Replaces every `RandomNormalLike` node of the model's main graph (see the module docs).
pub fn make_repeatable(model: &[u8]) -> Result<Repeatable, GraphError> {
    let top = fields(model)?;
    let graph = main_graph(&top)?;
    let mut noise = Vec::new();
    let pieces = rewrite_graph(graph.payload, &mut noise)?;
    if noise.is_empty() {
        return Err(GraphError::NoRandomNodes);
    }
    Ok(Repeatable {
        model: model_with_graph(&top, &pieces)?,
        noise,
    })
}

/// The graph's fields with the random nodes replaced (see the module docs), as pieces for
/// [`model_with_graph`].
fn rewrite_graph<'a>(
    graph: &'a [u8],
    noise: &mut Vec<NoiseInput>,
) -> Result<Vec<Cow<'a, [u8]>>, GraphError> {
    let mut pieces = Vec::new();
    for field in fields(graph)? {
        if field.number != field::graph::NODE || field.wire != LEN {
            pieces.push(Cow::Borrowed(field.raw));
            continue;
        }
        let parts = fields(field.payload)?;
        let op_type = parts
            .iter()
            .find(|f| f.number == field::node::OP_TYPE)
            .map(|f| f.payload)
            .unwrap_or_default();
        let domain = parts
            .iter()
            .find(|f| f.number == field::node::DOMAIN)
            .map(|f| f.payload)
            .unwrap_or_default();
        if op_type != b"RandomNormalLike" || !(domain.is_empty() || domain == b"ai.onnx") {
            pieces.push(Cow::Borrowed(field.raw));
            continue;
        }
        let inputs: Vec<&str> = parts
            .iter()
            .filter(|f| f.number == field::node::INPUT)
            .map(|f| text(f.payload))
            .collect::<Result<_, _>>()?;
        let outputs: Vec<&str> = parts
            .iter()
            .filter(|f| f.number == field::node::OUTPUT)
            .map(|f| text(f.payload))
            .collect::<Result<_, _>>()?;
        let (&[like], &[result]) = (inputs.as_slice(), outputs.as_slice()) else {
            return Err(GraphError::Unsupported(format!(
                "inputs {inputs:?}, outputs {outputs:?}"
            )));
        };
        let (mut mean, mut scale) = (0.0f32, 1.0f32);
        for attribute in parts.iter().filter(|f| f.number == field::node::ATTRIBUTE) {
            let attr = fields(attribute.payload)?;
            let name = attr
                .iter()
                .find(|f| f.number == field::attribute::NAME)
                .map(|f| f.payload)
                .unwrap_or_default();
            let float = attr
                .iter()
                .find(|f| f.number == field::attribute::F && f.wire == FIXED32)
                .and_then(|f| f.raw.last_chunk::<4>())
                .map(|b| f32::from_le_bytes(*b));
            let int = attr
                .iter()
                .find(|f| f.number == field::attribute::I)
                .map(|f| f.varint);
            match (name, float, int) {
                (b"mean", Some(v), _) => mean = v,
                (b"scale", Some(v), _) => scale = v,
                (b"seed", _, _) => {}
                (b"dtype", _, Some(field::tensor::TYPE_FLOAT)) => {}
                (b"dtype", _, other) => {
                    return Err(GraphError::Unsupported(format!(
                        "dtype {other:?} (only float)"
                    )));
                }
                (other, _, _) => {
                    return Err(GraphError::Unsupported(format!(
                        "attribute {:?}",
                        String::from_utf8_lossy(other)
                    )));
                }
            }
        }
        let k = noise.len();
        let input = format!("orator_noise_{k}");
        let ends = format!("orator_noise_{k}_ends");
        let starts = format!("orator_noise_{k}_starts");
        let axes = format!("orator_noise_{k}_axes");
        let mut out = Vec::new();
        // Shape(x)[1..3] → the channel and length to cut the noise to.
        put_len(
            &mut out,
            field::graph::NODE,
            &node(
                "Shape",
                &ends,
                &[like],
                &[&ends],
                &[int_attribute("start", 1), int_attribute("end", 3)],
            ),
        );
        put_len(
            &mut out,
            field::graph::NODE,
            &node(
                "Slice",
                &format!("orator_noise_{k}_slice"),
                &[&input, &starts, &ends, &axes],
                &[result],
                &[],
            ),
        );
        put_len(
            &mut out,
            field::graph::INITIALIZER,
            &int64_initializer(&starts, &[0, 0]),
        );
        put_len(
            &mut out,
            field::graph::INITIALIZER,
            &int64_initializer(&axes, &[1, 2]),
        );
        put_len(&mut out, field::graph::INPUT, &float_input(&input));
        pieces.push(Cow::Owned(out));
        noise.push(NoiseInput {
            name: input,
            mean,
            scale,
        });
    }
    Ok(pieces)
}

/// A float input of shape [b, c, n], its dimensions named.
fn float_input(name: &str) -> Vec<u8> {
    float3_value_info(
        name,
        [
            "orator_noise_batch",
            "orator_noise_channels",
            "orator_noise_length",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::model::wire::{put_uint, put_varint};

    /// A minimal graph: x → RandomNormalLike(mean 0.5, scale 2) → y, plus an unrelated node.
    fn toy_model() -> Vec<u8> {
        let mut mean = Vec::new();
        put_len(&mut mean, field::attribute::NAME, b"mean");
        put_varint(&mut mean, field::attribute::F << 3 | u64::from(FIXED32));
        mean.extend_from_slice(&0.5f32.to_le_bytes());
        let mut scale = Vec::new();
        put_len(&mut scale, field::attribute::NAME, b"scale");
        put_varint(&mut scale, field::attribute::F << 3 | u64::from(FIXED32));
        scale.extend_from_slice(&2.0f32.to_le_bytes());
        let mut graph = Vec::new();
        put_len(
            &mut graph,
            field::graph::NODE,
            &node("Relu", "r", &["a"], &["x"], &[]),
        );
        put_len(
            &mut graph,
            field::graph::NODE,
            &node("RandomNormalLike", "n", &["x"], &["y"], &[mean, scale]),
        );
        put_len(&mut graph, field::graph::NAME, b"toy");
        let mut model = Vec::new();
        put_uint(&mut model, field::model::IR_VERSION, 8);
        put_len(&mut model, field::model::GRAPH, &graph);
        put_len(&mut model, field::model::PRODUCER_NAME, b"producer");
        model
    }

    #[test]
    fn the_random_node_becomes_a_slice_of_a_new_input_and_the_rest_is_kept() {
        let rewritten = make_repeatable(&toy_model()).unwrap();
        assert_eq!(
            rewritten.noise,
            [NoiseInput {
                name: "orator_noise_0".into(),
                mean: 0.5,
                scale: 2.0
            }]
        );
        let top = fields(&rewritten.model).unwrap();
        assert_eq!(
            top.iter().map(|f| f.number).collect::<Vec<_>>(),
            [
                field::model::IR_VERSION,
                field::model::GRAPH,
                field::model::PRODUCER_NAME
            ]
        );
        let graph = fields(top[1].payload).unwrap();
        let ops: Vec<String> = graph
            .iter()
            .filter(|f| f.number == field::graph::NODE)
            .map(|f| {
                let parts = fields(f.payload).unwrap();
                String::from_utf8(
                    parts
                        .iter()
                        .find(|p| p.number == field::node::OP_TYPE)
                        .unwrap()
                        .payload
                        .to_vec(),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(ops, ["Relu", "Shape", "Slice"]);
        assert_eq!(
            graph
                .iter()
                .filter(|f| f.number == field::graph::INITIALIZER)
                .count(),
            2,
            "starts and axes"
        );
        assert_eq!(
            graph
                .iter()
                .filter(|f| f.number == field::graph::INPUT)
                .count(),
            1,
            "the noise input"
        );
        assert!(
            graph
                .iter()
                .any(|f| f.number == field::graph::NAME && f.payload == b"toy")
        );
    }

    #[test]
    fn models_without_random_nodes_or_garbage_are_refused() {
        let mut graph = Vec::new();
        put_len(
            &mut graph,
            field::graph::NODE,
            &node("Relu", "r", &["a"], &["x"], &[]),
        );
        let mut model = Vec::new();
        put_len(&mut model, field::model::GRAPH, &graph);
        assert_eq!(make_repeatable(&model), Err(GraphError::NoRandomNodes));
        assert!(matches!(
            make_repeatable(&[0x3a, 0xff, 0x01]),
            Err(GraphError::Malformed(_))
        ));
        assert!(matches!(
            make_repeatable(b"not a model at all"),
            Err(GraphError::Malformed(_))
        ));
    }
}
