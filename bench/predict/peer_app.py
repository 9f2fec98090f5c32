"""The Python peer of bench/predict: a scikit-learn random forest loaded with joblib, answering the
same KServe v1 request as `stepscore serve` from a WSGI app (run under gunicorn).

  peer_app.py train --data CSV --model FILE     fit the peer model (the columns f*, target label)
  PEER_MODEL=FILE gunicorn peer_app:app         serve it: POST /v1/models/forest:predict
"""
import argparse
import csv
import hashlib
import json
import os
import sys


def train(args):
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    with open(args.data, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        features = [c for c in header if c.startswith("f")]
        at = [header.index(c) for c in features]
        label = header.index("label")
        rows = list(reader)
    x = np.array([[float(r[i]) for i in at] for r in rows])
    y = np.array([r[label] for r in rows])
    # the hyper-parameters stepscore's forest is trained with in run.sh
    model = RandomForestClassifier(n_estimators=50, max_depth=10, max_features="sqrt", random_state=42)
    model.fit(x, y)
    joblib.dump({"model": model, "features": features}, args.model)


class Peer:
    """The model and what answers need of it, loaded once per process."""

    def __init__(self, path):
        import joblib

        bundle = joblib.load(path)
        self.model = bundle["model"]
        self.features = bundle["features"]
        self.classes = [str(c) for c in self.model.classes_]
        with open(path, "rb") as f:
            self.version = hashlib.md5(f.read()).hexdigest()

    def predict(self, body):
        import numpy as np

        instances = json.loads(body)["instances"]
        rows = [[row[f] for f in self.features] if isinstance(row, dict) else row for row in instances]
        proba = self.model.predict_proba(np.asarray(rows, dtype=float))
        labels = proba.argmax(axis=1)
        return {
            "model_name": NAME,
            "model_version": self.version,
            "predictions": [
                {"label": self.classes[i], "probabilities": dict(zip(self.classes, p.tolist()))}
                for i, p in zip(labels, proba)
            ],
        }


NAME = os.environ.get("PEER_NAME", "forest")
PEER = Peer(os.environ["PEER_MODEL"]) if "PEER_MODEL" in os.environ else None


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
    if method == "POST" and path == f"/v1/models/{NAME}:predict":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            status, answer = "200 OK", PEER.predict(environ["wsgi.input"].read(length))
        except (ValueError, KeyError, TypeError) as err:
            status, answer = "400 Bad Request", {"error": str(err)}
    else:
        status, answer = "404 Not Found", {"error": f"no route {method} {path}"}
    body = json.dumps(answer).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--model", required=True)
    args = parser.parse_args()
    if args.command == "train":
        train(args)


if __name__ == "__main__":
    sys.exit(main())
