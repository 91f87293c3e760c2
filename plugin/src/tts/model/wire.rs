//! The protobuf wire format of ONNX models, read and written directly: every byte a rewrite does
//! not need to change is copied as is (no schema, so nothing is lost or reordered). The field
//! numbers are onnx.proto's, named in [`field`].

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

// Protobuf wire types.
pub(super) const VARINT: u8 = 0;
const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const FIXED32: u8 = 5;

/// Field numbers of the onnx.proto messages this code reads or writes, one module per
/// message, named as in onnx.proto.
pub mod field {
    /// `ModelProto`.
    pub mod model {
        pub const IR_VERSION: u64 = 1;
        pub const PRODUCER_NAME: u64 = 2;
        pub const GRAPH: u64 = 7;
    }
    /// `GraphProto`.
    pub mod graph {
        pub const NODE: u64 = 1;
        pub const NAME: u64 = 2;
        pub const INITIALIZER: u64 = 5;
        pub const INPUT: u64 = 11;
        pub const OUTPUT: u64 = 12;
        pub const VALUE_INFO: u64 = 13;
        pub const SPARSE_INITIALIZER: u64 = 15;
    }
    /// `NodeProto`.
    pub mod node {
        pub const INPUT: u64 = 1;
        pub const OUTPUT: u64 = 2;
        pub const NAME: u64 = 3;
        pub const OP_TYPE: u64 = 4;
        pub const ATTRIBUTE: u64 = 5;
        pub const DOMAIN: u64 = 7;
    }
    /// `AttributeProto`.
    pub mod attribute {
        pub const NAME: u64 = 1;
        pub const F: u64 = 2;
        pub const I: u64 = 3;
        pub const S: u64 = 4;
        pub const T: u64 = 5;
        pub const G: u64 = 6;
        pub const INTS: u64 = 8;
        pub const GRAPHS: u64 = 11;
        pub const TYPE: u64 = 20;
        /// `AttributeProto.AttributeType.INT`.
        pub const TYPE_INT: u64 = 2;
        /// `AttributeProto.AttributeType.INTS`.
        pub const TYPE_INTS: u64 = 7;
    }
    /// `TensorProto`.
    pub mod tensor {
        pub const DIMS: u64 = 1;
        pub const DATA_TYPE: u64 = 2;
        pub const NAME: u64 = 8;
        pub const RAW_DATA: u64 = 9;
        pub const EXTERNAL_DATA: u64 = 13;
        pub const DATA_LOCATION: u64 = 14;
        /// `TensorProto.DataLocation.EXTERNAL`.
        pub const LOCATION_EXTERNAL: u64 = 1;
        /// `TensorProto.DataType.FLOAT`.
        pub const TYPE_FLOAT: u64 = 1;
        /// `TensorProto.DataType.INT64`.
        pub const TYPE_INT64: u64 = 7;
    }
    /// `StringStringEntryProto`.
    pub mod entry {
        pub const KEY: u64 = 1;
        pub const VALUE: u64 = 2;
    }
    /// `ValueInfoProto`.
    pub mod value_info {
        pub const NAME: u64 = 1;
        pub const TYPE: u64 = 2;
    }
    /// `TypeProto`.
    pub mod type_proto {
        pub const TENSOR_TYPE: u64 = 1;
    }
    /// `TypeProto.Tensor`.
    pub mod tensor_type {
        pub const ELEM_TYPE: u64 = 1;
        pub const SHAPE: u64 = 2;
    }
    /// `TensorShapeProto`.
    pub mod shape {
        pub const DIM: u64 = 1;
    }
    /// `TensorShapeProto.Dimension`.
    pub mod dimension {
        pub const DIM_VALUE: u64 = 1;
        pub const DIM_PARAM: u64 = 2;
    }
}

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

pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
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

/// An INT attribute.
pub(super) fn int_attribute(name: &str, value: i64) -> Vec<u8> {
    use field::attribute;
    let mut a = Vec::new();
    put_len(&mut a, attribute::NAME, name.as_bytes());
    put_uint(&mut a, attribute::I, value as u64);
    put_uint(&mut a, attribute::TYPE, attribute::TYPE_INT);
    a
}

/// A NodeProto.
pub(super) fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attributes: &[Vec<u8>],
) -> Vec<u8> {
    let mut n = Vec::new();
    for input in inputs {
        put_len(&mut n, field::node::INPUT, input.as_bytes());
    }
    for output in outputs {
        put_len(&mut n, field::node::OUTPUT, output.as_bytes());
    }
    put_len(&mut n, field::node::NAME, name.as_bytes());
    put_len(&mut n, field::node::OP_TYPE, op.as_bytes());
    for attribute in attributes {
        put_len(&mut n, field::node::ATTRIBUTE, attribute);
    }
    n
}

