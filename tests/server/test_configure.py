"""Configure endpoints: schema from the dataclasses, offline catalogue, estimate, and the notebook cell / YAML render
(values written with repr, so no model name can inject code)."""

from __future__ import annotations

import ast
import json

import jsonschema
import pytest
import tornado.httpclient

from ft_jupyter.config import RunConfig, preset
from ft_jupyter.config.jsonschema import run_config_schema
from ft_jupyter.server.configure import TRAIN_LINES

INJECTIONS = [
    "x'); import os; os.system('touch PWNED') #",
    'x"); open("PWNED", "w") #',
    "tiny\nimport os\nos.system('touch PWNED')",
    "'''\nopen('PWNED', 'w')\n'''",
    "\\'); open('PWNED', 'w') #",
    "{__import__('os').system('touch PWNED')}",
]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ft_jupyter": True}}}


async def _post(jp_fetch, path: str, payload) -> dict:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    # The first estimate imports transformers, which takes seconds more than the client's default patience.
    response = await jp_fetch("ft-jupyter", path, method="POST", body=body, request_timeout=180)
    return json.loads(response.body)


async def _error(jp_fetch, path: str, payload) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await _post(jp_fetch, path, payload)
    return caught.value.code, json.loads(caught.value.response.body)["message"]


async def test_schema_is_generated_from_the_config(jp_fetch):
    from ft_jupyter.models.suggestions import form_suggestions

    response = await jp_fetch("ft-jupyter", "schema")
    schema = json.loads(response.body)
    assert schema == run_config_schema(form_suggestions())
    jsonschema.Draft202012Validator(schema).validate(RunConfig().to_dict())


async def test_schema_carries_the_form_rules_presets_and_model_suggestions(jp_fetch):
    schema = json.loads((await jp_fetch("ft-jupyter", "schema")).body)
    names = [s["value"] for s in schema["properties"]["model"]["properties"]["name"]["x-ft-suggestions"]]
    assert names[:2] == ["smollm2-135m-instruct", "tiny-random"]  # the catalogue first: they work offline
    assert {"Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.2-1B-Instruct"} <= set(names)
    datasets = schema["properties"]["data"]["properties"]["dataset"]["x-ft-suggestions"]
    assert "support-emails" in [s["value"] for s in datasets]
    assert {"cpu-quickstart", "qlora-t4"} <= {p["name"] for p in schema["x-ft-presets"]}
    assert "lora-8bit" in [m["key"] for m in schema["x-ft-methods"]] and schema["x-ft-couplings"]


async def test_catalogue_lists_offline_models_and_known_shapes(jp_fetch):
    body = json.loads((await jp_fetch("ft-jupyter", "catalogue")).body)
    offline = {model["name"]: model for model in body["offline"]}
    assert {"smollm2-135m-instruct", "tiny-random"} <= set(offline)
    assert offline["smollm2-135m-instruct"]["license"] == "apache-2.0"
    shapes = {shape["name"]: shape for shape in body["shapes"]}
    assert shapes["Qwen/Qwen2.5-0.5B-Instruct"]["params"] == 494_032_768
    assert all(shape["license"] and shape["layers"] for shape in body["shapes"])


def _executed(code: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "<sidebar cell>", "exec"), namespace)  # noqa: S102  (the point: run what the cell would run)
    assert not (tmp_path / "PWNED").exists()
    return namespace


@pytest.mark.parametrize("model", INJECTIONS)
async def test_render_cannot_be_injected_through_a_model_name(jp_fetch, tmp_path, monkeypatch, model):
    sent = RunConfig().to_dict()
    sent["model"]["name"] = model
    sent["data"]["system_prompt"] = model
    body = await _post(jp_fetch, "render", {"config": sent})
    statements = ast.parse(body["code"]).body
    assert [type(s).__name__ for s in statements] == ["ImportFrom", "Assign"]
    namespace = _executed(body["code"], tmp_path, monkeypatch)
    assert namespace["config"] == RunConfig.from_dict(sent)
    assert RunConfig.from_yaml(body["yaml"]) == RunConfig.from_dict(sent)


async def test_render_with_training_appends_the_train_lines(jp_fetch):
    body = await _post(jp_fetch, "render", {"config": preset("tiny-smoke").to_dict(), "train": True})
    assert body["code"].endswith(TRAIN_LINES)
    assert "run = ui.train(config)" in body["code"]
    plain = await _post(jp_fetch, "render", {"config": preset("tiny-smoke").to_dict()})
    assert "ui.train" not in plain["code"]


@pytest.mark.parametrize(("notebook", "runs_dir"), [("Untitled.ipynb", "runs"), ("a/b/n.ipynb", "../../runs")])
async def test_render_points_runs_dir_at_the_watched_root(jp_fetch, jp_root_dir, notebook, runs_dir):
    (jp_root_dir / "a" / "b").mkdir(parents=True)
    sent = RunConfig(runs_dir="somewhere-else").to_dict()
    body = await _post(jp_fetch, "render", {"config": sent, "notebook": notebook})
    assert body["runs_dir"] == runs_dir
    assert f"runs_dir={runs_dir!r}" in body["code"]
    assert RunConfig.from_yaml(body["yaml"]).runs_dir == "somewhere-else"  # Copy YAML keeps what was set


