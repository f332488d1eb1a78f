"""Agents resolve from the spec set, not from wherever `baton` runs: python agents import
with the spec root first on sys.path, command agents' relative paths start at their
roster file's directory, and a typed python agent gets its input as the model its
`Request[Model]` annotation names (docs/codegen.md's example runs as written).

Real modules and scripts written to disk, real `baton` processes run from another
directory; the Temporal side is tests/temporal_backend/test_tb_agents_resolve.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from agent_project import write_project
from pydantic import BaseModel

from baton.runtime.agents import AgentCall, AgentFailure, call_agent
from baton.runtime.model import AgentBinding, AgentKind, FailureClass, Request

ROOT = Path(__file__).resolve().parents[2]
BATON = str(Path(sys.executable).parent / "baton")


def baton(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    values.pop("PYTHONPATH", None)
    values.update(env)
    return subprocess.run(
        [BATON, *args], cwd=cwd, env=values, capture_output=True, text=True, timeout=120
    )


def result_of(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    match = re.search(r"succeeded; result: (.*)$", completed.stdout, re.MULTILINE)
    assert match, completed.stdout
    return json.loads(match.group(1))


# -- end to end: a spec file and a compiled name, run from elsewhere


def test_a_spec_file_runs_its_agents_from_another_directory(tmp_path: Path) -> None:
    write_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = str(tmp_path / "runs.db")
    ran = baton(
        elsewhere, "run", "../project/specs/wf.yaml", "--input", '{"text": "Hi"}', "--db", db
    )
    assert result_of(ran) == {"text": "hi! (quietly)"}


def test_a_compiled_workflow_runs_by_name_with_the_root_it_records(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_project(project)
    compiled = baton(project, "compile", "specs", "-o", "generated")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    module = (project / "generated" / "resolved.py").read_text()
    assert 'root="specs"' in module and 'directory="team"' in module
    assert str(tmp_path) not in module  # no absolute path in generated code
    ran = baton(project, "run", "resolved", "--input", '{"text": "Yo"}', "--db", "runs.db")
    assert result_of(ran) == {"text": "yo! (quietly)"}


def test_lint_flags_a_python_agent_it_cannot_find(tmp_path: Path) -> None:
    specs = write_project(tmp_path / "project")
    assert baton(specs.parent, "lint", "specs", "--strict").returncode == 0
    (specs / "myagents.py").rename(specs / "other.py")
    result = baton(specs.parent, "lint", "specs", "--strict")
    assert result.returncode == 1
    assert "B209 warning: python agent 'shouter' imports module 'myagents'" in result.stdout


# -- the doc's typed agent, as written


def doc_example() -> str:
    """The agent under "Writing an agent against it" in docs/codegen.md."""
    text = (ROOT / "docs" / "codegen.md").read_text("utf-8")
    section = text.split("### Writing an agent against it", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "docs/codegen.md lost its agent example"
    return match.group(1)


DOC_WORKFLOW = """\
baton: 1
name: doc_example
owner: writer
agents:
  writer:
    run: {python: "doc_agent:handle"}
inputs:
  type: object
  required: [topic, client]
  additionalProperties: false
  properties:
    topic: {type: string}
    client: {type: string}
handoffs:
  brief:
    versions:
      2:
        type: object
        required: [summary]
        additionalProperties: false
        properties:
          summary: {type: string}
          sources: {type: array, items: {type: string}}
steps:
  research:
    agent: writer
    input: "{{ inputs }}"
    output: brief@2
result: research
"""


def test_the_codegen_doc_example_runs_as_written(tmp_path: Path) -> None:
    """`def handle(req: rt.Request[ResearchReportInput]) -> BriefV2` reads
    `req.input.topic`: the input arrives as the model, not as a dict."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "doc_agent.py").write_text(doc_example())
    (specs / "doc.yaml").write_text(DOC_WORKFLOW)
    inputs = json.dumps({"topic": "durable agents", "client": "acme"})
    # the example imports the repository's compiled package `generated`
    ran = baton(tmp_path, "run", "specs/doc.yaml", "--input", inputs, PYTHONPATH=str(ROOT))
    assert result_of(ran) == {"summary": "durable agents", "sources": []}


# -- in process: the adapters themselves


def call(
    kind: AgentKind, target: Any, agent_input: Any, root: str, directory: str = ""
) -> AgentCall:
    binding = AgentBinding("agent", kind, target, directory=directory)
    request = Request("wf", "run-1", "step", 1, "key", agent_input, None, ())
    return AgentCall(binding, request, 10_000, root)


@pytest.fixture
def module_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """A module name no other test uses; sys.path and the module are undone afterwards."""
    name = f"agents_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield name
    sys.modules.pop(name, None)


def test_the_root_comes_first_on_the_import_path(tmp_path: Path, module_name: str) -> None:
    other, root = tmp_path / "other", tmp_path / "root"
    for directory, answer in ((other, "other"), (root, "root")):
        directory.mkdir()
        (directory / f"{module_name}.py").write_text(f"def run(req):\n    return {answer!r}\n")
    sys.path.insert(0, str(other))
    reply = call_agent(call(AgentKind.PYTHON, f"{module_name}:run", {}, str(root)))
    assert reply.output == "root"
    assert sys.path[0] == str(root)


class Topic(BaseModel):
    topic: str
    depth: int = 1


def typed(req: Request[Topic]) -> dict[str, Any]:
    assert isinstance(req.input, Topic)
    return {"topic": req.input.topic.upper(), "depth": req.input.depth}


def untyped(req: Request[Any]) -> Any:
    return req.input


def test_a_typed_agent_gets_its_model_and_an_untyped_one_json() -> None:
    here = f"{__name__}:typed"
    assert call_agent(call(AgentKind.PYTHON, here, {"topic": "x"}, "")).output == {
        "topic": "X",
        "depth": 1,
    }
    plain = call_agent(call(AgentKind.PYTHON, f"{__name__}:untyped", {"topic": "x"}, ""))
    assert plain.output == {"topic": "x"}


def test_an_input_that_does_not_fit_the_model_is_an_agent_error() -> None:
    with pytest.raises(AgentFailure) as caught:
        call_agent(call(AgentKind.PYTHON, f"{__name__}:typed", {"depth": "deep"}, ""))
    assert caught.value.failure == FailureClass.AGENT_ERROR
    message = caught.value.message
    assert "does not fit Topic, the model python agent" in message
    assert "topic: Field required" in message and "depth:" in message


def test_command_paths_start_at_the_roster_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = write_project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)  # neither the root nor the roster's directory
    target = ("./bin/whisper", "./words.txt")
    reply = call_agent(call(AgentKind.COMMAND, target, {"text": "HEY"}, str(specs), "team"))
    assert reply.output == {"text": "hey (quietly)"}
    # without a root (a workflow built by hand) paths are the working directory's, as before
    with pytest.raises(AgentFailure) as caught:
        call_agent(call(AgentKind.COMMAND, target, {"text": "HEY"}, ""))
    assert "cannot start ./bin/whisper" in caught.value.message
