"""The TF Serving contract, checked with the real consumers' protocol: ``PredictRequest`` protos sent through a
real gRPC server on 127.0.0.1 whose ``PredictionService`` does what TF Serving's Predict does with a SavedModel,
plus the deployer's files in ``export/`` (request bodies, gRPC client, ``models.config``, compose file)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from tfw2v.export.saved_model import saved_model
from tfw2v.text.tokenize import Tokenizer
from tfw2v.training.vectors import WordVectors

from serving_reference import cosine, sqrtn

EXPORT = Path(__file__).resolve().parents[1] / "export"
MODEL = "tfw2v"
TOKENS = ["the", "of", "and", "is", "in", "capital", "king", "queen", "man", "woman", "prince", "princess",
          "paris", "france", "berlin", "germany", "rome", "italy", "café", "東京"]
SIGNATURES = ("serving_default", "token_vectors", "nearest_neighbors", "similarity")
_STATUS = {code.value[0]: code for code in grpc.StatusCode}


class SavedModelPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """TF Serving's Predict for one model name over a base path of numbered version directories.

    As the model server does: no version in the request means the latest; the signature defaults to
    ``serving_default`` and a missing one is FAILED_PRECONDITION; request inputs must match the SignatureDef,
    whose ``defaults`` fill inputs the request leaves out; dtype mismatches and graph errors are
    INVALID_ARGUMENT; ``output_filter`` selects outputs.
    """

    def __init__(self, name: str, base_path: Path):
        self.name = name
        self.servables = {
            int(path.name): (tf.saved_model.load(str(path)), _signature_defs(path))
            for path in base_path.iterdir()
            if path.name.isdigit()
        }

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext):
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else max(self.servables)
        if spec.name != self.name or version not in self.servables:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {spec.name} version {version}")
        loaded, signature_defs = self.servables[version]
        signature_name = spec.signature_name or "serving_default"
        if signature_name not in signature_defs:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{signature_name}" not found.')
        signature = signature_defs[signature_name]
        extra = set(request.inputs) - set(signature.inputs)
        missing = set(signature.inputs) - set(request.inputs) - set(signature.defaults)
        if extra or missing:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"input size does not match signature: "
                          f"Sent extra: {sorted(extra)}. Missing but required: {sorted(missing)}.")
        inputs = {}
        for alias, info in signature.inputs.items():
            proto = request.inputs[alias] if alias in request.inputs else signature.defaults[alias]
            if proto.dtype != info.dtype:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"input '{alias}' expects "
                              f"{tf.as_dtype(info.dtype).name} but {tf.as_dtype(proto.dtype).name} was provided")
            inputs[alias] = tf.constant(tf.make_ndarray(proto), dtype=tf.as_dtype(info.dtype))
        try:
            outputs = loaded.signatures[signature_name](**inputs)
        except tf.errors.OpError as error:
            context.abort(_STATUS[error.error_code], error.message)
        except (TypeError, ValueError) as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        unknown = set(request.output_filter) - set(outputs)
        if unknown:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"output tensor alias not found in signature: {unknown}")
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signature_name
        for alias in request.output_filter or outputs:
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(outputs[alias].numpy()))
        return response


def _signature_defs(path: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The serving SignatureDefs (not TF's internal ``__saved_model_init_op``), as the model server reads them."""
    saved = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    return {k: v for k, v in saved.meta_graphs[0].signature_def.items() if not k.startswith("__")}


def word_vectors(seed: int) -> WordVectors:
    rng = np.random.default_rng(seed)
    return WordVectors(TOKENS, rng.normal(size=(len(TOKENS), 6)).astype(np.float32), Tokenizer(lowercase=True))


@pytest.fixture(scope="module")
def vectors() -> WordVectors:
    """The latest version's vectors; version 1 holds other ones."""
    return word_vectors(seed=0)


