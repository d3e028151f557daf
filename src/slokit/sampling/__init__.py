"""Resource sampling: what the system under test uses while load runs.

::

    from slokit.sampling import ResourceSampler

    sampler = ResourceSampler(interval=1.0, process="uvicorn",
                              metrics="http://127.0.0.1:8000/metrics",
                              series={"pool": 'db_pool_in_use{pool="main"}'},
                              postgres="postgresql://app@127.0.0.1:5432/app")
    sampler.check()          # before load: UsageError naming the resources.* field to fix
    with sampler:
        ...                  # the load test
    data = samples_to_dict(sampler.interval, sampler.samples)

Values: ``rss`` (bytes), ``cpu`` (cores: 1.0 is one core busy), ``fds``, ``threads`` (summed
over the process and its descendants), ``pg_connections``, ``pg_active``, and one per
``series`` name. A sampling thread of the calling process reads them every ``interval``
seconds; a source that stops answering is noted once in ``sampler.notes``.
"""

from slokit.sampling._sampler import (
    ResourceSample,
    ResourceSampler,
    samples_from_dict,
    samples_to_dict,
)

__all__ = [
    "ResourceSample",
    "ResourceSampler",
    "samples_from_dict",
    "samples_to_dict",
]
