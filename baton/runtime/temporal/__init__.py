"""The Temporal backend: the same compiled workflows, interpreted by the same pure core,
on a Temporal cluster.

- `runtime.temporal.workflow`: `BatonWorkflow`, the one generic workflow type. It folds
  the run's events with `apply`, asks `decide` what to do next, and records what it does
  as events of its own, timestamped with `workflow.now()`; Temporal's history makes
  them durable (replay reproduces them exactly).
- `runtime.temporal.activities`: the attempt activity, `execute_attempt` as it runs on
  the local backend (adapters, validation, quality score, checksum).
- `runtime.temporal.catalog`: which compiled workflows a worker process hosts, looked up
  by their pin, outside the workflow sandbox.
- `runtime.temporal.worker`: a worker hosting both; `runtime.temporal.client`: start,
  decide and read runs (the command line's `--backend temporal`).

Imports `temporalio` (the `temporal` extra); nothing else in the runtime imports this
package.
"""
