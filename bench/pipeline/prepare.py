"""Data for the local-pipeline benchmark: train.csv (10,000 rows) and job.csv (1,000 rows) of
id,f0..f19,label (standard-normal features, label from a logistic of a fixed linear combination
plus a small non-linear term, fixed seed), and the peer's scikit-learn model (model.pkl).

Run: python prepare.py <out-dir>
"""
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def generate(rng, n, start_id, weights):
    x = rng.standard_normal((n, 20))
    logit = x @ weights + 0.5 * np.sin(x[:, 0] * x[:, 1])
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    df.insert(0, "id", np.arange(start_id, start_id + n))
    df["label"] = label
    return df


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261123)
    weights = rng.standard_normal(20)
    train = generate(rng, 10_000, 0, weights)
    job = generate(rng, 1_000, 10_000, weights)
    train.to_csv(out / "train.csv", index=False, float_format="%.6f")
    job.to_csv(out / "job.csv", index=False, float_format="%.6f")
    features = [f"f{i}" for i in range(20)]
    clf = LogisticRegression(max_iter=1000).fit(train[features].to_numpy(), train["label"].to_numpy())
    with open(out / "model.pkl", "wb") as f:
        pickle.dump(clf, f)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
