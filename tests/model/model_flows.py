"""The workflow `make test-model` runs end to end: `baton run model_flows:NOTE`.

One step, `note`, on an `llm` agent whose endpoint is the real model's server started by
tests/model/test_real_model.py, passed to each `baton` process in the environment:
`BATON_TEST_MODEL_URL` (the server's /v1 URL) and `BATON_TEST_MODEL_NAME`. Built by hand
as tests/llm_e2e/llm_flows.py is (a spec compiles to the same objects). The handoff has
no `enum` (see the test module).
"""

from __future__ import annotations

import os

from baton.runtime import LlmConfig
from baton.runtime.model import (
    AgentBinding,
    AgentKind,
    FailureClass,
    Handoff,
    RetryPolicy,
    Step,
    Template,
    Workflow,
)

URL = os.environ.get("BATON_TEST_MODEL_URL", "http://127.0.0.1:9/v1")
MODEL = os.environ.get("BATON_TEST_MODEL_NAME", "SmolLM2-135M-Instruct.Q4_1")

NOTE_SCHEMA = {
    "type": "object",
    "required": ["title", "points"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "maxLength": 80},
        "points": {
            "type": "array",
            "items": {"type": "string", "maxLength": 80},
            "maxItems": 3,
        },
    },
}
INPUTS = {
    "type": "object",
    "required": ["topic"],
    "additionalProperties": False,
    "properties": {"topic": {"type": "string"}},
}
WEBSTER = AgentBinding(
    "webster",
    AgentKind.LLM,
    MODEL,
    input_price_per_mtok=0.1,
    output_price_per_mtok=0.1,
    llm=LlmConfig(
        "openai",
        MODEL,
        base_url=URL,  # a local server: no api_key_env, no key sent
        system="You are Webster, the team's researcher. Answer in JSON.",
        temperature=0.0,
        max_tokens=200,
        timeout_s=300.0,
    ),
)
NOTE = Workflow(
    name="model_note",
    version=1,
    spec_path="model.yaml",
    spec_sha256="0" * 64,
    steps=(
        Step(
            "note",
            "model.yaml:10",
            agent="webster",
            input={"topic": "{{ inputs.topic }}"},
            output=Handoff("note", 1, NOTE_SCHEMA),
            retry=RetryPolicy(
                max_attempts=3,
                on=(FailureClass.MALFORMED_OUTPUT, FailureClass.AGENT_ERROR),
                initial_ms=1,
                max_ms=5,
            ),
            prompt=Template(
                "Write a note on {{ inputs.topic }}: a title and up to 3 points.",
                spec="model.yaml:12",
            ),
        ),
    ),
    generations=(("note",),),
    inputs_schema=INPUTS,
    agents=(WEBSTER,),
    result="note",
)
