//! External weights: a model's large initializers moved to a data file beside it, so ONNX Runtime
//! reads them from that file instead of also holding them inside its parsed copy of the model.

use super::wire::{
    GraphError, LEN, field, fields, main_graph, model_with_graph, put_len, put_uint,
};
use std::borrow::Cow;

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
    use field::tensor;
    let top = fields(model)?;
    let graph = main_graph(&top)?;
    let mut data = Vec::new();
    let mut end = 0u64;
    let mut pieces: Vec<Cow<[u8]>> = Vec::new();
    for field in fields(graph.payload)? {
        let raw = (field.number == field::graph::INITIALIZER && field.wire == LEN)
            .then(|| fields(field.payload))
            .transpose()?
            .and_then(|tensor| {
                let weights = tensor
                    .iter()
                    .find(|t| t.number == tensor::RAW_DATA && t.wire == LEN)?
                    .payload;
                (weights.len() >= EXTERNAL_MIN_BYTES
                    && !tensor.iter().any(|t| {
                        t.number == tensor::EXTERNAL_DATA || t.number == tensor::DATA_LOCATION
                    }))
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
        for t in tensor.iter().filter(|t| t.number != tensor::RAW_DATA) {
            out.extend_from_slice(t.raw);
        }
        for (key, value) in [
            ("location", location.to_owned()),
            ("offset", offset.to_string()),
            ("length", weights.len().to_string()),
        ] {
            let mut entry = Vec::new();
            put_len(&mut entry, field::entry::KEY, key.as_bytes());
            put_len(&mut entry, field::entry::VALUE, value.as_bytes());
            put_len(&mut out, tensor::EXTERNAL_DATA, &entry);
        }
        put_uint(&mut out, tensor::DATA_LOCATION, tensor::LOCATION_EXTERNAL);
        let mut piece = Vec::new();
        put_len(&mut piece, field::graph::INITIALIZER, &out);
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
    use crate::tts::model::wire::{Field, node, text};

    #[test]
    fn large_weights_move_to_aligned_offsets_of_a_data_file_and_small_ones_stay() {
        let weights = |name: &str, len: usize, fill: u8| {
            let mut tensor = Vec::new();
            put_uint(&mut tensor, field::tensor::DIMS, len as u64 / 4);
            put_uint(
                &mut tensor,
                field::tensor::DATA_TYPE,
                field::tensor::TYPE_FLOAT,
            );
            put_len(&mut tensor, field::tensor::NAME, name.as_bytes());
            put_len(&mut tensor, field::tensor::RAW_DATA, &vec![fill; len]);
            tensor
        };
        let mut graph = Vec::new();
        put_len(
            &mut graph,
            field::graph::NODE,
            &node("Relu", "r", &["a"], &["x"], &[]),
        );
        put_len(
            &mut graph,
            field::graph::INITIALIZER,
            &weights("big", 5000, 1),
        );
        put_len(
            &mut graph,
            field::graph::INITIALIZER,
            &weights("small", 16, 2),
        );
        put_len(
            &mut graph,
            field::graph::INITIALIZER,
            &weights("bigger", 70000, 3),
        );
        let mut model = Vec::new();
        put_uint(&mut model, field::model::IR_VERSION, 8);
        put_len(&mut model, field::model::GRAPH, &graph);
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
            .filter(|f| f.number == field::graph::INITIALIZER)
            .map(|f| fields(f.payload).unwrap())
            .collect();
        assert_eq!(tensors.len(), 3, "every initializer is kept, in order");
        let entries = |tensor: &[Field]| -> Vec<(String, String)> {
            tensor
                .iter()
                .filter(|t| t.number == field::tensor::EXTERNAL_DATA)
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
        assert!(tensors[2].iter().any(|t| {
            t.number == field::tensor::DATA_LOCATION && t.varint == field::tensor::LOCATION_EXTERNAL
        }));
        assert!(
            !tensors[2]
                .iter()
                .any(|t| t.number == field::tensor::RAW_DATA),
            "no raw data left"
        );
        assert!(
            entries(&tensors[1]).is_empty(),
            "a small weight stays inline"
        );
        assert!(
            tensors[1]
                .iter()
                .any(|t| t.number == field::tensor::RAW_DATA)
        );
    }
}