/// A one-dimensional int64 TensorProto initializer.
pub(super) fn int64_initializer(name: &str, values: &[i64]) -> Vec<u8> {
    use field::tensor;
    let mut t = Vec::new();
    put_uint(&mut t, tensor::DIMS, values.len() as u64);
    put_uint(&mut t, tensor::DATA_TYPE, tensor::TYPE_INT64);
    put_len(&mut t, tensor::NAME, name.as_bytes());
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    put_len(&mut t, tensor::RAW_DATA, &raw);
    t
}

/// A ValueInfoProto for an int64 tensor of shape `[len]`.
pub(super) fn int64_value_info(name: &str, len: u64) -> Vec<u8> {
    let mut dim = Vec::new();
    put_uint(&mut dim, field::dimension::DIM_VALUE, len);
    tensor_value_info(name, field::tensor::TYPE_INT64, &[dim])
}

/// A ValueInfoProto for a rank-3 float tensor whose dimensions are named `dims`.
pub(super) fn float3_value_info(name: &str, dims: [&str; 3]) -> Vec<u8> {
    let dims = dims.map(|param| {
        let mut dim = Vec::new();
        put_len(&mut dim, field::dimension::DIM_PARAM, param.as_bytes());
        dim
    });
    tensor_value_info(name, field::tensor::TYPE_FLOAT, &dims)
}

/// A ValueInfoProto of a float tensor of any shape.
pub(super) fn float_value_info(name: &str) -> Vec<u8> {
    tensor_value_info_shaped(name, field::tensor::TYPE_FLOAT, None)
}

/// A ValueInfoProto of a tensor of `elem_type` with the Dimension messages `dims`.
fn tensor_value_info(name: &str, elem_type: u64, dims: &[Vec<u8>]) -> Vec<u8> {
    tensor_value_info_shaped(name, elem_type, Some(dims))
}

/// A ValueInfoProto of a tensor of `elem_type`, of the shape `dims` if given (else of any).
fn tensor_value_info_shaped(name: &str, elem_type: u64, dims: Option<&[Vec<u8>]>) -> Vec<u8> {
    let mut tensor = Vec::new();
    put_uint(&mut tensor, field::tensor_type::ELEM_TYPE, elem_type);
    if let Some(dims) = dims {
        let mut shape = Vec::new();
        for dim in dims {
            put_len(&mut shape, field::shape::DIM, dim);
        }
        put_len(&mut tensor, field::tensor_type::SHAPE, &shape);
    }
    let mut ty = Vec::new();
    put_len(&mut ty, field::type_proto::TENSOR_TYPE, &tensor);
    let mut info = Vec::new();
    put_len(&mut info, field::value_info::NAME, name.as_bytes());
    put_len(&mut info, field::value_info::TYPE, &ty);
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

/// The model `top` (a ModelProto's fields) with its graph (the first graph field) made of `graph`,
/// in order: fields copied as they are or new ones. Written in one allocation of the final
/// size: the graph holds the weights, so building it apart and then copying it into the model
/// would hold them twice more (load's peak memory, docs/design/streaming.md).
pub(super) fn model_with_graph(top: &[Field], graph: &[Cow<[u8]>]) -> Result<Vec<u8>, GraphError> {
    let graph_len: usize = graph.iter().map(|piece| piece.len()).sum();
    let tag = field::model::GRAPH << 3 | u64::from(LEN);
    let mut size = varint_len(tag) + varint_len(graph_len as u64) + graph_len;
    let mut seen = false;
    for field in top {
        if field.number == field::model::GRAPH && field.wire == LEN && !seen {
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
        if field.number == field::model::GRAPH && field.wire == LEN && !written {
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
        .find(|f| f.number == field::model::GRAPH && f.wire == LEN)
        .ok_or(GraphError::Malformed("no graph"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        put_uint(&mut model, field::model::IR_VERSION, 8);
        put_len(&mut model, field::model::GRAPH, b"old graph");
        put_len(&mut model, field::model::PRODUCER_NAME, b"producer");
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
            [
                field::model::IR_VERSION,
                field::model::GRAPH,
                field::model::PRODUCER_NAME
            ]
        );
        let mut expected = b"kept ".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(&[1u8; 45]);
        assert_eq!(parsed[1].payload, &expected[..]);
        assert_eq!(parsed[2].payload, b"producer");

        let mut no_graph = Vec::new();
        put_len(&mut no_graph, field::model::PRODUCER_NAME, b"producer");
        assert_eq!(
            model_with_graph(&fields(&no_graph).unwrap(), &pieces),
            Err(GraphError::Malformed("no graph"))
        );
    }
}
