//! A small graph builder over the prost messages: nodes with unique names, constant
//! initializers, typed inputs and outputs, and attribute constructors.

use crate::proto::{
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, attribute_type, tensor_shape_proto, type_proto,
};

/// Domain of the ONNX-ML operators.
pub(crate) const ML_DOMAIN: &str = "ai.onnx.ml";

/// A dimension of a declared input or output.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dim {
    /// The batch size, named `N` (the same name everywhere, so onnxruntime knows the outputs
    /// have as many rows as the inputs).
    Batch,
    /// A fixed size.
    Fixed(usize),
}

/// The graph under construction.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub(crate) nodes: Vec<NodeProto>,
    pub(crate) initializers: Vec<TensorProto>,
    pub(crate) inputs: Vec<ValueInfoProto>,
    pub(crate) outputs: Vec<ValueInfoProto>,
}

impl Graph {
    /// Adds a node; its name is `op_type` plus its position, unique in the graph.
    pub(crate) fn node(
        &mut self,
        op_type: &str,
        domain: &str,
        inputs: &[&str],
        outputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) {
        let name = format!("{op_type}_{}", self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.iter().map(|s| (*s).to_owned()).collect(),
            name: Some(name),
            op_type: Some(op_type.to_owned()),
            domain: Some(domain.to_owned()),
            attribute,
            doc_string: None,
        });
    }

    /// Adds a constant `int64` tensor.
    pub(crate) fn const_i64(&mut self, name: &str, dims: &[usize], data: Vec<i64>) {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(crate::proto::data_type::INT64),
            int64_data: data,
            name: Some(name.to_owned()),
            ..Default::default()
        });
    }

    /// Adds a constant `float` tensor.
    pub(crate) fn const_f32(&mut self, name: &str, dims: &[usize], data: Vec<f32>) {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(crate::proto::data_type::FLOAT),
            float_data: data,
            name: Some(name.to_owned()),
            ..Default::default()
        });
    }

    /// Adds a constant `double` tensor.
    pub(crate) fn const_f64(&mut self, name: &str, dims: &[usize], data: Vec<f64>) {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(crate::proto::data_type::DOUBLE),
            double_data: data,
            name: Some(name.to_owned()),
            ..Default::default()
        });
    }

    /// Declares a graph input.
    pub(crate) fn input(&mut self, name: &str, elem_type: i32, dims: &[Dim], doc: &str) {
        self.inputs.push(value_info(name, elem_type, dims, doc));
    }

    /// Declares a graph output.
    pub(crate) fn output(&mut self, name: &str, elem_type: i32, dims: &[Dim], doc: &str) {
        self.outputs.push(value_info(name, elem_type, dims, doc));
    }

    /// The finished `GraphProto`.
    pub(crate) fn finish(self, name: &str, doc: &str) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: Some(name.to_owned()),
            initializer: self.initializers,
            doc_string: Some(doc.to_owned()),
            input: self.inputs,
            output: self.outputs,
            value_info: Vec::new(),
        }
    }
}

fn value_info(name: &str, elem_type: i32, dims: &[Dim], doc: &str) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match *d {
                Dim::Batch => tensor_shape_proto::dimension::Value::DimParam("N".to_owned()),
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(n as i64),
            }),
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem_type),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        doc_string: (!doc.is_empty()).then(|| doc.to_owned()),
    }
}

fn attr(name: &str, r#type: i32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(r#type),
        ..Default::default()
    }
}

/// An `INT` attribute.
pub(crate) fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        i: Some(i),
        ..attr(name, attribute_type::INT)
    }
}

/// A `STRING` attribute.
pub(crate) fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        s: Some(s.as_bytes().to_vec()),
        ..attr(name, attribute_type::STRING)
    }
}

/// An `INTS` attribute.
pub(crate) fn attr_ints(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto {
        ints,
        ..attr(name, attribute_type::INTS)
    }
}

/// A `FLOATS` attribute.
pub(crate) fn attr_floats(name: &str, floats: Vec<f32>) -> AttributeProto {
    AttributeProto {
        floats,
        ..attr(name, attribute_type::FLOATS)
    }
}

/// A `STRINGS` attribute.
pub(crate) fn attr_strings<S: AsRef<str>>(name: &str, strings: &[S]) -> AttributeProto {
    AttributeProto {
        strings: strings
            .iter()
            .map(|s| s.as_ref().as_bytes().to_vec())
            .collect(),
        ..attr(name, attribute_type::STRINGS)
    }
}
