"""REST handlers of the server extension, against a real jupyter_server with the extension loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tornado.httpclient

import ft_jupyter
from ft_jupyter import lessons

# Every route of the extension (run routes with an id that need not exist: authentication comes first).
ENDPOINTS = [
    ("GET", "version", None),
    ("GET", "lessons", None),
    ("POST", "lessons/copy", "{}"),
    ("GET", "schema", None),
    ("GET", "catalogue", None),
    ("POST", "estimate", "{}"),
    ("POST", "render", "{}"),
    ("GET", "runs", None),
    ("GET", "runs/some-run", None),
    ("GET", "runs/some-run/events", None),
    ("POST", "runs/some-run/stop", ""),
    ("GET", "runs/some-run/export", None),
    ("POST", "runs/some-run/export", "{}"),
    ("GET", "leaderboard", None),
]


def test_endpoints_cover_every_route():
    from ft_jupyter.server.handlers import route_handlers

    routes = {pattern.removeprefix("/ft-jupyter/") for pattern, _ in route_handlers("/")}
    assert routes == {path.replace("some-run", "([^/]+)") for _, path, _ in ENDPOINTS}


def _notebook(*cells: tuple[str, str]) -> str:
    return json.dumps(
        {
            "cells": [{"cell_type": kind, "metadata": {}, "source": text} for kind, text in cells],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ft_jupyter": True}}}


@pytest.fixture
def lesson_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "packaged_lessons"
    folder.mkdir()
    (folder / "00_quickstart.ipynb").write_text(_notebook(("markdown", "# Quick start\nHello")))
    (folder / "01_lora_basics.ipynb").write_text(_notebook(("code", "print(1)")))
    monkeypatch.setattr(lessons, "lessons_dir", lambda: folder)
    return folder


async def _fetch_json(jp_fetch, path: str, **kwargs):
    response = await jp_fetch("ft-jupyter", *path.split("/"), **kwargs)
    return response.code, json.loads(response.body)


async def _error(jp_fetch, path: str, **kwargs) -> tuple[int, dict]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("ft-jupyter", *path.split("/"), **kwargs)
    return caught.value.code, json.loads(caught.value.response.body)


async def test_version(jp_fetch):
    code, body = await _fetch_json(jp_fetch, "version")
    assert code == 200
    assert body == {"version": ft_jupyter.__version__, "frontend_expected": ft_jupyter.__version__}


async def test_lessons_lists_packaged_notebooks_with_titles(jp_fetch, lesson_folder):
    code, body = await _fetch_json(jp_fetch, "lessons")
    assert code == 200
    assert body == [
        {"file": "00_quickstart.ipynb", "number": 0, "title": "Quick start", "in_root": None},
        {"file": "01_lora_basics.ipynb", "number": 1, "title": "Lora basics", "in_root": None},
    ]


async def test_lessons_reports_copies_in_root_and_notebooks_folder(jp_fetch, lesson_folder, jp_root_dir):
    (jp_root_dir / "00_quickstart.ipynb").write_text(_notebook())
    (jp_root_dir / "notebooks").mkdir()
    (jp_root_dir / "notebooks" / "01_lora_basics.ipynb").write_text(_notebook())
    _, body = await _fetch_json(jp_fetch, "lessons")
    assert [lesson["in_root"] for lesson in body] == ["00_quickstart.ipynb", "notebooks/01_lora_basics.ipynb"]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_every_endpoint_refuses_requests_without_token(jp_fetch, lesson_folder, method, path, body):
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("ft-jupyter", *path.split("/"), method=method, body=body, headers={"Authorization": ""})
    assert caught.value.code == 403


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_every_endpoint_refuses_a_wrong_token(jp_fetch, lesson_folder, method, path, body):
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch(
            "ft-jupyter", *path.split("/"), method=method, body=body, headers={"Authorization": "token wrong"}
        )
    assert caught.value.code == 403


async def test_copy_writes_lesson_into_root(jp_fetch, lesson_folder, jp_root_dir):
    request = {"method": "POST", "body": json.dumps({"file": "00_quickstart.ipynb"})}
    code, body = await _fetch_json(jp_fetch, "lessons/copy", **request)
    assert code == 201
    assert body == {"path": "00_quickstart.ipynb"}
    copied = jp_root_dir / "00_quickstart.ipynb"
    assert copied.read_text() == (lesson_folder / "00_quickstart.ipynb").read_text()
    _, listed = await _fetch_json(jp_fetch, "lessons")
    assert listed[0]["in_root"] == "00_quickstart.ipynb"


async def test_copy_never_overwrites(jp_fetch, lesson_folder, jp_root_dir):
    mine = jp_root_dir / "00_quickstart.ipynb"
    mine.write_text("my edited notebook")
    (jp_root_dir / "00_quickstart-copy1.ipynb").write_text("an earlier copy")
    request = {"method": "POST", "body": json.dumps({"file": "00_quickstart.ipynb"})}
    _, body = await _fetch_json(jp_fetch, "lessons/copy", **request)
    assert body == {"path": "00_quickstart-copy2.ipynb"}
    _, again = await _fetch_json(jp_fetch, "lessons/copy", **request)
    assert again == {"path": "00_quickstart-copy3.ipynb"}
    assert mine.read_text() == "my edited notebook"
    assert (jp_root_dir / "00_quickstart-copy1.ipynb").read_text() == "an earlier copy"
    assert json.loads((jp_root_dir / "00_quickstart-copy2.ipynb").read_text())["cells"][0]["source"].startswith("#")


async def test_copy_unknown_lesson_is_404(jp_fetch, lesson_folder, jp_root_dir):
    code, body = await _error(jp_fetch, "lessons/copy", method="POST", body=json.dumps({"file": "99_nope.ipynb"}))
    assert code == 404
    assert "99_nope.ipynb" in body["message"]
    assert list(jp_root_dir.iterdir()) == []


@pytest.mark.parametrize("body", ["not json", "", "[1, 2]", '{"file": 3}', '{"name": "00_quickstart.ipynb"}'])
async def test_copy_malformed_body_is_400(jp_fetch, lesson_folder, body):
    code, reply = await _error(jp_fetch, "lessons/copy", method="POST", body=body)
    assert code == 400
    assert reply["message"]


@pytest.mark.parametrize(
    "name",
    ["../00_quickstart.ipynb", "sub/00_quickstart.ipynb", "/etc/passwd", "..", "C:\\x.ipynb", "a\\..\\b.ipynb"],
)
async def test_copy_rejects_paths(jp_fetch, lesson_folder, jp_root_dir, name):
    code, reply = await _error(jp_fetch, "lessons/copy", method="POST", body=json.dumps({"file": name}))
    assert code == 400
    assert "file name" in reply["message"]
    assert list(jp_root_dir.iterdir()) == []


async def test_missing_lessons_folder_is_a_clear_server_error(jp_fetch, monkeypatch, tmp_path):
    def missing():
        raise FileNotFoundError(f"No lesson notebooks found in {tmp_path / 'nowhere'}")

    monkeypatch.setattr(lessons, "lessons_dir", missing)
    code, reply = await _error(jp_fetch, "lessons")
    assert code == 500
    assert "No lesson notebooks found" in reply["message"]
