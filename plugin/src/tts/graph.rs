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

use std::borrow::Cow;

/// Why a model could not be rewritten (the voice then runs unchanged, without repeatability).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// The bytes are not a well-formed protobuf.
    #[error("the model is not a well-formed ONNX protobuf ({0})")]
    Malformed(&'static str),
    /// No random node to replace: the model is already deterministic (or not a Piper graph).
    #[error("the model has no RandomNormalLike node")]
    NoRandomNodes,
    /// A random node this rewrite does not handle.
    #[error("unsupported RandomNormalLike node: {0}")]
    Unsupported(String),
}

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

// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One field of a message: number, wire type, and its raw bytes (the whole field, tag
/// included) plus, for LEN fields, the payload.
pub(super) struct Field<'a> {
    pub(super) number: u64,
    pub(super) wire: u8,
    pub(super) raw: &'a [u8],
    pub(super) payload: &'a [u8],
    pub(super) varint: u64,
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, GraphError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or(GraphError::Malformed("truncated varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(GraphError::Malformed("varint too long"))
}

/// The values of a packed repeated varint field's payload.
pub(super) fn packed_varints(payload: &[u8]) -> Result<Vec<u64>, GraphError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < payload.len() {
        out.push(read_varint(payload, &mut pos)?);
    }
    Ok(out)
}

pub(super) fn fields(message: &[u8]) -> Result<Vec<Field<'_>>, GraphError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < message.len() {
        let start = pos;
        let tag = read_varint(message, &mut pos)?;
        let (number, wire) = (tag >> 3, (tag & 7) as u8);
        let mut varint = 0;
        let mut payload: &[u8] = &[];
        match wire {
            VARINT => varint = read_varint(message, &mut pos)?,
            FIXED64 => pos += 8,
            FIXED32 => pos += 4,
            LEN => {
                let len = usize::try_from(read_varint(message, &mut pos)?)
                    .map_err(|_| GraphError::Malformed("length overflow"))?;
                let end = pos
                    .checked_add(len)
                    .ok_or(GraphError::Malformed("length overflow"))?;
                payload = message
                    .get(pos..end)
                    .ok_or(GraphError::Malformed("truncated field"))?;
                pos = end;
            }
            _ => return Err(GraphError::Malformed("unknown wire type")),
        }
        let raw = message
            .get(start..pos)
            .ok_or(GraphError::Malformed("truncated field"))?;
        out.push(Field {
            number,
            wire,
            raw,
            payload,
            varint,
        });
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(super) fn put_len(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    put_varint(out, number << 3 | u64::from(LEN));
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

pub(super) fn put_uint(out: &mut Vec<u8>, number: u64, value: u64) {
    put_varint(out, number << 3 | u64::from(VARINT));
    put_varint(out, value);
}

/// An INT attribute (AttributeProto: name = 1, i = 3, type = 20 with INT = 2).
fn int_attribute(name: &str, value: i64) -> Vec<u8> {
    let mut a = Vec::new();
    put_len(&mut a, 1, name.as_bytes());
    put_uint(&mut a, 3, value as u64);
    put_uint(&mut a, 20, 2);
    a
}

/// A NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
pub(super) fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attributes: &[Vec<u8>],
) -> Vec<u8> {
    let mut n = Vec::new();
    for input in inputs {
        put_len(&mut n, 1, input.as_bytes());
    }
    for output in outputs {
        put_len(&mut n, 2, output.as_bytes());
    }
    put_len(&mut n, 3, name.as_bytes());
    put_len(&mut n, 4, op.as_bytes());
    for attribute in attributes {
        put_len(&mut n, 5, attribute);
    }
    n
}

/// An int64 TensorProto initializer: dims = 1, data_type = 2 (INT64 = 7), name = 8, raw_data = 9.
pub(super) fn int64_initializer(name: &str, values: &[i64]) -> Vec<u8> {
    let mut t = Vec::new();
    put_uint(&mut t, 1, values.len() as u64);
    put_uint(&mut t, 2, 7);
    put_len(&mut t, 8, name.as_bytes());
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    put_len(&mut t, 9, &raw);
    t
}

