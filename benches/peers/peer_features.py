"""What the seeds' Python services do to a raw row before their forest: one-hot every
categorical column (pandas.get_dummies semantics, yes/no columns give two columns each), keep
the numeric columns, add BMI = Weight / Height^2. Shared by the two peers of
scripts/loadtest.sh (fastapi_service.py and mlflow_peer.py), trained on the same CSV as the
Rust model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "NObeyesdad"
CATEGORICAL = ["Gender", "family_history_with_overweight", "FAVC", "CAEC", "SMOKE", "SCC",
               "CALC", "MTRANS"]
NUMERIC = ["Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE"]
RAW_COLUMNS = ["Gender", "Age", "Height", "Weight", "family_history_with_overweight", "FAVC",
               "FCVC", "NCP", "CAEC", "SMOKE", "CH2O", "SCC", "FAF", "TUE", "CALC", "MTRANS"]


def featurize(raw: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """One-hot + BMI. With `columns` (the training matrix's), a request's frame is aligned to
    them: levels the request lacks become 0, unseen levels are dropped."""
    df = raw[RAW_COLUMNS].copy()
    df["BMI"] = df["Weight"] / df["Height"] ** 2
    x = pd.get_dummies(df, columns=CATEGORICAL, dtype=np.float32)
    if columns is not None:
        x = x.reindex(columns=columns, fill_value=0.0)
    return x.astype(np.float32)


def load_training_frame(path: str) -> tuple[pd.DataFrame, pd.Series]:
    df = pd.read_csv(path)
    y = df.pop(TARGET)
    return df, y
