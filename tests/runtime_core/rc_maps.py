"""Map steps built by hand for the runtime tests, run as `baton run rc_maps:NAME`.

`plan` answers the run input's `topics` as its `subtopics`; `research_each` maps over
them with the python agent `researcher`, which appends every call to the ledger
(`BATON_LEDGER`) and, while it runs, keeps a file in `running/` beside the ledger: it
records how many attempts of the step ran at once (`overlap`), counted from those files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from rc_workflows import AGENTS, FAST_RETRY, text_step, workflow

from baton.runtime.model import (
    AgentBinding,
    AgentKind,
    Approval,
    Effect,
    Handoff,
    Map,
    Request,
    RetryPolicy,
    Step,
    Template,
    Workflow,
)

TOPICS = {
    "type": "object",
    "required": ["topics"],
    "additionalProperties": False,
    # any value: the runtime's check that the list is a list is tested too
    "properties": {"topics": {}, "wait_for": {"type": "integer"}},
}
PLAN = Handoff(
    "plan",
    1,
    {
        "type": "object",
        "required": ["subtopics"],
        "properties": {"subtopics": {}},
    },
)
BRIEF = Handoff(
    "brief",
    2,
    {
        "type": "object",
        "required": ["summary"],
        "additionalProperties": False,
        "properties": {"summary": {"type": "string"}},
    },
)


def planner(request: Request[Any]) -> dict[str, Any]:
    return {"output": {"subtopics": request.input["topics"]}}


def researcher(request: Request[Any]) -> dict[str, Any]:
    """`topic` "bad:X" always fails, "flaky:X" fails its first attempt, "fix:F" fails
    until the file F exists (in the working directory), "wrong:X" answers
    an output its handoff rejects; others answer `{"summary": "about X"}`. A "pair:X"
    attempt waits (up to 10 s) until `wait_for` attempts run at once, so a test sees the
    concurrency the step allows without relying on timing; the others stay a moment, so
    that attempts the core would let overlap do overlap."""
    ledger = os.environ.get("BATON_LEDGER", "")
    topic = str(request.input["topic"])
    running = Path(ledger).parent / "running" if ledger else None
    overlap = 1
    marker = None
    if running is not None:
        running.mkdir(exist_ok=True)
        marker = running / f"{request.idempotency_key.replace('/', '_')}-{request.attempt}"
        marker.touch()
        wait_for = int(request.input.get("wait_for") or 1) if topic.startswith("pair:") else 1
        deadline = time.monotonic() + 10
        while True:
            overlap = len(list(running.iterdir()))
            if overlap >= wait_for or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(0.02)
        overlap = max(overlap, len(list(running.iterdir())))
    try:
        if ledger:
            line = {
                "agent": "researcher",
                "step": request.step,
                "attempt": request.attempt,
                "idempotency_key": request.idempotency_key,
                "run_id": request.run_id,
                "topic": topic,
                "overlap": overlap,
            }
            with open(ledger, "a") as file:
                file.write(json.dumps(line, sort_keys=True) + "\n")
        if topic.startswith("bad:") or (topic.startswith("flaky:") and request.attempt == 1):
            raise RuntimeError(f"cannot research {topic}")
        if topic.startswith("fix:") and not Path(topic[4:]).exists():  # until someone fixes it
            raise RuntimeError(f"{topic[4:]} is missing")
        if topic.startswith("wrong:"):
            return {"output": {"summary": 42}}
        return {"output": {"summary": f"about {topic}"}}
    finally:
        if marker is not None:
            marker.unlink()


AGENTS_MAP = (
    *AGENTS,
    AgentBinding("planner", AgentKind.PYTHON, "rc_maps:planner"),
    AgentBinding("researcher", AgentKind.PYTHON, "rc_maps:researcher"),
)


def _map_workflow(name: str, *, tolerate: int = 0, concurrency: int = 2, **step: Any) -> Workflow:
    research = Step(
        "research_each",
        "maps.yaml:5",
        agent="researcher",
        needs=("plan",),
        input={"topic": "{{ subtopic }}", "wait_for": "{{ inputs.wait_for }}"},
        output=BRIEF,
        retry=step.pop("retry", FAST_RETRY),
        map=Map(
            over=Template("steps.plan.output.subtopics", is_expression=True),
            var="subtopic",
            max_concurrency=concurrency,
            tolerate=tolerate,
        ),
        **step,
    )
    flow = workflow(
        name,
        Step(
            "plan",
            "maps.yaml:2",
            agent="planner",
            input={"topics": "{{ inputs.topics }}"},
            output=PLAN,
        ),
        research,
        text_step(
            "summary",
            needs=("research_each",),
            input={
                "text": "{{ steps.research_each.output | length }}: "
                "{{ steps.research_each.output[0].summary if steps.research_each.output "
                "else 'none' }}"
            },
        ),
        result="summary",
        agents=AGENTS_MAP,
    )
    return dataclasses.replace(flow, inputs_schema=TOPICS)


MAP = _map_workflow("map")
MAP_TOLERANT = _map_workflow("map_tolerant", tolerate=1)
MAP_NO_RETRY = _map_workflow("map_no_retry", retry=RetryPolicy())
MAP_WIDE = _map_workflow("map_wide", concurrency=3)
# the crash-test workflow: retried items, an external gated map, a downstream step
MAP_CRASH = _map_workflow(
    "map_crash", tolerate=1, effect=Effect.EXTERNAL, approval=Approval("manager")
)

# the list is untrusted input (x-baton-trust): each item reaches the agent sanitized
MAP_UNTRUSTED = dataclasses.replace(
    workflow(
        "map_untrusted",
        Step(
            "research_each",
            "maps.yaml:5",
            agent="researcher",
            input={"topic": "{{ subtopic }}", "wait_for": 1},
            output=BRIEF,
            map=Map(Template("inputs.topics", is_expression=True), "subtopic"),
        ),
        result="research_each",
        agents=AGENTS_MAP,
    ),
    inputs_schema={
        "type": "object",
        "properties": {"topics": {"type": "array", "x-baton-trust": "untrusted"}},
    },
)