/// A float input of shape [b, c, n] (ValueInfoProto name = 1, type = 2; TypeProto tensor_type = 1;
/// Tensor elem_type = 1 (FLOAT = 1), shape = 2; TensorShapeProto dim = 1; Dimension dim_param = 2).
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

/// A ValueInfoProto for an int64 tensor of shape `[len]` (elem_type INT64 = 7; Dimension
/// dim_value = 1).
pub(super) fn int64_value_info(name: &str, len: u64) -> Vec<u8> {
    let mut dim = Vec::new();
    put_uint(&mut dim, 1, len);
    tensor_value_info(name, 7, &[dim])
}

/// A ValueInfoProto for a rank-3 float tensor whose dimensions are named `dims` (elem_type
/// FLOAT = 1; Dimension dim_param = 2).
pub(super) fn float3_value_info(name: &str, dims: [&str; 3]) -> Vec<u8> {
    let dims = dims.map(|param| {
        let mut dim = Vec::new();
        put_len(&mut dim, 2, param.as_bytes());
        dim
    });
    tensor_value_info(name, 1, &dims)
}

/// A ValueInfoProto (name = 1, type = 2) of a tensor (TypeProto tensor_type = 1; Tensor
/// elem_type = 1, shape = 2) with the Dimension messages `dims` (TensorShapeProto dim = 1).
fn tensor_value_info(name: &str, elem_type: u64, dims: &[Vec<u8>]) -> Vec<u8> {
    let mut shape = Vec::new();
    for dim in dims {
        put_len(&mut shape, 1, dim);
    }
    let mut tensor = Vec::new();
    put_uint(&mut tensor, 1, elem_type);
    put_len(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    put_len(&mut ty, 1, &tensor);
    let mut info = Vec::new();
    put_len(&mut info, 1, name.as_bytes());
    put_len(&mut info, 2, &ty);
    info
}

pub(super) fn text(bytes: &[u8]) -> Result<&str, GraphError> {
    std::str::from_utf8(bytes).map_err(|_| GraphError::Malformed("a name is not UTF-8"))
}

fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// The model `top` (a ModelProto's fields) with its graph (the first field 7) made of `graph`,
/// in order: fields copied as they are or new ones. Written in one allocation of the final
/// size: the graph holds the weights, so building it apart and then copying it into the model
/// would hold them twice more (load's peak memory, docs/PERFORMANCE.md).
pub(super) fn model_with_graph(top: &[Field], graph: &[Cow<[u8]>]) -> Result<Vec<u8>, GraphError> {
    let graph_len: usize = graph.iter().map(|piece| piece.len()).sum();
    let tag = 7 << 3 | u64::from(LEN);
    let mut size = varint_len(tag) + varint_len(graph_len as u64) + graph_len;
    let mut seen = false;
    for field in top {
        if field.number == 7 && field.wire == LEN && !seen {
            seen = true;
        } else {
            size += field.raw.len();
        }
    }
    if !seen {
        return Err(GraphError::Malformed("no graph"));
    }
    let mut out = Vec::with_capacity(size);
    let mut written = false;
    for field in top {
        if field.number == 7 && field.wire == LEN && !written {
            written = true;
            put_varint(&mut out, tag);
            put_varint(&mut out, graph_len as u64);
            for piece in graph {
                out.extend_from_slice(piece);
            }
        } else {
            out.extend_from_slice(field.raw);
        }
    }
    debug_assert_eq!(out.len(), size);
    Ok(out)
}

/// The main graph among a ModelProto's fields (`graph` = 7).
pub(super) fn main_graph<'a, 'b>(top: &'b [Field<'a>]) -> Result<&'b Field<'a>, GraphError> {
    top.iter()
        .find(|f| f.number == 7 && f.wire == LEN)
        .ok_or(GraphError::Malformed("no graph"))
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
        // GraphProto.node = 1
        if field.number != 1 || field.wire != LEN {
            pieces.push(Cow::Borrowed(field.raw));
            continue;
        }
        let parts = fields(field.payload)?;
        let op_type = parts
            .iter()
            .find(|f| f.number == 4)
            .map(|f| f.payload)
            .unwrap_or_default();
        let domain = parts
            .iter()
            .find(|f| f.number == 7)
            .map(|f| f.payload)
            .unwrap_or_default();
        if op_type != b"RandomNormalLike" || !(domain.is_empty() || domain == b"ai.onnx") {
            pieces.push(Cow::Borrowed(field.raw));
            continue;
        }
        let inputs: Vec<&str> = parts
            .iter()
            .filter(|f| f.number == 1)
            .map(|f| text(f.payload))
            .collect::<Result<_, _>>()?;
        let outputs: Vec<&str> = parts
            .iter()
            .filter(|f| f.number == 2)
            .map(|f| text(f.payload))
            .collect::<Result<_, _>>()?;
        let (&[like], &[result]) = (inputs.as_slice(), outputs.as_slice()) else {
            return Err(GraphError::Unsupported(format!(
                "inputs {inputs:?}, outputs {outputs:?}"
            )));
        };
        let (mut mean, mut scale) = (0.0f32, 1.0f32);
        for attribute in parts.iter().filter(|f| f.number == 5) {
            let attr = fields(attribute.payload)?;
            let name = attr
                .iter()
                .find(|f| f.number == 1)
                .map(|f| f.payload)
                .unwrap_or_default();
            let float = attr
                .iter()
                .find(|f| f.number == 2 && f.wire == FIXED32)
                .and_then(|f| f.raw.last_chunk::<4>())
                .map(|b| f32::from_le_bytes(*b));
            let int = attr.iter().find(|f| f.number == 3).map(|f| f.varint);
            match (name, float, int) {
                (b"mean", Some(v), _) => mean = v,
                (b"scale", Some(v), _) => scale = v,
                (b"seed", _, _) => {}
                (b"dtype", _, Some(1)) => {} // FLOAT
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
            1,
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
            1,
            &node(
                "Slice",
                &format!("orator_noise_{k}_slice"),
                &[&input, &starts, &ends, &axes],
                &[result],
                &[],
            ),
        );
        put_len(&mut out, 5, &int64_initializer(&starts, &[0, 0]));
        put_len(&mut out, 5, &int64_initializer(&axes, &[1, 2]));
        put_len(&mut out, 11, &float_input(&input));
        pieces.push(Cow::Owned(out));
        noise.push(NoiseInput {
            name: input,
            mean,
            scale,
        });
    }
    Ok(pieces)
}

