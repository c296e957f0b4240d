"""`eject`: the run config as a plain TRL project. No training here: the script is read, parsed and partly executed."""

import ast
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml

from ft_jupyter.config import ConfigError, DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.train.eject import eject, extras_not_included

ODD = 'Say "hi", then \'bye\'\n"""and a backslash \\ at the end\\'


def tiny(tmp_path, **changes) -> RunConfig:
    config = RunConfig(
        name="tiny",
        runs_dir=str(tmp_path / "runs"),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=120),
        training=TrainingConfig(max_steps=10, batch_size=8, learning_rate=5e-3, max_seq_len=96, seed=7),
    )
    return config.with_overrides(changes) if changes else config


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eject")
    return eject(tiny(tmp), tmp / "plain").folder


def calls(source: str) -> set[str]:
    return {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
    }


def run_assignment(source: str, target: str, namespace: dict):
    """Execute the script's one `target = ...` statement in `namespace` and return the value."""
    (statement,) = [
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == target for t in n.targets)
    ]
    exec(compile(ast.Module([statement], []), "train.py", "exec"), namespace)
    return namespace[target]


def init_fields(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}


def unused_imports(source: str) -> set[str]:
    tree = ast.parse(source)
    imported = {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return imported - used


def test_a_plain_lora_script_is_python_with_lora_and_no_quantization(folder):
    script = (folder / "train.py").read_text()
    compile(script, "train.py", "exec")
    assert unused_imports(script) == set()
    used = calls(script)
    assert {"LoraConfig", "SFTConfig", "SFTTrainer", "load_dataset", "get_peft_model", "save_model"} <= used
    assert "BitsAndBytesConfig" not in script and "prepare_model_for_kbit_training" not in script
    assert "ft_jupyter" not in script.replace("ft-jupyter", "")  # nothing imported from the kit
    assert "destroy_process_group" in used and "barrier" in used


def test_the_script_builds_the_very_sft_and_lora_configs_the_kit_builds(folder, tmp_path):
    import torch
    from trl import SFTConfig

    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.translate import Precision, peft_config, sft_config, total_steps

    config = tiny(tmp_path)
    script = (folder / "train.py").read_text()
    from peft import LoraConfig

    namespace = {
        "SFTConfig": SFTConfig,
        "LoraConfig": LoraConfig,
        "OUTPUT_DIR": tmp_path / "out",
        "PRECISION": "fp32",
        "DEVICE": "cpu",
        "DTYPE": torch.float32,
        "torch": torch,
    }
    ours = run_assignment(script, "args", namespace)
    data = prepare(config.data, seed=config.training.seed)
    kit = sft_config(
        config,
        Precision("fp32", "cpu", ""),
        tmp_path / "out",
        total_steps(config, len(data.train)),
        has_eval=bool(data.validation),
    )
    assert init_fields(ours) == init_fields(kit)
    assert run_assignment(script, "lora_config", namespace) == peft_config(config)


def test_packing_is_written_only_when_on_and_an_epoch_counts_packed_sequences(folder, tmp_path):
    import torch
    from trl import SFTConfig

    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.loading import load_tokenizer
    from ft_jupyter.train.translate import packed_rows, total_steps

    assert "packing" not in (folder / "train.py").read_text()
    config = tiny(tmp_path, **{"training.packing": True, "training.max_steps": -1, "training.max_seq_len": 512})
    script = (eject(config, tmp_path / "packed").folder / "train.py").read_text()
    ours = run_assignment(
        script,
        "args",
        {
            "SFTConfig": SFTConfig,
            "OUTPUT_DIR": tmp_path / "out",
            "PRECISION": "fp32",
            "DEVICE": "cpu",
            "DTYPE": torch.float32,
            "torch": torch,
        },
    )
    assert (ours.packing, ours.packing_strategy, ours.eval_packing) == (True, "bfd", False)
    # One epoch of the rows packed as TRL will pack them in that script, not one epoch of separate rows.
    data = prepare(config.data, seed=config.training.seed)
    lengths = preflight(data, load_tokenizer(config.model), config).train_lengths
    assert len(lengths) == len(data.train)
    assert ours.max_steps == total_steps(config, packed_rows(lengths, 512)) < total_steps(config, len(data.train)) / 2


def test_quantization_appears_only_for_a_quantized_base_and_matches_the_kit(tmp_path):
    pytest.importorskip("bitsandbytes")
    import torch

    from ft_jupyter.train.translate import Precision, bnb_config

    config = tiny(tmp_path, **{"method.method": "qlora", "quantization.mode": "4bit"})
    script = (eject(config, tmp_path / "q").folder / "train.py").read_text()
    compile(script, "train.py", "exec")
    assert {"BitsAndBytesConfig", "LoraConfig", "prepare_model_for_kbit_training"} <= calls(script)
    from transformers import BitsAndBytesConfig

    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):  # compute dtype follows run time
        ours = run_assignment(
            script, "quantization_config", {"BitsAndBytesConfig": BitsAndBytesConfig, "DTYPE": dtype, "torch": torch}
        )
        assert ours.to_dict() == bnb_config(config, Precision(precision, "cpu", "")).to_dict()

    assert unused_imports(script) == set()
    full = tiny(tmp_path, **{"method.method": "full"})
    script = (eject(full, tmp_path / "full").folder / "train.py").read_text()
    compile(script, "train.py", "exec")
    assert unused_imports(script) == set()
    assert "LoraConfig" not in script and "BitsAndBytesConfig" not in script and "SFTConfig" in calls(script)


