//! A small reference interpreter for exactly the operators obesity-onnx emits, following the
//! ONNX operator specifications (not our exporter's code), so `cargo test` can check what an
//! exported graph computes without onnxruntime. The Python suite checks onnxruntime itself.
//!
//! Tensors are row-major with an explicit shape. `TreeEnsembleClassifier` adds the trees'
//! weights in tree order (what onnxruntime does on one thread) and picks the first maximum.

use std::collections::{BTreeMap, HashMap};

use obesity_onnx::proto::{AttributeProto, ModelProto, NodeProto, TensorProto, data_type};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Data,
}

impl Tensor {
    pub(crate) fn f64(values: Vec<f64>) -> Self {
        Tensor {
            shape: vec![values.len()],
            data: Data::F64(values),
        }
    }

    pub(crate) fn str(values: Vec<String>) -> Self {
        Tensor {
            shape: vec![values.len()],
            data: Data::Str(values),
        }
    }

    pub(crate) fn f32(shape: Vec<usize>, values: Vec<f32>) -> Self {
        Tensor {
            shape,
            data: Data::F32(values),
        }
    }

    pub(crate) fn as_f32(&self) -> Result<&[f32], String> {
        match &self.data {
            Data::F32(v) => Ok(v),
            other => Err(format!("expected float, got {other:?}")),
        }
    }

    pub(crate) fn as_str(&self) -> Result<&[String], String> {
        match &self.data {
            Data::Str(v) => Ok(v),
            other => Err(format!("expected strings, got {other:?}")),
        }
    }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Result<&'a AttributeProto, String> {
    node.attribute
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
        .ok_or_else(|| format!("{:?} has no attribute {name}", node.op_type))
}

