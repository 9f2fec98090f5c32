"""The pandas + scikit-learn peer of the scoring benchmark.

  peer.py train --data DATA --rows 100000 --model-dir DIR   fit both peer models (pickled)
  peer.py score --model FILE --input CSV --output CSV        read_csv -> predict_proba -> to_csv
  peer.py score-parquet --model FILE --input PQ --output PQ  read_parquet -> predict_proba -> to_parquet
  peer.py to-parquet --input CSV --output PQ --row-group-rows N   the bench data as pyarrow writes it

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


def predictions(model, df):
    features = list(model.feature_names_in_)
    proba = model.predict_proba(df[features])
    out = pd.DataFrame({"id": df["id"]})
    out["prediction"] = model.classes_[proba.argmax(axis=1)]
    for i, label in enumerate(model.classes_):
        out[f"p_{label}"] = proba[:, i]
    return out


def score_parquet(args):
    with open(args.model, "rb") as f:
        model = pickle.load(f)
    df = pd.read_parquet(args.input, engine="pyarrow")
    predictions(model, df).to_parquet(args.output, engine="pyarrow", index=False)


def to_parquet(args):
    df = pd.read_csv(args.input, float_precision="round_trip")
    df.to_parquet(args.output, engine="pyarrow", index=False, row_group_size=args.row_group_rows)


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
    sp = sub.add_parser("score-parquet")
    sp.add_argument("--model", required=True)
    sp.add_argument("--input", required=True)
    sp.add_argument("--output", required=True)
    tp = sub.add_parser("to-parquet")
    tp.add_argument("--input", required=True)
    tp.add_argument("--output", required=True)
    tp.add_argument("--row-group-rows", type=int, required=True)
    args = p.parse_args()
    {"train": train, "score": score, "score-parquet": score_parquet, "to-parquet": to_parquet}[
        args.cmd
    ](args)


if __name__ == "__main__":
    sys.exit(main())