/// A model whose large weights were moved out of it (see [`with_external_weights`]).
#[derive(Debug)]
pub struct External<'a> {
    /// The model, each large initializer pointing into the data file.
    pub model: Vec<u8>,
    /// What the data file holds: each weight's bytes (borrowed from the original model) and
    /// the offset it goes at. Offsets are aligned to [`EXTERNAL_ALIGNMENT`] and increasing;
    /// the gaps are zeros.
    pub data: Vec<(u64, &'a [u8])>,
}

/// Alignment of each weight in an external data file: 64 KiB, Windows' allocation granularity
/// and a multiple of every page size, so ONNX Runtime may map a weight rather than read it.
/// Mapped or read, the weights are no longer also held inside its parsed model.
pub const EXTERNAL_ALIGNMENT: u64 = 65536;

/// Initializers smaller than this stay in the model.
const EXTERNAL_MIN_BYTES: usize = 4096;

/// The model with the raw data of each large initializer of its main graph moved to a file
/// named `location` beside it (ONNX's external data: `location`, `offset` and `length` entries
/// and `data_location = EXTERNAL`), so ONNX Runtime can read the weights from that file
/// instead of from the model's bytes.
pub fn with_external_weights<'a>(
    model: &'a [u8],
    location: &str,
) -> Result<External<'a>, GraphError> {
    // TensorProto: raw_data = 9, external_data = 13 (StringStringEntryProto: key = 1,
    // value = 2), data_location = 14 (EXTERNAL = 1). GraphProto: initializer = 5.
    let top = fields(model)?;
    let graph = main_graph(&top)?;
    let mut data = Vec::new();
    let mut end = 0u64;
    let mut pieces: Vec<Cow<[u8]>> = Vec::new();
    for field in fields(graph.payload)? {
        let raw = (field.number == 5 && field.wire == LEN)
            .then(|| fields(field.payload))
            .transpose()?
            .and_then(|tensor| {
                let weights = tensor
                    .iter()
                    .find(|t| t.number == 9 && t.wire == LEN)?
                    .payload;
                (weights.len() >= EXTERNAL_MIN_BYTES
                    && !tensor.iter().any(|t| t.number == 13 || t.number == 14))
                .then_some((tensor, weights))
            });
        let Some((tensor, weights)) = raw else {
            pieces.push(Cow::Borrowed(field.raw));
            continue;
        };
        let offset = end.div_ceil(EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
        end = offset + weights.len() as u64;
        data.push((offset, weights));
        let mut out = Vec::new();
        for t in tensor.iter().filter(|t| t.number != 9) {
            out.extend_from_slice(t.raw);
        }
        for (key, value) in [
            ("location", location.to_owned()),
            ("offset", offset.to_string()),
            ("length", weights.len().to_string()),
        ] {
            let mut entry = Vec::new();
            put_len(&mut entry, 1, key.as_bytes());
            put_len(&mut entry, 2, value.as_bytes());
            put_len(&mut out, 13, &entry);
        }
        put_uint(&mut out, 14, 1);
        let mut piece = Vec::new();
        put_len(&mut piece, 5, &out);
        pieces.push(Cow::Owned(piece));
    }
    Ok(External {
        model: model_with_graph(&top, &pieces)?,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal graph: x → RandomNormalLike(mean 0.5, scale 2) → y, plus an unrelated node.
    fn toy_model() -> Vec<u8> {
        let mut mean = Vec::new();
        put_len(&mut mean, 1, b"mean");
        put_varint(&mut mean, 2 << 3 | u64::from(FIXED32));
        mean.extend_from_slice(&0.5f32.to_le_bytes());
        let mut scale = Vec::new();
        put_len(&mut scale, 1, b"scale");
        put_varint(&mut scale, 2 << 3 | u64::from(FIXED32));
        scale.extend_from_slice(&2.0f32.to_le_bytes());
        let mut graph = Vec::new();
        put_len(&mut graph, 1, &node("Relu", "r", &["a"], &["x"], &[]));
        put_len(
            &mut graph,
            1,
            &node("RandomNormalLike", "n", &["x"], &["y"], &[mean, scale]),
        );
        put_len(&mut graph, 2, b"toy");
        let mut model = Vec::new();
        put_uint(&mut model, 1, 8);
        put_len(&mut model, 7, &graph);
        put_len(&mut model, 2, b"producer");
        model
    }

    #[test]
    fn large_weights_move_to_aligned_offsets_of_a_data_file_and_small_ones_stay() {
        let weights = |name: &str, len: usize, fill: u8| {
            let mut tensor = Vec::new();
            put_uint(&mut tensor, 1, len as u64 / 4);
            put_uint(&mut tensor, 2, 1);
            put_len(&mut tensor, 8, name.as_bytes());
            put_len(&mut tensor, 9, &vec![fill; len]);
            tensor
        };
        let mut graph = Vec::new();
        put_len(&mut graph, 1, &node("Relu", "r", &["a"], &["x"], &[]));
        put_len(&mut graph, 5, &weights("big", 5000, 1));
        put_len(&mut graph, 5, &weights("small", 16, 2));
        put_len(&mut graph, 5, &weights("bigger", 70000, 3));
        let mut model = Vec::new();
        put_uint(&mut model, 1, 8);
        put_len(&mut model, 7, &graph);
        let external = with_external_weights(&model, "part.data").unwrap();
        let offsets: Vec<(u64, usize, u8)> = external
            .data
            .iter()
            .map(|(offset, bytes)| (*offset, bytes.len(), bytes[0]))
            .collect();
        assert_eq!(offsets, [(0, 5000, 1), (65536, 70000, 3)]);
        assert!(external.model.len() < 1000, "the weights left the model");
        let top = fields(&external.model).unwrap();
        let graph = fields(main_graph(&top).unwrap().payload).unwrap();
        let tensors: Vec<Vec<Field>> = graph
            .iter()
            .filter(|f| f.number == 5)
            .map(|f| fields(f.payload).unwrap())
            .collect();
        assert_eq!(tensors.len(), 3, "every initializer is kept, in order");
        let entries = |tensor: &[Field]| -> Vec<(String, String)> {
            tensor
                .iter()
                .filter(|t| t.number == 13)
                .map(|t| {
                    let kv = fields(t.payload).unwrap();
                    (
                        text(kv[0].payload).unwrap().to_owned(),
                        text(kv[1].payload).unwrap().to_owned(),
                    )
                })
                .collect()
        };
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            entries(&tensors[2]),
            [
                pair("location", "part.data"),
                pair("offset", "65536"),
                pair("length", "70000")
            ]
        );
        assert!(tensors[2].iter().any(|t| t.number == 14 && t.varint == 1));
        assert!(
            !tensors[2].iter().any(|t| t.number == 9),
            "no raw data left"
        );
        assert!(
            entries(&tensors[1]).is_empty(),
            "a small weight stays inline"
        );
        assert!(tensors[1].iter().any(|t| t.number == 9));
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
        assert_eq!(top.iter().map(|f| f.number).collect::<Vec<_>>(), [1, 7, 2]);
        let graph = fields(top[1].payload).unwrap();
        let ops: Vec<String> = graph
            .iter()
            .filter(|f| f.number == 1)
            .map(|f| {
                let parts = fields(f.payload).unwrap();
                String::from_utf8(
                    parts
                        .iter()
                        .find(|p| p.number == 4)
                        .unwrap()
                        .payload
                        .to_vec(),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(ops, ["Relu", "Shape", "Slice"]);
        assert_eq!(
            graph.iter().filter(|f| f.number == 5).count(),
            2,
            "starts and axes"
        );
        assert_eq!(
            graph.iter().filter(|f| f.number == 11).count(),
            1,
            "the noise input"
        );
        assert!(graph.iter().any(|f| f.number == 2 && f.payload == b"toy"));
    }

    #[test]
    fn models_without_random_nodes_or_garbage_are_refused() {
        let mut graph = Vec::new();
        put_len(&mut graph, 1, &node("Relu", "r", &["a"], &["x"], &[]));
        let mut model = Vec::new();
        put_len(&mut model, 7, &graph);
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

    #[test]
    fn packed_varints_are_read_and_a_truncated_one_refused() {
        assert_eq!(
            packed_varints(&[0x01, 0x96, 0x01, 0x00]),
            Ok(vec![1, 150, 0])
        );
        assert!(packed_varints(&[0x01, 0x96]).is_err());
    }

    #[test]
    fn the_graph_is_written_in_place_of_the_old_one_with_its_length() {
        let mut model = Vec::new();
        put_uint(&mut model, 1, 8);
        put_len(&mut model, 7, b"old graph");
        put_len(&mut model, 2, b"producer");
        let top = fields(&model).unwrap();
        // 200 bytes: the length takes two varint bytes.
        let big = vec![7u8; 150];
        let pieces = [
            Cow::Borrowed(&b"kept "[..]),
            Cow::Owned(big.clone()),
            Cow::Borrowed(&[1u8; 45][..]),
        ];
        let out = model_with_graph(&top, &pieces).unwrap();
        assert_eq!(
            out.capacity(),
            out.len(),
            "one allocation of the final size"
        );
        let parsed = fields(&out).unwrap();
        assert_eq!(
            parsed.iter().map(|f| f.number).collect::<Vec<_>>(),
            [1, 7, 2]
        );
        let mut expected = b"kept ".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(&[1u8; 45]);
        assert_eq!(parsed[1].payload, &expected[..]);
        assert_eq!(parsed[2].payload, b"producer");

        let mut no_graph = Vec::new();
        put_len(&mut no_graph, 2, b"producer");
        assert_eq!(
            model_with_graph(&fields(&no_graph).unwrap(), &pieces),
            Err(GraphError::Malformed("no graph"))
        );
    }
}
