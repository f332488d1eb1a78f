"""The demo agents (`builtin: demo.*`): deterministic stand-ins for real agents.

Each answers with an example of its output schema (runtime.examples), seeded by the
checksum of its input, so the same input always gets the same output, in any process.
Where a string field of that example has an obvious source in the input (a summary
from the topic, a receipt's recipient from the client), the field is filled from it,
and kept only if the whole output still validates: a demo agent never answers with an
output its schema rejects. Any `demo.NAME` works; the four the examples use add their
own touches:

- `demo.research`: a summary of the topic, a few example sources, a confidence.
- `demo.audit`: verdict "pass" (when the schema allows it) and notes on what it read.
- `demo.deliver`: delivered to the input's client, with a reference derived from the input.
- `demo.summarize`: the first sentence of the input text.
- `demo.classify`: a request's kind: `question` when it ends with "?", else `research`.
- `demo.review`: a strict reviewer: verdict "fail" until the brief cites a primary
  source (`demo.research` adds one once it has been sent back with feedback).
"""

from __future__ import annotations

import re
from typing import Any

from baton.runtime.canonical import checksum
from baton.runtime.examples import example_from_schema
from baton.runtime.model import JSON
from baton.runtime.validate import is_valid


def demo_output(name: str, agent_input: JSON, schema: JSON, feedback: tuple[str, ...] = ()) -> JSON:
    """The demo agent `name`'s output for this input, valid against `schema`;
    `feedback`: a review loop's notes so far (a revising agent takes them in)."""
    if schema is None:
        return {}  # a step without an output returns an empty one
    digest = checksum(agent_input)
    output = example_from_schema(schema, seed=int(digest[:12], 16))
    if not isinstance(output, dict):
        return output
    fields = _inputs(agent_input)
    if feedback:
        fields["feedback"] = list(feedback)
    proposals = {**_generic(output, fields), **_SPECIFIC.get(name, _none)(fields, digest)}
    for key, value in proposals.items():
        candidate = {**output, key: value}
        if is_valid(schema, candidate):
            output = candidate
    return output


def _inputs(agent_input: JSON) -> dict[str, Any]:
    """The input's fields, with a nested `brief`'s fields visible too."""
    if not isinstance(agent_input, dict):
        return {"text": agent_input} if isinstance(agent_input, str) else {}
    fields = dict(agent_input)
    for nested in agent_input.values():
        if isinstance(nested, dict):
            for key, value in nested.items():
                fields.setdefault(key, value)
    return fields


def _main_text(fields: dict[str, Any]) -> str:
    for key in ("summary", "text", "topic", "content", "title"):
        if isinstance(fields.get(key), str) and fields[key].strip():
            return str(fields[key]).strip()
    texts = [value for value in fields.values() if isinstance(value, str) and value.strip()]
    return texts[0].strip() if texts else "the request"


def _generic(output: dict[str, Any], fields: dict[str, Any]) -> dict[str, JSON]:
    """Copy input strings into same-named output strings; a summary from the main text."""
    out: dict[str, JSON] = {}
    for key, value in output.items():
        if not isinstance(value, str):
            continue
        if isinstance(fields.get(key), str):
            out[key] = fields[key]
        elif key in ("summary", "text", "description", "title"):
            out[key] = _first_sentence(_main_text(fields))
    return out


def _first_sentence(text: str, limit: int = 200) -> str:
    """
    >>> _first_sentence("Tea is old. It is also popular.")
    'Tea is old.'
    """
    match = re.match(r"(.+?[.!?])(\s|$)", text, re.DOTALL)
    sentence = match.group(1) if match else text
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "topic"


def _research(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    topic = _main_text(fields)
    context = fields.get("context")
    summary = f"{topic}: the key findings, trade-offs and open questions."
    if isinstance(context, str) and context.strip():
        summary += " The team channel's recent discussion was taken into account."
    sources = [f"https://example.com/{_slug(topic)}/{n}" for n in (1, 2, 3)]
    feedback = fields.get("feedback")
    if isinstance(feedback, list) and feedback:  # sent back by a review: revise
        summary += f" Revised after review: {feedback[-1]}"
        sources.append(f"https://example.org/primary/{_slug(topic)}")
    return {"summary": summary, "sources": sources, "confidence": 0.8}


def _audit(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    sources = fields.get("sources")
    count = len(sources) if isinstance(sources, list) else 0
    notes = f"Checked the summary against {count} source{'s' if count != 1 else ''}; no issues."
    return {"verdict": "pass", "notes": notes}


def _review(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    sources = fields.get("sources")
    listed = [s for s in sources if isinstance(s, str)] if isinstance(sources, list) else []
    if any("/primary/" in source for source in listed):
        return {"verdict": "pass", "notes": "A primary source is cited; the brief passes."}
    return {"verdict": "fail", "notes": "Cite at least one primary source."}


def _classify(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    text = _main_text(fields)
    return {"kind": "question" if text.rstrip().endswith("?") else "research"}


def _deliver(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    client = fields.get("client")
    out: dict[str, JSON] = {"reference": f"DLV-{digest[:10]}"}
    if isinstance(client, str) and client:
        out["delivered_to"] = client
    return out


def _summarize(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    return {"summary": _first_sentence(_main_text(fields))}


def _none(fields: dict[str, Any], digest: str) -> dict[str, JSON]:
    return {}


_SPECIFIC = {
    "demo.research": _research,
    "demo.audit": _audit,
    "demo.deliver": _deliver,
    "demo.summarize": _summarize,
    "demo.review": _review,
    "demo.classify": _classify,
}
