"""Writes the benchmark's input document (deterministic: a fixed seed), shared by both runners."""
import json
import random
import sys

rng = random.Random(20261130)
countries = ["DE", "FR", "US", "JP", "BR", "IN", "GB", "ES"]
customers = [
    {
        "id": i,
        "name": f"customer-{i:05d}",
        "email": f"user{i}.{rng.choice(['alpha', 'beta', 'gamma'])}@example.com",
        "age": rng.randint(18, 90),
        "country": rng.choice(countries),
    }
    for i in range(10_000)
]
orders = [
    {"id": i, "price": round(rng.uniform(1, 500), 2), "quantity": rng.randint(1, 20)}
    for i in range(10_000)
]
deep = {"leaves": [{"value": i} for i in range(10)]}
for level in range(7, 0, -1):
    deep = {f"l{level}": deep, "noise": level}
json.dump({"customers": customers, "orders": orders, "deep": deep}, open(sys.argv[1], "w"))