@pytest.mark.parametrize("notebook", ["../x.ipynb", "/etc/x.ipynb", "a/../../x.ipynb", "C:\\x.ipynb", 3])
async def test_render_refuses_notebook_paths_outside_root(jp_fetch, notebook):
    code, message = await _error(jp_fetch, "render", {"config": {}, "notebook": notebook})
    assert code == 400
    assert "notebook" in message


@pytest.mark.parametrize("path", ["render", "estimate"])
@pytest.mark.parametrize("payload", ["not json", "", "[1]", '{"config": 3}', '{"config": [1]}'])
async def test_malformed_bodies_are_400_with_a_message(jp_fetch, path, payload):
    code, message = await _error(jp_fetch, path, payload)
    assert code == 400
    assert "JSON" in message or "config" in message


@pytest.mark.parametrize("path", ["render", "estimate"])
async def test_config_errors_are_400_naming_the_field(jp_fetch, path):
    sent = RunConfig().to_dict()
    sent["method"]["r"] = 0
    code, message = await _error(jp_fetch, path, {"config": sent})
    assert code == 400
    assert "method.r" in message
    sent = RunConfig().to_dict()
    sent["method"]["method"] = "qlora"
    code, message = await _error(jp_fetch, path, {"config": sent})
    assert code == 400
    assert "4bit" in message
    code, message = await _error(jp_fetch, path, {"config": {"methd": {}}})
    assert "Did you mean 'method'" in message


async def test_estimate_grows_with_the_lora_rank(jp_fetch):
    config = RunConfig.from_dict({"model": {"name": "smollm2-135m-instruct"}, "method": {"r": 8}})
    small = await _post(jp_fetch, "estimate", {"config": config.to_dict()})
    large = await _post(jp_fetch, "estimate", {"config": config.with_overrides({"method.r": 64}).to_dict()})
    assert large["params_trainable"] == 8 * small["params_trainable"]
    # The total counts the adapters too: it grows by exactly what the larger rank adds.
    added = large["params_trainable"] - small["params_trainable"]
    assert large["params_total"] - small["params_total"] == added > 0
    assert small["params_total"] > 100_000_000
    assert 0 < small["trainable_percent"] < large["trainable_percent"] < 100
    assert large["memory"]["total_bytes"] > small["memory"]["total_bytes"]
    assert {"name", "memory_gib", "fits", "headroom_gib"} <= set(small["gpu_fit"][0])
    assert sum(term["bytes"] for term in small["memory"]["terms"]) == small["memory"]["total_bytes"]


async def test_estimate_per_gpu_when_split_with_a_forecast(jp_fetch):
    config = RunConfig.from_dict(
        {
            "model": {"name": "tiny-random"},
            "data": {"dataset": "support-emails", "max_rows": 60},
            "training": {"max_steps": 10, "batch_size": 4, "max_seq_len": 96},
        }
    ).to_dict()
    single = await _post(jp_fetch, "estimate", {"config": config})
    assert single["sharding"] is None
    assert single["forecast"]["steps"] == 10 and single["forecast"]["gpus"] == 1 and single["forecast_error"] is None
    assert single["forecast"]["gpu"] == "T4"  # the smallest listed GPU a tiny model fits
    split = await _post(jp_fetch, "estimate", {"config": config, "gpus": 4, "strategy": "zero3", "offload": True})
    assert split["sharding"]["gpus"] == 4 and split["sharding"]["strategy"] == "zero3"
    assert split["memory"]["total_bytes"] == split["sharding"]["per_gpu_total_bytes"]
    assert split["sharding"]["single_gpu_total_bytes"] == single["memory"]["total_bytes"]
    # A tiny model gains nothing from ZeRO-3: DeepSpeed's default reduce bucket alone outweighs it.
    assert {"name": "comm buffers", "bytes": 10**9} in [
        {k: t[k] for k in ("name", "bytes")} for t in split["memory"]["terms"]
    ]
    assert split["sharding"]["cpu_bytes_per_process"] > 0 and split["forecast"]["gpus"] == 4


@pytest.mark.parametrize(
    "extra, word",
    [
        ({"strategy": "zero9"}, "strategy"),
        ({"gpus": 0}, "gpus"),
        ({"gpus": "4"}, "gpus"),
        ({"offload": True}, "offload"),
    ],
)
async def test_bad_split_fields_are_400_naming_them(jp_fetch, extra, word):
    code, message = await _error(jp_fetch, "estimate", {"config": RunConfig().to_dict(), **extra})
    assert code == 400 and word in message


async def test_no_data_here_gives_an_estimate_without_a_forecast(jp_fetch, tmp_path):
    config = RunConfig.from_dict(
        {"model": {"name": "tiny-random"}, "data": {"dataset": str(tmp_path / "missing.jsonl")}}
    ).to_dict()
    reply = await _post(jp_fetch, "estimate", {"config": config})
    assert reply["params_trainable"] > 0 and reply["forecast"] is None
    assert "missing.jsonl" in reply["forecast_error"]
