"""Background jobs and queues on /metrics, for the spec's ``jobs:`` and ``queues:`` SLOs.

::

    from slokit.jobs import configure, job, watch_rq_queues

    configure(spec="slokit.yaml")          # the jobs' SLO durations become bucket edges

    @job("send-email", queue="emails")
    def send_email(to: str) -> None: ...

    watch_rq_queues(redis, ["emails"])     # depth and oldest-job age at scrape time

Light: prometheus-client only; RQ is imported by :func:`watch_rq_queues` and, when installed,
to count RQ retries.
"""

from slokit.jobs._metrics import JOB_EDGES, configure
from slokit.jobs._rq import watch_rq_queues
from slokit.jobs._run import job, job_run, retried

__all__ = ["JOB_EDGES", "configure", "job", "job_run", "retried", "watch_rq_queues"]
