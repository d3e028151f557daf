"""Workers as actors on a Ray cluster: one spec, many machines (``slokit run --ray``).

Each worker is a Ray actor running the same worker loop as a local process, in a thread of
its own process (its own uvloop and connection pool). The controller stays in the driver:
it merges the per-second snapshots the actors put on a Ray queue, exactly as it merges
local workers'. Actors are placed on nodes explicitly (node affinity), so the results can
say which machine sent what, and a node that dies takes only its own actors with it: the
run goes on with the others and the results name the lost workers.

Clock skew between nodes cannot bend the numbers: latencies are measured on one clock per
worker, and second 0 reaches each actor as a delay ("start in 0.25 s"), not as a wall time
its own clock would misread.

The spec's folder travels to the actors as Ray's ``working_dir`` (journeys and data files
just work), and this slokit as a ``py_modules`` entry, so every node runs the driver's code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue as queue_mod
import socket
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from slokit.errors import RunError, UsageError
from slokit.load._backend import Worker
from slokit.load._worker import WorkerArgs, worker_main

try:
    import ray
    from ray.exceptions import RayError
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError as exc:  # pragma: no cover - the CLI says how to install it
    raise UsageError(
        "--ray needs Ray on this machine and on the cluster: pip install 'slokit[ray]'"
    ) from exc

__all__ = ["RayCluster", "RayNode"]

log = logging.getLogger("slokit.load")

_EXCLUDES = [".git", ".venv", "venv", "node_modules", "__pycache__", "slokit-report", "*.pyc"]
"""Not sent to the cluster with the spec's folder."""

_START_LEAD = 0.25
"""Seconds from the go signal to second 0, as locally."""


@dataclass(frozen=True)
class RayNode:
    """A node generators may run on."""

    id: str
    name: str
    """Its address, with the start of its id when two nodes share one (one machine)."""
    cpus: int
    """CPUs the node offers generators (one per actor)."""


class _Wall:
    """``start_wall`` for a backend whose workers are not child processes."""

    def __init__(self) -> None:
        self.value = 0.0


class _Generator:
    """The actor: a worker loop in a thread, started and stopped by the controller."""

    def __init__(self) -> None:
        self._go = threading.Event()
        self._stop = threading.Event()
        self._wall = _Wall()

    def run(self, args: WorkerArgs, queue: Any) -> None:
        worker_main(args, queue, self._go, self._wall, self._stop)

    def begin(self, delay: float) -> None:
        self._wall.value = time.time() + delay
        self._go.set()

    def halt(self) -> None:
        self._stop.set()
        self._go.set()


class _Signal:
    """``go`` or ``stop`` for every actor at once."""

    def __init__(self, backend: _RayBackend, kind: str) -> None:
        self._backend, self._kind = backend, kind
        self._set = False

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        for worker in self._backend.workers:
            worker.signal(self._kind, self._backend.start_wall.value)

    def is_set(self) -> bool:
        return self._set


class _ActorWorker:
    """One actor, as the controller sees a worker process."""

    def __init__(self, actor: Any, done: Any) -> None:
        self._actor, self._done = actor, done
        self._code: int | None = None

    @property
    def exitcode(self) -> int | None:
        if self._code is None:
            ready, _ = ray.wait([self._done], timeout=0)
            if ready:
                try:
                    ray.get(self._done, timeout=0)
                    self._code = 0
                except RayError:  # the actor or its node died
                    self._code = 1
        return self._code

    def join(self, timeout: float | None = None) -> None:
        ray.wait([self._done], timeout=timeout)

    def is_alive(self) -> bool:
        return self.exitcode is None

    def terminate(self) -> None:
        ray.kill(self._actor, no_restart=True)
        self._code = self._code if self._code is not None else -15

    def kill(self) -> None:
        self.terminate()

    def signal(self, kind: str, start_wall: float) -> None:
        if self._code is not None:
            return
        if kind == "go":
            # A delay, not a wall time: the node's clock may differ from this one.
            self._actor.begin.remote(max(0.0, start_wall - time.time()))
        else:
            self._actor.halt.remote()


