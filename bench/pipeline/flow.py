"""The peer of the local-pipeline benchmark: a Metaflow flow start -> score -> end that does the
same scoring as one stepscore job (read the CSV, predict_proba with a scikit-learn model trained
on the same data, write predictions as CSV), run with Metaflow's local datastore and metadata.

Run: python flow.py run --model model.pkl --data job.csv --predictions predictions.csv
"""
from metaflow import FlowSpec, Parameter, step


class ScoreFlow(FlowSpec):
    model = Parameter("model", help="pickled scikit-learn classifier")
    data = Parameter("data", help="CSV with id,f0..f19")
    predictions = Parameter("predictions", help="predictions CSV to write")

    @step
    def start(self):
        self.next(self.score)

    @step
    def score(self):
        import pickle

        import pandas as pd

        with open(self.model, "rb") as f:
            clf = pickle.load(f)
        df = pd.read_csv(self.data)
        features = [c for c in df.columns if c.startswith("f")]
        proba = clf.predict_proba(df[features].to_numpy())
        out = pd.DataFrame({"id": df["id"], "prediction": clf.classes_[proba.argmax(axis=1)]})
        for i, label in enumerate(clf.classes_):
            out[f"p_{label}"] = proba[:, i]
        out.to_csv(self.predictions, index=False)
        self.rows = len(out)
        self.next(self.end)

    @step
    def end(self):
        print(f"scored {self.rows} rows")


if __name__ == "__main__":
    ScoreFlow()
