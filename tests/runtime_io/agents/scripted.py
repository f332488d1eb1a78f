"""A command agent for the adapter tests: its input's `mode` says how to behave.

- `reply` (default): the envelope `{"output": input.output, "usage": input.usage}`.
- `bare`: prints `input.output` without an envelope.
- `env`: the output is the BATON_* environment variables it received.
- `exit`: writes `input.stderr` to stderr and exits with `input.code`.
- `garbage`: prints text that is not JSON.
- `hang_with_child`: starts a child that sleeps, writes the child's pid to
  `input.pid_file`, then sleeps itself (the test times it out and checks that the
  whole process group died).
"""

import json
import os
import subprocess
import sys
import time


def main() -> None:
    request = json.load(sys.stdin)
    agent_input = request["input"]
    mode = agent_input.get("mode", "reply")
    if mode == "reply":
        envelope = {"output": agent_input.get("output")}
        if "usage" in agent_input:
            envelope["usage"] = agent_input["usage"]
        json.dump(envelope, sys.stdout)
    elif mode == "bare":
        json.dump(agent_input.get("output"), sys.stdout)
    elif mode == "env":
        names = sorted(name for name in os.environ if name.startswith("BATON_"))
        output = {name: os.environ[name] for name in names}
        output["request_step"] = request["step"]
        json.dump({"output": output}, sys.stdout)
    elif mode == "exit":
        sys.stderr.write(agent_input.get("stderr", ""))
        sys.exit(agent_input.get("code", 1))
    elif mode == "garbage":
        sys.stdout.write("this is not JSON\n")
    elif mode == "hang_with_child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(agent_input["pid_file"], "w") as handle:
            handle.write(str(child.pid))
        time.sleep(120)


if __name__ == "__main__":
    main()