fn strings(a: &AttributeProto) -> Vec<String> {
    a.strings
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn initializer(t: &TensorProto) -> Result<Tensor, String> {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let data = match t.data_type {
        Some(data_type::FLOAT) => Data::F32(t.float_data.clone()),
        Some(data_type::DOUBLE) => Data::F64(t.double_data.clone()),
        Some(data_type::INT64) => Data::I64(t.int64_data.clone()),
        other => return Err(format!("initializer type {other:?}")),
    };
    Ok(Tensor { shape, data })
}

/// Elementwise `op` of `a` `[.., k]` and `b` of the same shape or `[k]` (the broadcasts the
/// exporter uses).
fn binary(a: &Tensor, b: &Tensor, op: fn(f64, f64) -> f64) -> Result<Tensor, String> {
    let (Data::F64(x), Data::F64(y)) = (&a.data, &b.data) else {
        return Err("binary ops are used on doubles only".into());
    };
    if y.is_empty() || x.len() % y.len() != 0 || (a.shape != b.shape && b.shape.len() != 1) {
        return Err(format!("cannot broadcast {:?} with {:?}", a.shape, b.shape));
    }
    let out = x
        .iter()
        .enumerate()
        .map(|(i, &v)| op(v, y[i % y.len()]))
        .collect();
    Ok(Tensor {
        shape: a.shape.clone(),
        data: Data::F64(out),
    })
}

/// Runs `model` on `inputs`, returning every graph output.
pub(crate) fn run(
    model: &ModelProto,
    inputs: HashMap<String, Tensor>,
) -> Result<BTreeMap<String, Tensor>, String> {
    let values = run_all(model, inputs)?;
    let graph = model.graph.as_ref().ok_or("no graph")?;
    graph
        .output
        .iter()
        .map(|o| {
            let name = o.name.clone().unwrap_or_default();
            let t = values
                .get(&name)
                .cloned()
                .ok_or(format!("no output {name}"))?;
            Ok((name, t))
        })
        .collect()
}

/// Runs `model` on `inputs`, returning every value computed (inputs and constants included).
pub(crate) fn run_all(
    model: &ModelProto,
    inputs: HashMap<String, Tensor>,
) -> Result<HashMap<String, Tensor>, String> {
    let graph = model.graph.as_ref().ok_or("no graph")?;
    let mut values = inputs;
    for t in &graph.initializer {
        values.insert(t.name.clone().unwrap_or_default(), initializer(t)?);
    }
    for node in &graph.node {
        let get = |i: usize| -> Result<&Tensor, String> {
            let name = node.input.get(i).ok_or("missing input")?;
            values.get(name).ok_or_else(|| format!("no value {name}"))
        };
        let op = node.op_type.as_deref().unwrap_or_default();
        let outputs: Vec<Tensor> = match op {
            "Mul" => vec![binary(get(0)?, get(1)?, |a, b| a * b)?],
            "Div" => vec![binary(get(0)?, get(1)?, |a, b| a / b)?],
            "Sub" => vec![binary(get(0)?, get(1)?, |a, b| a - b)?],
            "Reshape" => {
                let (x, shape) = (get(0)?, get(1)?);
                if shape.data != Data::I64(vec![-1, 1]) || x.shape.len() != 1 {
                    return Err("only Reshape [N] -> [-1, 1] is used".into());
                }
                vec![Tensor {
                    shape: vec![x.shape[0], 1],
                    data: x.data.clone(),
                }]
            }
            "Concat" => {
                if attr(node, "axis")?.i != Some(1) {
                    return Err("Concat on axis 1 only".into());
                }
                let parts: Vec<&Tensor> =
                    (0..node.input.len()).map(get).collect::<Result<_, _>>()?;
                let n = parts[0].shape[0];
                let width: usize = parts.iter().map(|p| p.shape[1]).sum();
                match &parts[0].data {
                    Data::F64(_) => {
                        let mut out = Vec::with_capacity(n * width);
                        for r in 0..n {
                            for p in &parts {
                                let Data::F64(v) = &p.data else {
                                    return Err("mixed Concat".into());
                                };
                                let k = p.shape[1];
                                out.extend_from_slice(&v[r * k..(r + 1) * k]);
                            }
                        }
                        vec![Tensor {
                            shape: vec![n, width],
                            data: Data::F64(out),
                        }]
                    }
                    _ => {
                        let mut out = Vec::with_capacity(n * width);
                        for r in 0..n {
                            for p in &parts {
                                let v = p.as_f32()?;
                                let k = p.shape[1];
                                out.extend_from_slice(&v[r * k..(r + 1) * k]);
                            }
                        }
                        vec![Tensor::f32(vec![n, width], out)]
                    }
                }
            }
            "Cast" => {
                let x = get(0)?;
                if attr(node, "to")?.i != Some(i64::from(data_type::FLOAT)) {
                    return Err("Cast to float only".into());
                }
                let Data::F64(v) = &x.data else {
                    return Err("Cast from double only".into());
                };
                vec![Tensor::f32(
                    x.shape.clone(),
                    v.iter().map(|&d| d as f32).collect(),
                )]
            }
            "OneHotEncoder" => {
                let x = get(0)?;
                let cats = strings(attr(node, "cats_strings")?);
                let zeros = attr(node, "zeros")?.i.unwrap_or(1);
                let mut out = vec![0.0f32; x.as_str()?.len() * cats.len()];
                for (r, s) in x.as_str()?.iter().enumerate() {
                    match cats.iter().position(|c| c == s) {
                        Some(j) => out[r * cats.len() + j] = 1.0,
                        None if zeros == 0 => {
                            return Err(format!("Unknown Category {s:?} and zeros = 0"));
                        }
                        None => {}
                    }
                }
                let mut shape = x.shape.clone();
                shape.push(cats.len());
                vec![Tensor::f32(shape, out)]
            }
            "MatMul" => {
                let (a, b) = (get(0)?, get(1)?);
                let (n, l, k) = (a.shape[0], a.shape[1], b.shape[1]);
                if b.shape[0] != l {
                    return Err("MatMul shapes".into());
                }
                let (x, w) = (a.as_f32()?, b.as_f32()?);
                let mut out = vec![0.0f32; n * k];
                for r in 0..n {
                    for j in 0..k {
                        out[r * k + j] = (0..l).map(|i| x[r * l + i] * w[i * k + j]).sum();
                    }
                }
                vec![Tensor::f32(vec![n, k], out)]
            }
            "Gather" => {
                let (x, index) = (get(0)?, get(1)?);
                let Data::I64(ix) = &index.data else {
                    return Err("Gather index".into());
                };
                if attr(node, "axis")?.i != Some(1) || !index.shape.is_empty() {
                    return Err("Gather of one column only".into());
                }
                let (n, c) = (x.shape[0], x.shape[1]);
                let j = ix[0] as usize;
                let v = x.as_f32()?;
                vec![Tensor::f32(vec![n], (0..n).map(|r| v[r * c + j]).collect())]
            }
            "TreeEnsembleClassifier" => {
                let (label, proba) = tree_ensemble(node, get(0)?)?;
                vec![label, proba]
            }
            other => return Err(format!("operator {other} is not expected")),
        };
        if outputs.len() != node.output.len() {
            return Err(format!("{op}: output count"));
        }
        for (name, t) in node.output.iter().zip(outputs) {
            values.insert(name.clone(), t);
        }
    }
    Ok(values)
}

fn tree_ensemble(node: &NodeProto, x: &Tensor) -> Result<(Tensor, Tensor), String> {
    let ints = |name| attr(node, name).map(|a| a.ints.clone());
    let (tree_ids, node_ids) = (ints("nodes_treeids")?, ints("nodes_nodeids")?);
    let (features, trues, falses) = (
        ints("nodes_featureids")?,
        ints("nodes_truenodeids")?,
        ints("nodes_falsenodeids")?,
    );
    let values = attr(node, "nodes_values")?.floats.clone();
    let modes = strings(attr(node, "nodes_modes")?);
    let (c_trees, c_nodes, c_ids) = (
        ints("class_treeids")?,
        ints("class_nodeids")?,
        ints("class_ids")?,
    );
    let weights = attr(node, "class_weights")?.floats.clone();
    let labels = strings(attr(node, "classlabels_strings")?);
    if attr(node, "post_transform")?.s.as_deref() != Some(b"NONE".as_slice()) {
        return Err("post_transform must be NONE".into());
    }
    let mut at: HashMap<(i64, i64), usize> = HashMap::new();
    for (i, key) in tree_ids.iter().zip(&node_ids).enumerate() {
        if at.insert((*key.0, *key.1), i).is_some() {
            return Err(format!("node {key:?} twice"));
        }
    }
    let mut leaf_weights: HashMap<(i64, i64), Vec<(usize, f32)>> = HashMap::new();
    for i in 0..weights.len() {
        leaf_weights
            .entry((c_trees[i], c_nodes[i]))
            .or_default()
            .push((c_ids[i] as usize, weights[i]));
    }
    let mut trees: Vec<i64> = tree_ids.clone();
    trees.sort_unstable();
    trees.dedup();
    let (n, width, k) = (x.shape[0], x.shape[1], labels.len());
    let xs = x.as_f32()?;
    let mut proba = vec![0.0f32; n * k];
    let mut out_labels = Vec::with_capacity(n);
    for r in 0..n {
        let row = &xs[r * width..(r + 1) * width];
        let scores = &mut proba[r * k..(r + 1) * k];
        for &t in &trees {
            let mut id = 0i64;
            loop {
                let &i = at
                    .get(&(t, id))
                    .ok_or(format!("tree {t} has no node {id}"))?;
                match modes[i].as_str() {
                    "LEAF" => break,
                    "BRANCH_LEQ" => {
                        let v = row[features[i] as usize];
                        id = if v <= values[i] { trues[i] } else { falses[i] };
                    }
                    m => return Err(format!("mode {m}")),
                }
            }
            for &(c, w) in leaf_weights.get(&(t, id)).map_or(&[][..], Vec::as_slice) {
                scores[c] += w;
            }
        }
        let mut best = 0;
        for c in 1..k {
            if scores[c] > scores[best] {
                best = c;
            }
        }
        out_labels.push(labels[best].clone());
    }
    Ok((Tensor::str(out_labels), Tensor::f32(vec![n, k], proba)))
}
