"""The report's app shape, for HTTP load comparisons: Flask (threaded=False, one request at a
time), the seed network (Conv2D(64, 3x3, relu) -> Flatten -> Dense(10, softmax)) in PyTorch,
GET / with an upload form and POST /predict with the multipart field `image`.
Run with Debian's interpreter: /usr/bin/python3 profiling/flask_app.py --port 5000
(used by profiling/load_compare.sh; weights are seeded at random unless --weights gives a
state_dict: throughput does not depend on them)."""
import argparse
import io
import json

import numpy as np
import torch
from flask import Flask, Response, request
from PIL import Image, ImageOps

FORM = """<!doctype html><html><head><title>MNIST digit recogniser</title></head><body>
<h1>Handwritten digit recogniser</h1>
<form action="/predict" method="post" enctype="multipart/form-data">
<input type="file" name="image" accept="image/*"> <button type="submit">Predict</button></form>
</body></html>"""

RESULT = """<!doctype html><html><head><title>Prediction</title></head><body>
<h1>Prediction: {digit}</h1><p>Confidence: {confidence:.1%}</p><a href="/">Try another</a>
</body></html>"""


class SeedNet(torch.nn.Module):
    """models/seed.json: the report's network exactly."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 64, 3)
        self.dense = torch.nn.Linear(64 * 26 * 26, 10)

    def forward(self, x):  # x (N, 1, 28, 28)
        x = torch.relu(self.conv(x))
        return torch.softmax(self.dense(torch.flatten(x, 1)), dim=1)


def preprocess(data):
    """The report's preprocessing: grey, 28x28, white ink on black, [0, 1]."""
    img = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    x = np.asarray(img, dtype=np.float32) / 255.0
    if x.mean() > 0.5:  # dark ink on light paper: invert to MNIST's polarity
        x = 1.0 - x
    return torch.from_numpy(x).reshape(1, 1, 28, 28)


def create_app(weights=None):
    torch.manual_seed(0)
    model = SeedNet().eval()
    if weights:
        model.load_state_dict(torch.load(weights))
    app = Flask(__name__)

    @app.get("/")
    def index():
        return FORM

    @app.post("/predict")
    def predict():
        f = request.files.get("image")
        if f is None:
            return Response("no image", status=400)
        try:
            x = preprocess(f.read())
        except Exception as e:  # the report's app answered 500 here; keep it a client error
            return Response("cannot read image: %s" % e, status=422)
        with torch.no_grad():
            p = model(x)[0].numpy()
        digit = int(p.argmax())
        if request.accept_mimetypes.best == "application/json":
            return Response(json.dumps({"digit": digit, "confidence": float(p[digit]),
                                        "probabilities": p.tolist()}), mimetype="application/json")
        return RESULT.format(digit=digit, confidence=float(p[digit]))

    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--weights", help="a PyTorch state_dict for SeedNet (optional)")
    args = ap.parse_args()
    create_app(args.weights).run(host=args.host, port=args.port, threaded=False)
