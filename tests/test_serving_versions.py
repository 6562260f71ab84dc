"""Version discovery: a version copied in by hand is retried until it loads, and its failure
shows in the model status meanwhile, as TF Serving reports it."""

import http.client
import json
import os
import shutil
import time

import pytest
from helpers import served_copy

from tfinpaint.serving import versions
from tfinpaint.serving.server import InpaintServer
from tfinpaint.serving.versions import ModelSource

NAME = "versions"


@pytest.fixture()
def base_path(paper2_saved_model, tmp_path):
    """The shared tiny export as version 1 of a base path each test adds versions to."""
    return served_copy(paper2_saved_model, tmp_path / NAME)


def status(server, suffix=""):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=60)
    try:
        connection.request("GET", f"/v1/models/{NAME}{suffix}")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_version_copied_by_hand_is_retried_until_it_loads(base_path):
    with InpaintServer(base_path, port=0, grpc_port=None, poll_seconds=0.1) as server:
        # `cp -r` into the base path: saved_model.pb lands first, the variables later.
        source, target = os.path.join(base_path, "1"), os.path.join(base_path, "3")
        os.makedirs(target)
        shutil.copy2(os.path.join(source, "saved_model.pb"), target)

        def failing():
            body = status(server)[1]["model_version_status"]
            return body if body[0]["version"] == "3" else None

        entries = wait_for(failing)
        assert entries[0]["state"] == "LOADING"
        assert entries[0]["status"]["error_code"] != "OK" and entries[0]["status"]["error_message"]
        assert entries[1] == {
            "version": "1",
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
        code, body = status(server, "/versions/3")
        assert code == 200 and [e["version"] for e in body["model_version_status"]] == ["3"]
        time.sleep(1.0)  # several failed polls with nothing changed on disk
        assert status(server)[1]["model_version_status"][0]["version"] == "3"

        for entry in os.listdir(source):  # the rest of the copy arrives
            if entry != "saved_model.pb":
                copy = shutil.copytree if os.path.isdir(os.path.join(source, entry)) else shutil.copy2
                copy(os.path.join(source, entry), os.path.join(target, entry))

        def loaded():
            body = status(server)[1]["model_version_status"]
            return body if [e["state"] for e in body] == ["AVAILABLE"] and body[0]["version"] == "3" else None

        wait_for(loaded)
        assert status(server, "/versions/1")[0] == 404


def test_retries_wait_longer_while_nothing_changes(base_path, monkeypatch):
    source = ModelSource(base_path, poll_seconds=0.05)
    broken = os.path.join(base_path, "2")
    os.makedirs(broken)
    with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
        f.write(b"not a SavedModel")
    loads = []
    real = versions.LoadedVersion

    def counting(path, version):
        loads.append(version)
        return real(path, version)

    monkeypatch.setattr(versions, "LoadedVersion", counting)
    for _ in range(40):  # two seconds of polls every 0.05 s
        source.refresh()
        time.sleep(0.05)
    assert source.current().version == 1
    failure = source.failure()
    assert failure.version == 2 and failure.attempts == len(loads)
    assert 3 <= len(loads) <= 8, loads  # 0.05, 0.1, 0.2, 0.4, 0.8 s apart, not 40 tries
    with open(os.path.join(broken, "saved_model.pb"), "ab") as f:
        f.write(b"!")  # a change is tried at once
    source.refresh()
    assert source.failure().attempts == len(loads)
    shutil.rmtree(broken)
    source.refresh()
    assert source.failure() is None and source.current().version == 1


def test_a_version_that_never_loads_is_a_clear_start_error(tmp_path):
    broken = tmp_path / NAME / "4"
    broken.mkdir(parents=True)
    (broken / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="version 4 cannot be loaded"):
        ModelSource(str(tmp_path / NAME))