class _Inbox:
    """The controller's end of the Ray queue: ``get`` as a multiprocessing queue's."""

    PATIENCE = 25
    """Failed gets in a row (about 5 s) before the queue counts as lost with its node."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._failures = 0

    def get(self, timeout: float | None = None) -> Any:
        try:
            item = self._queue.get(timeout=timeout)
        except RayError as exc:
            self._failures += 1
            if self._failures >= self.PATIENCE:
                raise RunError(f"lost the Ray queue the workers report to: {exc}") from None
            time.sleep(timeout or 0.0)
            raise queue_mod.Empty from None
        self._failures = 0
        return item

    def get_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except RayError:
            raise queue_mod.Empty from None

    def put(self, item: Any) -> None:
        self._queue.put(item)

    def close(self) -> None:
        with contextlib.suppress(RayError):  # already gone with the cluster
            ray.kill(cast(Any, self._queue.actor), no_restart=True)


class _RayBackend:
    survives_loss = True

    def __init__(self, cluster: RayCluster, placement: list[RayNode]) -> None:
        self._cluster = cluster
        self._placement = placement
        # On the head node: a queue on a node that dies would take every message with it,
        # and without the head there is no cluster anyway.
        head = NodeAffinitySchedulingStrategy(cluster.head_node, soft=False)
        self.queue: Any = _Inbox(Queue(actor_options={"num_cpus": 0, "scheduling_strategy": head}))
        self.start_wall: Any = _Wall()
        self.workers: list[_ActorWorker] = []
        self.go = _Signal(self, "go")
        self.stop = _Signal(self, "stop")

    def spawn(self, args: WorkerArgs) -> Worker:
        node = self._placement[args.worker]
        actor = self._cluster.actor_class.options(
            num_cpus=1,
            max_concurrency=4,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node.id, soft=False),
            name=None,
        ).remote()
        # The spec's folder is each actor's working directory on its node.
        remote_args = dataclasses.replace(args, spec=args.spec.model_copy(update={"base_dir": "."}))
        worker = _ActorWorker(actor, actor.run.remote(remote_args, self.queue))
        self.workers.append(worker)
        return worker

    def node(self, worker: int) -> str:
        return self._placement[worker].name

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.queue.close()
        self._cluster.release(self._placement)


class RayCluster:
    """A connection to a Ray cluster and where on it generators may run."""

    def __init__(
        self,
        address: str,
        *,
        spec_dir: str,
        resource: str | None = None,
        per_node: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        _reachable(address)
        import slokit

        package = str(Path(slokit.__file__).parent)
        runtime_env: dict[str, Any] = {
            "working_dir": spec_dir,
            "py_modules": [package],
            "excludes": _EXCLUDES,
            "env_vars": dict(env or {}),  # -e KEY=VALUE: journeys read os.environ there too
        }
        try:
            ray.init(
                address=address,
                runtime_env=runtime_env,
                log_to_driver=False,
                logging_level=logging.WARNING,
                ignore_reinit_error=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the Ray cluster at {address!r}: {exc}. Start one with "
                "`ray start --head` (and `ray start --address HEAD:6379` on each generator "
                "machine), or give --ray auto on a machine of the cluster"
            ) from None
        self.address = address
        self.resource = resource
        self.per_node = per_node
        self.driver_node: str = ray.get_runtime_context().get_node_id()
        self.head_node = _head_node() or self.driver_node
        self.actor_class: Any = ray.remote(_Generator)
        self._lock = threading.Lock()
        self._held: list[str] = []
        """Node ids of the slots running scenarios hold, one entry per worker."""
        self.nodes = self._nodes()
        if not self.nodes:
            why = f" with the resource {resource!r}" if resource else ""
            raise UsageError(
                f"the Ray cluster at {address!r} has no node{why} with a free CPU for a "
                "generator: add nodes, or free CPUs"
            )

    def _nodes(self) -> list[RayNode]:
        free = _offered_cpus()
        found: list[tuple[str, str, int]] = []
        for node in _cluster_nodes():
            resources = node.get("Resources", {})
            if not node.get("Alive") or (self.resource and resources.get(self.resource, 0) <= 0):
                continue
            cpus = int(free.get(node["NodeID"], 0.0))
            if cpus > 0:
                found.append((node["NodeID"], str(node.get("NodeManagerAddress", "?")), cpus))
        shared = Counter(address for _, address, _ in found)
        return [
            RayNode(
                id=node_id,
                name=f"{address} ({node_id[:6]})" if shared[address] > 1 else address,
                cpus=cpus,
            )
            for node_id, address, cpus in found
        ]

    def default_workers(self) -> int:
        """One per free CPU (the driver's node keeps one for the controller), or
        ``per_node`` on each node."""
        if self.per_node is not None:
            return self.per_node * len(self.nodes)
        total = sum(n.cpus - (1 if n.id == self.driver_node else 0) for n in self.nodes)
        return max(1, total)

    def _slots(self) -> list[RayNode]:
        """Every generator slot, in the order they are given out: ``per_node`` on each
        node, or one per CPU, taking the nodes in turn so a few workers spread out."""
        if self.per_node is not None:
            short = [n for n in self.nodes if n.cpus < self.per_node]
            if short:
                raise UsageError(
                    f"--workers-per-node {self.per_node}: {short[0].name} offers only "
                    f"{short[0].cpus} CPU(s), one per worker"
                )
            return [node for node in self.nodes for _ in range(self.per_node)]
        slots: list[RayNode] = []
        for turn in range(max(n.cpus for n in self.nodes)):
            slots.extend(node for node in self.nodes if node.cpus > turn)
        return slots

    def placement(self, workers: int) -> list[RayNode]:
        """Nodes for ``workers`` new workers, from the slots no running scenario holds
        (scenarios side by side share the cluster); give them back with ``release``."""
        with self._lock:
            held = Counter(self._held)
            free: list[RayNode] = []
            for slot in self._slots():
                if held[slot.id] > 0:
                    held[slot.id] -= 1
                else:
                    free.append(slot)
            if workers > len(free):
                busy = f", {len(self._held)} held by other scenarios" if self._held else ""
                raise UsageError(
                    f"--workers {workers} is more than the {len(free)} generator slots the "
                    f"cluster has free ({', '.join(f'{n.name}: {n.cpus}' for n in self.nodes)}"
                    f"{busy}); give --workers N or add nodes"
                )
            chosen = free[:workers]
            self._held.extend(n.id for n in chosen)
            return chosen

    def release(self, placement: list[RayNode]) -> None:
        with self._lock:
            for node in placement:
                self._held.remove(node.id)

    def backend(self, workers: int) -> _RayBackend:
        return _RayBackend(self, self.placement(workers))

    def shutdown(self) -> None:
        ray.shutdown()


def _offered_cpus() -> dict[str, float]:
    """CPUs per alive node id, as the nodes offer them (Ray tells free CPUs only for the
    whole cluster; an actor that finds its node busy waits, and the run says so)."""
    return {
        node["NodeID"]: float(node.get("Resources", {}).get("CPU", 0.0))
        for node in _cluster_nodes()
        if node.get("Alive")
    }


def _reachable(address: str) -> None:
    """Fail at once on a cluster that is not there: Ray itself retries for minutes."""
    where = address
    if address == "auto":
        where = os.environ.get("RAY_ADDRESS", "")
        if not where:
            current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
            where = current.read_text().strip() if current.is_file() else ""
        if not where:
            raise UsageError(
                "--ray auto found no Ray cluster: this machine is in none (start one with "
                "`ray start --head`) and RAY_ADDRESS is not set; or give --ray HOST:PORT"
            )
    host, _, port = where.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(
            f"--ray {address!r}: expected auto, HOST:PORT (the head's GCS port, 6379 by "
            "default) or ray://HOST:10001"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=3.0):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot reach the Ray cluster at {where} ({exc.strerror or type(exc).__name__}): "
            "start one with `ray start --head` (and `ray start --address HEAD:6379` on each "
            "generator machine), or check the address"
        ) from None


def _head_node() -> str | None:
    for node in _cluster_nodes():
        if node.get("Alive") and "node:__internal_head__" in node.get("Resources", {}):
            return str(node["NodeID"])
    return None


def _cluster_nodes() -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return nodes
