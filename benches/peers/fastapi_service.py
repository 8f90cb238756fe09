"""The seeds' FastAPI service, as the peer of scripts/loadtest.sh: raw named features in
(validated by pydantic), one-hot + BMI with pandas, a scikit-learn RandomForest (100 trees),
probabilities out; served by uvicorn with 2 workers.

    python benches/peers/fastapi_service.py train --data CSV --out model.joblib
    OBESITY_PEER_MODEL=model.joblib uvicorn fastapi_service:app --app-dir benches/peers \
        --workers 2 --host 127.0.0.1 --port 8001

POST /predict {"features": {...16 raw fields...}, "user_id": ...} answers the class, the
probability of every class, the confidence, the model version, a request id, the latency and
a timestamp: the same body and answer shape as obesity-serve's /predict, so that wrk posts
the same bytes to both.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Literal

import joblib
import pandas as pd
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_features import featurize, load_training_frame  # noqa: E402

YesNo = Literal["yes", "no"]
Freq = Literal["no", "Sometimes", "Frequently", "Always"]


class Features(BaseModel):
    Gender: Literal["Female", "Male"]
    Age: float = Field(ge=10, le=100)
    Height: float = Field(ge=1.0, le=2.5)
    Weight: float = Field(ge=20, le=300)
    family_history_with_overweight: YesNo
    FAVC: YesNo
    FCVC: float = Field(ge=1, le=3)
    NCP: float = Field(ge=1, le=4)
    CAEC: Freq
    SMOKE: YesNo
    CH2O: float = Field(ge=1, le=3)
    SCC: YesNo
    FAF: float = Field(ge=0, le=3)
    TUE: float = Field(ge=0, le=2)
    CALC: Freq
    MTRANS: Literal["Automobile", "Bike", "Motorbike", "Public_Transportation", "Walking"]


class PredictRequest(BaseModel):
    features: Features
    user_id: str | None = None


def train(data: str, out: str) -> None:
    from sklearn.ensemble import RandomForestClassifier

    raw, y = load_training_frame(data)
    x = featurize(raw)
    model = RandomForestClassifier(n_estimators=100, random_state=42)
    model.fit(x, y)
    joblib.dump({"model": model, "columns": list(x.columns)}, out)
    print(f"fastapi peer: trained on {len(x)} rows x {x.shape[1]} columns -> {out}")


_state: dict = {}
_started = time.time()
_counts = {"requests": 0, "errors": 0}


@asynccontextmanager
async def _lifespan(_app: FastAPI):
    bundle = joblib.load(os.environ["OBESITY_PEER_MODEL"])
    _state["model"] = bundle["model"]
    _state["columns"] = bundle["columns"]
    yield


app = FastAPI(title="obesity FastAPI peer", lifespan=_lifespan)


@app.get("/health")
def health() -> dict:
    return {"status": "healthy" if "model" in _state else "loading", "model_version": "1",
            "uptime_s": time.time() - _started, **_counts}


@app.post("/predict")
def predict(req: PredictRequest) -> dict:
    t0 = time.perf_counter()
    _counts["requests"] += 1
    try:
        frame = pd.DataFrame([req.features.model_dump()])
        x = featurize(frame, _state["columns"])
        model = _state["model"]
        proba = model.predict_proba(x)[0]
    except Exception as e:  # the seeds' shape: a 500 with the message
        _counts["errors"] += 1
        raise HTTPException(status_code=500, detail=str(e))
    best = int(proba.argmax())
    return {
        "prediction": str(model.classes_[best]),
        "probabilities": {str(c): float(p) for c, p in zip(model.classes_, proba)},
        "confidence": float(proba[best]),
        "model_version": "1",
        "request_id": str(uuid.uuid4()),
        "latency_ms": (time.perf_counter() - t0) * 1000.0,
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["train"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    train(a.data, a.out)
