"""A spec set whose agents live next to it: a python agent beside the specs and a command
agent (with a data file it names) beside its roster, in a subdirectory. The agent
resolution tests run it from elsewhere, on both backends."""

from __future__ import annotations

import sys
from pathlib import Path

WORKFLOW = """\
baton: 1
name: resolved
roster: team/roster.yaml
owner: lead
inputs:
  type: object
  required: [text]
  additionalProperties: false
  properties: {text: {type: string}}
handoffs:
  loud:
    versions:
      1:
        type: object
        required: [text]
        additionalProperties: false
        properties: {text: {type: string}}
steps:
  shout:
    agent: shouter
    input: {text: "{{ inputs.text }}"}
    output: loud
  whisper:
    agent: whisperer
    needs: [shout]
    input: {text: "{{ steps.shout.output.text }}"}
    output: loud
result: whisper
"""
ROSTER = """\
baton: 1
kind: roster
agents:
  lead:
    run: {builtin: echo}
    delegates_to: [shouter, whisperer]
  shouter:
    run: {python: "myagents:shout"}
  whisperer:
    run: {command: ["./bin/whisper", "./words.txt"]}
"""
SHOUT = """\
def shout(req):
    return {"text": req.input["text"].upper() + "!"}
"""
WHISPER = """\
import json, sys
request = json.load(sys.stdin)
with open(sys.argv[1]) as words:
    suffix = words.read().rstrip()
print(json.dumps({"output": {"text": request["input"]["text"].lower() + suffix}}))
"""


def write_project(project: Path) -> Path:
    """project/specs: the workflow, its roster in team/, a python agent next to the
    specs, and a command agent (with a data file it names) next to the roster."""
    specs = project / "specs"
    (specs / "team" / "bin").mkdir(parents=True)
    (specs / "wf.yaml").write_text(WORKFLOW)
    (specs / "team" / "roster.yaml").write_text(ROSTER)
    (specs / "myagents.py").write_text(SHOUT)
    script = specs / "team" / "bin" / "whisper"
    script.write_text(f"#!{sys.executable}\n{WHISPER}")
    script.chmod(0o755)
    (specs / "team" / "words.txt").write_text(" (quietly)\n")
    return specs
