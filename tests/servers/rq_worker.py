"""A real RQ worker (SimpleWorker: jobs run in this process, so their metrics are this
process's) serving /metrics on PORT, for QUEUE on REDIS_URL; SIGTERM stops it."""

from __future__ import annotations

import os
import sys

from prometheus_client import start_http_server
from redis import Redis
from rq import Queue, SimpleWorker

from slokit.jobs import configure, watch_rq_queues

sys.path.insert(0, os.path.dirname(__file__))

configure(buckets=[0.25])
redis = Redis.from_url(os.environ["REDIS_URL"])
name = os.environ["QUEUE"]
watch_rq_queues(redis, [name])
start_http_server(int(os.environ["PORT"]), addr="127.0.0.1")
SimpleWorker([Queue(name, connection=redis)], connection=redis).work(logging_level="WARNING")