def test_quotes_newlines_and_backslashes_in_config_text_stay_data(tmp_path):
    # A model folder whose name would break a pasted string, and a system prompt that would end a docstring.
    from ft_jupyter.models.catalogue import resolve

    odd_model = tmp_path / "my \"odd\" 'model'\nfolder"
    shutil.copytree(resolve("tiny-random"), odd_model)
    config = tiny(tmp_path)
    config = config.replace(
        model=ModelConfig(name=str(odd_model)), data=dataclasses.replace(config.data, system_prompt=ODD)
    )
    folder = eject(config, tmp_path / "odd").folder
    script = (folder / "train.py").read_text()
    compile(script, "train.py", "exec")
    assert run_assignment(script, "MODEL", {}) == str(odd_model.resolve())
    assert "backslash" not in script  # the prompt travels in the data file, never in the code
    rows = [json.loads(line) for line in (folder / "data" / "train.jsonl").read_text().splitlines()]
    assert rows and all(row["messages"][0] == {"role": "system", "content": ODD} for row in rows)


def test_the_data_files_hold_exactly_the_rows_the_kit_trains_and_validates_on(folder, tmp_path):
    from ft_jupyter.data.prepare import prepare

    config = tiny(tmp_path)
    data = prepare(config.data, seed=config.training.seed)
    for split, examples in (("train", data.train), ("validation", data.validation)):
        rows = [json.loads(line)["messages"] for line in (folder / "data" / f"{split}.jsonl").read_text().splitlines()]
        assert rows == [list(e.messages) for e in examples]


def test_extras_are_listed_where_the_config_uses_them_and_only_then(tmp_path):
    assert extras_not_included(tiny(tmp_path)) == []
    config = tiny(
        tmp_path,
        **{
            "training.l2_to_init": 0.1,
            "data.mix_fraction": 0.1,
            "training.layer_lr_decay": 0.9,
            "training.unfreeze_every_steps": 5,
        },
    )
    extras = extras_not_included(config)
    for field in (
        "training.l2_to_init",
        "data.mix_fraction",
        "training.layer_lr_decay",
        "training.unfreeze_every_steps",
    ):
        assert sum(line.startswith(field) for line in extras) == 1, field
    result = eject(config, tmp_path / "extras")
    assert result.extras_not_included == extras
    script = (result.folder / "train.py").read_text()
    readme = (result.folder / "README.md").read_text()
    assert "# - training.l2_to_init = 0.1" in script and "- data.mix_fraction = 0.1" in readme


def test_a_non_empty_folder_is_refused_and_only_an_earlier_eject_is_overwritten(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty.*--overwrite"):
        eject(tiny(tmp_path), target)
    with pytest.raises(ConfigError, match="no earlier eject"):  # overwrite never deletes someone's own folder
        eject(tiny(tmp_path), target, overwrite=True)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]

    earlier = tmp_path / "earlier"
    eject(tiny(tmp_path), earlier)
    (earlier / "notes.txt").write_text("left from before")
    with pytest.raises(ConfigError, match="not empty"):
        eject(tiny(tmp_path), earlier)
    result = eject(tiny(tmp_path, **{"training.max_steps": 3}), earlier, overwrite=True)
    assert not (earlier / "notes.txt").exists() and "max_steps=3," in (earlier / "train.py").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "taken"]  # no staging folder left behind
    assert all(path.is_file() for path in result.files)


def test_a_config_that_cannot_run_writes_nothing(tmp_path):
    config = tiny(tmp_path, **{"data.dataset": str(tmp_path / "missing.jsonl")})
    with pytest.raises(ConfigError, match="missing.jsonl"):
        eject(config, tmp_path / "never")
    assert list(tmp_path.iterdir()) == []


def test_the_accelerate_configs_parse_and_ddp_is_the_one_that_works_on_cpu(folder):
    import torch
    from accelerate.commands.config.config_args import ClusterConfig

    configs = {
        name: ClusterConfig.from_yaml_file(folder / f"accelerate_{name}.yaml")
        for name in ("ddp", "zero2", "zero3", "fsdp")
    }
    ddp = configs["ddp"]
    assert ddp.distributed_type.value == "MULTI_GPU"  # MULTI_CPU would start one process
    assert ddp.use_cpu is (not torch.cuda.is_available())
    assert ddp.num_processes == (torch.cuda.device_count() if torch.cuda.is_available() else 2)
    for stage in (2, 3):
        zero = configs[f"zero{stage}"]
        assert zero.distributed_type.value == "DEEPSPEED"
        ds = json.loads((folder / zero.deepspeed_config["deepspeed_config_file"]).read_text())
        assert ds["zero_optimization"]["stage"] == stage
        assert zero.deepspeed_config["zero3_init_flag"] is (stage == 3)
    fsdp = configs["fsdp"].fsdp_config
    assert configs["fsdp"].distributed_type.value == "FSDP" and fsdp["fsdp_version"] == 2
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"  # tiny-random is a Llama
    assert yaml.safe_load((folder / "run_config.yaml").read_text())["model"]["name"] == "tiny-random"


def test_the_cli_writes_the_project_and_prints_files_and_extras(tmp_path, capsys):
    from ft_jupyter.cli import main

    config_file = tiny(tmp_path, **{"training.l2_to_init": 0.05}).save(tmp_path / "run.yaml")
    out = tmp_path / "cli"
    assert main(["eject", str(config_file), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "train.py" in printed and "accelerate_ddp.yaml" in printed and "training.l2_to_init = 0.05" in printed
    assert main(["eject", str(config_file), "-o", str(out)]) == 2  # not empty now
    assert "--overwrite" in capsys.readouterr().err
    assert main(["eject", "no-such-preset", "-o", str(tmp_path / "x")]) == 2
    assert "preset" in capsys.readouterr().err
    assert Path(out / "train.py").is_file()
