"""Generates the OpenAPI document of `tickinfer serve`: docs/openapi.json (pretty) and
src/serve/openapi.c (the served copy).  Run from the repository root:
    python3 tests/py/serve_gen_openapi.py
"""
import json
err = {"$ref": "#/components/responses/Error"}
def resp(desc, schema=None, ct="application/json"):
    r = {"description": desc}
    if schema is not None: r["content"] = {ct: {"schema": schema}}
    return r
obj = {"type": "object"}
tensor_in = {"type": "object", "required": ["name", "shape", "datatype"], "properties": {
    "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    "datatype": {"type": "string", "enum": ["FP32", "FP64"]},
    "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer", "minimum": 0}}},
    "data": {"type": "array", "items": {}}}}
infer_req = {"type": "object", "required": ["inputs"], "properties": {
    "id": {"type": "string"}, "parameters": {"type": "object", "properties": {
        "binary_data_output": {"type": "boolean"}, "normalized": {"type": "boolean"}}},
    "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": tensor_in},
    "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"},
        "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}}}}}}}
infer_resp = {"type": "object", "required": ["model_name", "outputs"], "properties": {
    "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
    "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"},
        "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
        "data": {"type": "array", "items": {"type": "number"}}}}}}}
meta = {"type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"], "properties": {
    "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
    "platform": {"type": "string"}, "inputs": {"type": "array", "items": obj}, "outputs": {"type": "array", "items": obj},
    "parameters": obj}}
name_p = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
ver_p = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
model_q = {"name": "model", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "model name (default: the first loaded model)"}
flags = [{"name": n, "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1", "true", "false"]}}
         for n in ("all_steps", "normalized")]
config = {"type": "object", "required": ["name", "max_batch_size", "input", "output"], "properties": {
    "name": {"type": "string"}, "platform": {"type": "string"}, "backend": {"type": "string"},
    "max_batch_size": {"type": "integer"}, "input": {"type": "array", "items": obj}, "output": {"type": "array", "items": obj},
    "dynamic_batching": obj, "instance_group": {"type": "array", "items": obj}, "parameters": obj}}
stats = {"type": "object", "required": ["model_stats"], "properties": {"model_stats": {"type": "array", "items": {
    "type": "object", "required": ["name", "version", "inference_count", "execution_count", "inference_stats"],
    "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "last_inference": {"type": "integer"},
                   "inference_count": {"type": "integer"}, "execution_count": {"type": "integer"},
                   "inference_stats": obj, "batch_stats": {"type": "array", "items": obj}}}}}}
def get(summary, r200, params=None, extra=None):
    op = {"summary": summary, "responses": {"200": r200, **(extra or {})}}
    if params: op["parameters"] = params
    return {"get": op}
