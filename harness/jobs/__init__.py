"""Scaling the suite out: ``trunkcheck run --jobs N`` (worker processes sharing a run's scenarios),
``--shard I/N`` (a deterministic slice of the suite for a CI matrix) and what ``trunkcheck merge`` needs to
join the shards' reports into one run.

- :mod:`~harness.jobs.selection`: the suite's scenarios in behave's order, scenario ids, the shard slices;
- :mod:`~harness.jobs.scenario_filter`: which scenarios a behave run in this process takes (a shard's, or
  the next free one of a queue the workers share);
- :mod:`~harness.jobs.refusal`: when --jobs cannot be used (equipment under test, the docker topology), and
  each worker's loopback block.

The workers themselves run the suite, so they live with it: harness.suite.jobs (the run's side) and
harness.suite.job_worker (one worker). Nothing here imports harness.suite.
"""

from __future__ import annotations

from harness.jobs.refusal import MAX_JOBS, jobs_refusal, worker_roles
from harness.jobs.scenario_filter import Claims, Only
from harness.jobs.selection import Suite, SuiteScenario, list_scenarios, parse_shard, scenario_id, shard_of

__all__ = [
    "MAX_JOBS",
    "Claims",
    "Only",
    "Suite",
    "SuiteScenario",
    "jobs_refusal",
    "list_scenarios",
    "parse_shard",
    "scenario_id",
    "shard_of",
    "worker_roles",
]
