"""A command agent that delegates over `BATON_DELEGATE_URL` (runtime.agents.delegate_server).

It relays along `input.chain` like `trust_flows.relay`: POSTs the first agent of the
chain, and replies with what came back. With `input.catch`, a refused delegation is
ignored and the agent answers anyway (the step must fail with acl_denied regardless).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    request = json.load(sys.stdin)
    data = request["input"]
    chain = list(data.get("chain") or [])
    if not chain:
        text = data.get("text", "")
    else:
        url = os.environ["BATON_DELEGATE_URL"]
        assert request["delegate_url"] == url, "the request and the environment agree"
        body = {"agent": chain[0], "input": {**data, "chain": chain[1:]}, "output": "note@1"}
        post = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(post, timeout=10) as response:
                text = "delegated: " + json.load(response)["output"]["text"]
        except urllib.error.HTTPError as error:
            refusal = json.load(error)
            if not data.get("catch"):
                print(f"delegation failed: {error.code} {refusal}", file=sys.stderr)
                return 1
            text = f"carried on after {error.code} {refusal['error']}"
    reply = {"output": {"text": text}, "usage": {"tokens_in": 10, "tokens_out": 5}}
    json.dump(reply, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