@pytest.fixture(scope="module")
def base_path(vectors, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("models") / MODEL
    saved_model(word_vectors(seed=1), base)
    saved_model(vectors, base)
    return base


@pytest.fixture(scope="module")
def address(base_path):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        SavedModelPredictionService(MODEL, base_path), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.fixture(scope="module")
def stub(address):
    with grpc.insecure_channel(address) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def signature_defs(base_path) -> dict[str, meta_graph_pb2.SignatureDef]:
    return _signature_defs(base_path / "2")


# --- numpy references -------------------------------------------------------------------------------------




def expected(wv: WordVectors, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What each signature must answer, computed with numpy from the exported matrix."""
    text = {name: [v.decode("utf-8") for v in np.asarray(value).ravel()] for name, value in inputs.items()
            if np.asarray(value).dtype == object}
    if signature == "serving_default":
        return {"embeddings": np.stack([sqrtn(wv, s) for s in text["sentences"]])}
    if signature == "similarity":
        return {"similarity": np.array([cosine(sqrtn(wv, a), sqrtn(wv, b))
                                        for a, b in zip(text["left"], text["right"])])}
    tokens = [t.lower() for t in text["tokens"]]
    if signature == "token_vectors":
        rows = [wv[t] if t in wv else np.zeros(wv.dim, np.float32) for t in tokens]
        return {"vectors": np.stack(rows), "in_vocabulary": np.array([t in wv for t in tokens])}
    k = min(int(inputs.get("k", 10)), len(wv) - 1)
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    neighbors, scores = [], []
    for token in tokens:
        if token not in wv:
            neighbors.append([b""] * k)
            scores.append([0.0] * k)
            continue
        similarity = unit @ unit[wv.index(token)]
        similarity[wv.index(token)] = -np.inf
        order = np.argsort(-similarity, kind="stable")[:k]
        neighbors.append([wv.tokens[j].encode("utf-8") for j in order])
        scores.append(similarity[order])
    return {"neighbors": np.array(neighbors, dtype=object).reshape(len(tokens), k),
            "scores": np.array(scores, dtype=np.float32).reshape(len(tokens), k)}


def assert_outputs(response: predict_pb2.PredictResponse, want: dict[str, np.ndarray]) -> None:
    got = {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
    assert set(got) == set(want)
    for name, value in want.items():
        if value.dtype.kind in "OSb":
            np.testing.assert_array_equal(got[name], value)
        else:
            np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6)


def make_request(signature: str, version: int | None = None, **inputs) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def strings(*values: str) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=object)


# --- Predict over gRPC ------------------------------------------------------------------------------------

CASES = {
    "serving_default": {"sentences": strings("The King and the QUEEN", "paris is in france", "", "café 東京 xyzzy")},
    "token_vectors": {"tokens": strings("king", "Queen", "東京", "zyzzyva")},
    "nearest_neighbors": {"tokens": strings("king", "PARIS", "zyzzyva"), "k": np.int32(4)},
    "similarity": {"left": strings("king", "paris france", "", "zyzzyva"),
                   "right": strings("queen", "berlin germany", "king", "king")},
}


@pytest.mark.parametrize("signature", SIGNATURES)
def test_predict_answers_each_signature(stub, vectors, signature):
    response = stub.Predict(make_request(signature, **CASES[signature]), timeout=60)
    assert response.model_spec.name == MODEL and response.model_spec.version.value == 2
    assert response.model_spec.signature_name == signature
    assert_outputs(response, expected(vectors, signature, CASES[signature]))


def test_an_empty_signature_name_means_serving_default_and_a_version_can_be_chosen(stub):
    response = stub.Predict(make_request("", version=1, sentences=strings("king queen")), timeout=60)
    assert response.model_spec.signature_name == "serving_default"
    assert response.model_spec.version.value == 1
    want = expected(word_vectors(seed=1), "serving_default", {"sentences": strings("king queen")})
    assert_outputs(response, want)


def test_k_defaults_to_ten_from_the_signature_def(stub, vectors, signature_defs):
    assert tf.make_ndarray(signature_defs["nearest_neighbors"].defaults["k"]) == 10
    inputs = {"tokens": strings("king", "zyzzyva")}
    response = stub.Predict(make_request("nearest_neighbors", **inputs), timeout=60)
    assert tf.make_ndarray(response.outputs["neighbors"]).shape == (2, 10)
    assert_outputs(response, expected(vectors, "nearest_neighbors", inputs))


def test_output_filter_selects_outputs(stub, vectors):
    request = make_request("token_vectors", tokens=strings("king"))
    request.output_filter.append("in_vocabulary")
    response = stub.Predict(request, timeout=60)
    assert list(response.outputs) == ["in_vocabulary"]


@pytest.mark.parametrize(
    ("request_", "status", "message"),
    [
        (make_request("no_such_signature", sentences=strings("king")), grpc.StatusCode.FAILED_PRECONDITION,
         'Serving signature key "no_such_signature" not found'),
        (make_request("serving_default", sentences=np.array([1, 2], np.int32)), grpc.StatusCode.INVALID_ARGUMENT,
         "input 'sentences' expects string but int32 was provided"),
        (make_request("nearest_neighbors", tokens=strings("king"), k=np.int64(3)), grpc.StatusCode.INVALID_ARGUMENT,
         "input 'k' expects int32 but int64 was provided"),
        (make_request("nearest_neighbors", tokens=strings("king"), k=np.array([3], np.int32)),
         grpc.StatusCode.INVALID_ARGUMENT, "should be a scalar"),
        (make_request("similarity", left=strings("king")), grpc.StatusCode.INVALID_ARGUMENT,
         r"Missing but required: \['right'\]"),
        (make_request("token_vectors", tokens=strings("king"), k=np.int32(3)), grpc.StatusCode.INVALID_ARGUMENT,
         r"Sent extra: \['k'\]"),
        (make_request("nearest_neighbors", tokens=strings("king"), k=np.int32(-1)), grpc.StatusCode.INVALID_ARGUMENT,
         "k must be >= 0"),
        (make_request("similarity", left=strings("a", "b"), right=strings("c")), grpc.StatusCode.INVALID_ARGUMENT,
         "left and right must have the same length"),
        (make_request("serving_default", version=9, sentences=strings("king")), grpc.StatusCode.NOT_FOUND,
         "Servable not found"),
    ],
    ids=["signature", "dtype", "k-dtype", "k-shape", "missing", "extra", "negative-k", "lengths", "version"],
)
def test_bad_requests_get_a_status_and_a_message(stub, request_, status, message):
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request_, timeout=60)
    assert error.value.code() == status
    assert re.search(message, error.value.details())


# --- export/requests/grpc_predict.py ------------------------------------------------------------------------

SCRIPT_CASES = {
    "serving_default": (["The King", "café 東京"], {"sentences": strings("The King", "café 東京")}),
    "token_vectors": (["king", "zyzzyva"], {"tokens": strings("king", "zyzzyva")}),
    "nearest_neighbors": (["--k", "3", "king", "paris"], {"tokens": strings("king", "paris"), "k": 3}),
    "similarity": (["--left", "king", "--right", "queen", "--left", "rome", "--right", "italy"],
                   {"left": strings("king", "rome"), "right": strings("queen", "italy")}),
}


def test_the_grpc_client_example_queries_every_signature(address, vectors):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    script = str(EXPORT / "requests" / "grpc_predict.py")
    runs = {signature: subprocess.Popen([sys.executable, script, "--server", address, signature, *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for signature, (args, _) in SCRIPT_CASES.items()}
    for signature, run in runs.items():
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
        got = json.loads(stdout.splitlines()[-1])
        for name, want in expected(vectors, signature, SCRIPT_CASES[signature][1]).items():
            if want.dtype == object:
                assert got[name] == [[b.decode("utf-8") for b in row] for row in want]
            elif want.dtype == bool:
                assert got[name] == want.tolist()
            else:
                np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-6)


# --- export/requests/*.json: TF Serving's REST request formats ------------------------------------------------


def rest_to_predict_request(body: dict, signature_defs: dict[str, meta_graph_pb2.SignatureDef]):
    """TF Serving's documented REST semantics, as the model server turns a JSON body into a PredictRequest.

    Row format ``{"instances": [...]}``: a list of objects maps each key to one named input whose values are
    stacked along a new 0-th dimension (every object has the same keys); a list of plain values is the
    single input of a one-input signature. Columnar format ``{"inputs": ...}``: an object maps each name to a
    whole (nested-list or scalar) tensor; a plain value is the single input. JSON strings become DT_STRING,
    numbers take the dtype the SignatureDef declares.
    """
    signature_name = body.get("signature_name", "serving_default")
    signature = signature_defs[signature_name]
    if "instances" in body:
        rows = body["instances"]
        if all(isinstance(row, dict) for row in rows):
            assert all(row.keys() == rows[0].keys() for row in rows), "every instance needs the same keys"
            columns = {name: [row[name] for row in rows] for name in rows[0]}
        else:
            (only,) = signature.inputs
            columns = {only: rows}
    else:
        inputs = body["inputs"]
        columns = inputs if isinstance(inputs, dict) else {next(iter(signature.inputs)): inputs}
    request = make_request(signature_name)
    for name, value in columns.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=tf.as_dtype(signature.inputs[name].dtype)))
    return request


def test_every_signature_has_a_row_and_a_columnar_rest_example():
    names = sorted(p.name for p in (EXPORT / "requests").glob("*.json"))
    bodies = {name: json.loads((EXPORT / "requests" / name).read_text(encoding="utf-8")) for name in names}
    forms = {(body.get("signature_name", "serving_default"), "instances" in body) for body in bodies.values()}
    assert forms == {(s, row) for s in SIGNATURES for row in (True, False)}
    assert "predict_instances.json" in names and "predict_inputs.json" in names


@pytest.mark.parametrize("name", sorted(p.name for p in (EXPORT / "requests").glob("*.json")))
def test_rest_request_bodies_give_the_expected_outputs(stub, vectors, signature_defs, name):
    body = json.loads((EXPORT / "requests" / name).read_text(encoding="utf-8"))
    request = rest_to_predict_request(body, signature_defs)
    inputs = {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()}
    response = stub.Predict(request, timeout=60)
    assert_outputs(response, expected(vectors, request.model_spec.signature_name or "serving_default", inputs))


def test_the_readme_documents_every_signature_and_tensor_name(signature_defs):
    readme = (EXPORT / "README.md").read_text(encoding="utf-8")
    assert sorted(signature_defs) == sorted(SIGNATURES)
    for name, signature in signature_defs.items():
        for documented in (name, *signature.inputs, *signature.outputs):
            assert f"`{documented}`" in readme, f"export/README.md does not mention `{documented}`"


# --- models.config and compose.yaml -----------------------------------------------------------------------


def test_models_config_parses_and_points_at_the_base_path_compose_mounts():
    config = text_format.Parse((EXPORT / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert model.name == MODEL and model.model_platform == "tensorflow"
    compose = (EXPORT / "compose.yaml").read_text()
    assert re.search(r"image:\s*tensorflow/serving[:$]", compose)
    volumes = re.findall(r"^\s*-\s*(\S+):(/\S+?)(?::ro)?\s*$", compose, re.MULTILINE)
    mounts = {target: source for source, target in volumes}
    assert model.base_path in mounts, f"compose.yaml mounts {sorted(mounts)}, not base_path {model.base_path}"
    config_mount = next(target for target, source in mounts.items() if source.endswith("models.config"))
    assert f"--model_config_file={config_mount}" in compose
    assert re.search(r'"8500:8500"', compose) and re.search(r'"8501:8501"', compose)
