"""MLflow pyfunc loader for the ONNX models that obesity-mlops (Rust) registers.

Written by obesity-registry into the `code/` folder of every registered MLflow Model that has
an ONNX model, and named as the `python_function` flavor's `loader_module`. It delegates
everything to `mlflow.onnx` (providers, session options, float casts, one output column per
ONNX output) and changes one thing: string and categorical columns of a pandas DataFrame are
handed on as numpy `object` columns.

Why: `mlflow.onnx` (MLflow 3.17.2) feeds onnxruntime `df[name].values`. With pandas 3 a string
column is a `StringDtype` extension array, not a numpy array, and onnxruntime refuses it
("Input must be a list of dictionaries or a single numpy array for input 'CAEC'"): with
`loader_module: mlflow.onnx`, `mlflow.pyfunc.load_model(...).predict(df)`, `mlflow models
serve` and `mlflow.pyfunc.spark_udf` all fail on our string inputs under pandas 3, which is
what `pip install mlflow==3.17.2` installs. Pinning `pandas<3` in requirements.txt would only
help `--env-manager virtualenv/uv/conda`, not a user's own environment.
"""

import mlflow.onnx


def _load_pyfunc(path, model_config=None):
    """Called by `mlflow.pyfunc.load_model` with the path of `model.onnx`."""
    return _ObjectStringColumns(mlflow.onnx._load_pyfunc(path))


class _ObjectStringColumns:
    """`mlflow.onnx`'s model wrapper, with string columns cast to numpy `object`."""

    def __init__(self, model):
        self._model = model

    def get_raw_model(self):
        """The onnxruntime InferenceSession."""
        return self._model.get_raw_model()

    def predict(self, data, params=None):
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            cast = {
                name: object
                for name, dtype in data.dtypes.items()
                if dtype != object
                and (
                    isinstance(dtype, pd.CategoricalDtype)
                    or pd.api.types.is_string_dtype(dtype)
                )
            }
            if cast:
                data = data.astype(cast)
        return self._model.predict(data, params=params)
