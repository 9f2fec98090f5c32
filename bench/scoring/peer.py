"""The pandas + scikit-learn peer of the scoring benchmark.

  peer.py train --data DATA --rows 100000 --model-dir DIR   fit both peer models (pickled)
  peer.py score --model FILE --input CSV --output CSV        read_csv -> predict_proba -> to_csv

Peer models use the hyper-parameters stepscore trains with: logistic regression without
regularisation worth noting (smartcore alpha 0 = no penalty), and a random forest of 50 trees of
max depth 10 with sqrt(features) per split.
"""
import argparse
import pickle
import sys

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression


def train(args):
    df = pd.read_csv(args.data, nrows=args.rows)
    x = df[[c for c in df.columns if c.startswith("f")]]
    y = df["label"]
    models = {
        "logistic": LogisticRegression(penalty=None, max_iter=1000),
        "forest": RandomForestClassifier(
            n_estimators=50, max_depth=10, max_features="sqrt", random_state=42
        ),
    }
    for name, model in models.items():
        model.fit(x, y)
        with open(f"{args.model_dir}/{name}.pkl", "wb") as f:
            pickle.dump(model, f)


def score(args):
    with open(args.model, "rb") as f:
        model = pickle.load(f)
    df = pd.read_csv(args.input)
    features = list(model.feature_names_in_)
    proba = model.predict_proba(df[features])
    out = pd.DataFrame({"id": df["id"]})
    out["prediction"] = model.classes_[proba.argmax(axis=1)]
    for i, label in enumerate(model.classes_):
        out[f"p_{label}"] = proba[:, i]
    out.to_csv(args.output, index=False)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--rows", type=int, default=100_000)
    t.add_argument("--model-dir", required=True)
    s = sub.add_parser("score")
    s.add_argument("--model", required=True)
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True)
    args = p.parse_args()
    {"train": train, "score": score}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