def infer_op(params):
    return {"post": {"summary": "Run inference (JSON tensors, or the binary tensor extension with Inference-Header-Content-Length)",
                     "parameters": params, "requestBody": {"required": True, "content": {
                         "application/json": {"schema": infer_req},
                         "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                     "responses": {"200": resp("outputs", infer_resp), "400": err, "404": err, "413": err, "503": err}}}
paths = {
    "/v2": get("Server metadata", resp("name, version, extensions", obj)),
    "/v2/health/live": get("Liveness", resp("live", obj)),
    "/v2/health/ready": get("Readiness (a model is loaded and the server is not draining)", resp("ready", obj), extra={"503": err}),
    "/v2/models/{model}": get("Model metadata", resp("metadata", meta), [name_p], {"404": err}),
    "/v2/models/{model}/versions/{version}": get("Model metadata of a version", resp("metadata", meta), [name_p, ver_p], {"404": err}),
    "/v2/models/{model}/ready": get("Model readiness", resp("ready", obj), [name_p], {"404": err}),
    "/v2/models/{model}/versions/{version}/ready": get("Model version readiness", resp("ready", obj), [name_p, ver_p], {"404": err}),
    "/v2/models/{model}/config": get("Model configuration (Triton model config JSON)", resp("config", config), [name_p], {"404": err}),
    "/v2/models/{model}/versions/{version}/config": get("Model configuration of a version", resp("config", config), [name_p, ver_p], {"404": err}),
    "/v2/models/stats": get("Inference statistics of every loaded model", resp("statistics", stats)),
    "/v2/models/{model}/stats": get("Inference statistics of a model", resp("statistics", stats), [name_p], {"404": err}),
    "/v2/models/{model}/versions/{version}/stats": get("Inference statistics of a model version", resp("statistics", stats), [name_p, ver_p], {"404": err}),
    "/v2/models/{model}/infer": infer_op([name_p]),
    "/v2/models/{model}/versions/{version}/infer": infer_op([name_p, ver_p]),
    "/v2/repository/index": {"post": {"summary": "List models and their state",
        "responses": {"200": resp("models", {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "version": {"type": "string"}, "state": {"type": "string"}}}})}}},
    "/v2/repository/models/{model}/load": {"post": {"summary": "Load or hot-swap a model (bearer token)",
        "security": [{"bearer": []}], "parameters": [name_p],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}}}},
        "responses": {"200": resp("loaded"), "400": err, "401": err, "403": err, "404": err}}},
    "/v2/repository/models/{model}/unload": {"post": {"summary": "Unload a model (bearer token)",
        "security": [{"bearer": []}], "parameters": [name_p],
        "responses": {"200": resp("unloaded"), "401": err, "403": err, "404": err}}},
    "/predict": {"post": {"summary": "Predict from JSON {\"x\": [B,T,F]} of raw features -> {\"y\": [B]}",
        "parameters": [model_q] + flags,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "required": ["x"],
            "properties": {"x": {"type": "array", "items": {}}, "normalized": {"type": "boolean"}}}}}},
        "responses": {"200": resp("predictions", {"type": "object", "properties": {"model": {"type": "string"},
            "y": {"type": "array", "items": {}}}}), "400": err, "404": err, "413": err, "503": err}}},
    "/predict_np": {"post": {"summary": "Predict from an .npy body (float32/float64, C order); NPY or JSON out by Accept",
        "parameters": [model_q] + flags,
        "requestBody": {"required": True, "content": {"application/x-npy": {"schema": {"type": "string", "format": "binary"}},
                                                      "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": {"description": "predictions", "content": {
            "application/json": {"schema": obj}, "application/x-npy": {"schema": {"type": "string", "format": "binary"}}}},
            "400": err, "404": err, "413": err, "503": err}}},
    "/v1/streams/{symbol}/ticks": {"post": {"summary": "Feed ticks (feature rows or raw trades) to a symbol's stream; returns the newest forecast",
        "parameters": [{"name": "symbol", "in": "path", "required": True, "schema": {"type": "string"}}, model_q],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "features": {"type": "array", "items": {}}, "normalized": {"type": "boolean"},
            "trades": {"type": "array", "items": {"type": "object", "required": ["t", "price", "size"], "properties": {
                "t": {"type": "integer", "minimum": 0}, "price": {"type": "number"}, "size": {"type": "number"},
                "orders": {"type": "integer", "minimum": 0}}}}}}}}},
        "responses": {"200": resp("forecast", {"type": "object", "properties": {"symbol": {"type": "string"},
            "model": {"type": "string"}, "t": {"type": "integer", "nullable": True},
            "y_log": {"type": "number", "nullable": True}, "rv": {"type": "number", "nullable": True}, "decoded": {"type": "integer"}, "positions": {"type": "integer"}}}),
            "400": err, "404": err, "503": err}}},
    "/v1/ticks": {"post": {"summary": "One feature row for each of many symbols' streams in one request; a forecast per symbol",
        "parameters": [model_q],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object",
            "required": ["symbols", "features"], "properties": {
            "symbols": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1, "maxLength": 63,
                                                                  "pattern": "^[!-.0-~]+$"}},
            "features": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "normalized": {"type": "boolean"}}}}}},
        "responses": {"200": resp("a forecast (or an error) per symbol", {"type": "object", "properties": {
            "model": {"type": "string"}, "errors": {"type": "integer"},
            "forecasts": {"type": "array", "items": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "t": {"type": "integer"}, "y_log": {"type": "number"},
                "rv": {"type": "number"}, "positions": {"type": "integer"}, "error": {"type": "string"}}}}}}),
            "400": err, "404": err}}},
    "/v1/streams/{symbol}": {"delete": {"summary": "Close a symbol's stream",
        "parameters": [{"name": "symbol", "in": "path", "required": True, "schema": {"type": "string"}}, model_q],
        "responses": {"200": resp("closed", obj), "400": err, "404": err}}},
    "/metrics": get("Prometheus metrics", resp("text format 0.0.4", {"type": "string"}, "text/plain")),
    "/openapi.json": get("This document", resp("OpenAPI 3.0", obj)),
}
doc = {"openapi": "3.0.3", "info": {"title": "tickinfer serve", "version": "0.1.0",
       "description": "Open Inference Protocol v2 (REST) plus simple JSON / NPY endpoints. See docs/serving.md."},
       "paths": paths,
       "components": {"responses": {"Error": {"description": "error", "content": {"application/json": {"schema": {
           "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}},
           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
text = json.dumps(doc, separators=(",", ":"), sort_keys=False)
open("docs/openapi.json", "w").write(json.dumps(doc, indent=2) + "\n")
# C string literal, split into lines of ~100 chars
chunks = [text[i:i+100] for i in range(0, len(text), 100)]
lit = "\n".join('    "' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
open("src/serve/openapi.c", "w").write(
"""/* The OpenAPI 3.0 document served at /openapi.json (docs/openapi.json is the same, pretty
 * printed; tests/serve/test_serve_http.c checks the served one parses and lists every
 * route).  Generated by tests/py/serve_gen_openapi.py: edit that, not this. */
#include "serve/serve_internal.h"

static const char k_openapi[] =
""" + lit + """;

const char *ti_openapi_json(void) { return k_openapi; }
""")

