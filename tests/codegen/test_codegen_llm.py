"""llm agents compiled: the config, budgets and prompts the spec asked for, nothing else.

The example spec pair (specs/llm_research.yaml, specs/llm_roster.yaml) is compiled and
imported; each agent's `rt.LlmConfig` is the roster's settings with the runtime's
defaults for what the roster leaves out, the system prompt file's text included.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import baton.runtime as rt
from baton.compiler.codegen import compile_specs, load_module_from_source
from codegen.codegen_support import ROOT


def test_the_example_compiles_to_the_settings_of_its_roster() -> None:
    from generated import llm_research

    workflow = llm_research.WORKFLOW
    webster, auditor = workflow.agent("webster"), workflow.agent("auditor")
    system = (ROOT / "specs" / "prompts" / "webster.md").read_text("utf-8")
    assert (webster.kind, webster.target) == (rt.AgentKind.LLM, "openai:scripted")
    assert webster.llm == rt.LlmConfig(
        "openai",
        "scripted",
        base_url="http://127.0.0.1:8765/v1",
        system=system,
        temperature=0.2,
        max_tokens=800,
        timeout_s=30.0,
    )
    assert webster.llm.key_variable is None  # a local server, no api_key_env: no key read
    assert webster.budget == rt.Budget(tokens=50000)
    assert (webster.input_price_per_mtok, webster.output_price_per_mtok) == (0.4, 1.6)
    assert auditor.target == "anthropic:scripted" and auditor.budget is None
    assert auditor.llm == rt.LlmConfig(
        "anthropic",
        "scripted",
        base_url="http://127.0.0.1:8765",
        system="You audit research briefs against their sources. Be terse.",
        max_tokens=512,
    )
    assert workflow.budget == rt.Budget(usd=1.0, tokens=100000, mode=rt.BudgetMode.ENFORCE)
    research = workflow.step("research")
    assert research.prompt is not None and research.prompt.source.startswith(
        "Research {{ inputs.topic }} for {{ inputs.client }}."
    )
    assert research.prompt.spec == "specs/llm_research.yaml:44"
    assert rt.FailureClass.RATE_LIMITED in research.retry.on
    assert workflow.step("audit").prompt is None


def test_the_system_prompt_is_pinned_in_the_compiled_module(tmp_path: Path) -> None:
    """Editing the system_file changes the compiled module: a run pins the prompt."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    before = compile_specs([str(specs)]).modules["llm_research.py"]
    (specs / "prompts" / "webster.md").write_text('Say """hi""" \\ and\n# not a comment\n')
    after = compile_specs([str(specs)]).modules["llm_research.py"]
    assert before != after
    module = load_module_from_source(after, "llm_research_edited")
    llm = module.WORKFLOW.agent("webster").llm
    assert llm.system == 'Say """hi""" \\ and\n# not a comment\n'


def test_defaults_are_left_out() -> None:
    """Keywords equal to the runtime's defaults are not written (as for every runtime type)."""
    source = (ROOT / "generated" / "llm_research.py").read_text("utf-8")
    assert "transport_retries" not in source and "timeout_s=30.0" in source
    assert "mode=rt.BudgetMode.ENFORCE" not in source  # enforce is the default
