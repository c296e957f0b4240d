"""Exports are written whole or not at all."""

import pytest

from ft_jupyter.export.folder import read_json, staged, write_json


def test_a_failed_build_leaves_the_previous_artefact_and_no_staging(tmp_path):
    target = tmp_path / "merged-float16"
    with staged(target) as tmp:
        tmp.mkdir()
        (tmp / "weights").write_text("v1")
    assert (target / "weights").read_text() == "v1"
    with pytest.raises(RuntimeError, match="disk full"), staged(target) as tmp:
        tmp.mkdir()
        (tmp / "weights").write_text("half of v2")
        raise RuntimeError("disk full")
    assert (target / "weights").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["merged-float16"]


def test_a_successful_build_replaces_a_folder_and_a_file(tmp_path):
    target = tmp_path / "out"
    for version in ("v1", "v2"):
        with staged(target) as tmp:
            tmp.mkdir()
            (tmp / "weights").write_text(version)
    assert (target / "weights").read_text() == "v2"
    write_json(tmp_path / "report.json", {"ok": True})
    write_json(tmp_path / "report.json", {"ok": False})
    assert read_json(tmp_path / "report.json") == {"ok": False}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "report.json"]


def test_a_block_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="nothing was written"), staged(tmp_path / "x"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_export_status_keeps_the_request_across_progress_messages_and_reads_a_dead_export_as_failed(tmp_path):
    from ft_jupyter.export.folder import export_status, set_export_status

    set_export_status(tmp_path, "running", "merging", request={"gguf": ["q8_0"]}, ok=True)
    set_export_status(tmp_path, "running", "scoring 4bit on the test split")
    status = export_status(tmp_path)
    assert status["message"] == "scoring 4bit on the test split" and status["request"] == {"gguf": ["q8_0"]}
    assert "ok" not in status
    set_export_status(tmp_path, "running", "writing", pid=2**22 + 12345)  # no such process
    assert export_status(tmp_path)["state"] == "failed"
