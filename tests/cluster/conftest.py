"""A real 3-node RabbitMQ cluster, built once per test run (tests/support/cluster.py), and a stack on it.

Every test here is marked ``slow`` (CI runs them; ``pytest -m "not slow"`` skips them and
never builds the cluster). Each test gets a vhost of its own on the cluster, the
emulator, and the cluster whole again afterwards (a node it killed is restarted).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from sendx_worker.emulator import Emulator
from sendx_worker.topology import dead_letter_queue, work_queue
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.brokers import IsolatedBroker
from tests.support.cluster import Node, RabbitCluster, available


@pytest.fixture(scope="session")
def rabbit_cluster() -> Iterator[RabbitCluster]:
    reason = available()
    if reason:
        pytest.skip(reason)
    built = RabbitCluster.build()
    try:
        yield built
    finally:
        built.destroy()


class ClusterStack(Stack):
    """A :class:`Stack` whose broker is a vhost on the cluster, given as the three nodes' failover URLs."""

    def __init__(self, cluster: RabbitCluster, vhost: str, emulator: Emulator, data_dir: Path) -> None:
        super().__init__(IsolatedBroker("rabbitmq", cluster.urls(vhost)), emulator, data_dir)
        self.cluster = cluster
        self.vhost = vhost

    def node_url(self, node: Node) -> str:
        return node.url(self.vhost)

    def declare_through(self, node: Node) -> None:
        """Declare ``sendx`` and ``sendx.dead_letter`` through ``node``, which then leads both."""
        with Connection(self.node_url(node)) as connection:
            work_queue()(connection.default_channel).declare()
            dead_letter_queue()(connection.default_channel).declare()

    def holder(self, queue: str) -> Node:
        return self.cluster.holder(self.vhost, queue)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}) as emu:
        yield emu


@pytest.fixture
def cluster_stack(rabbit_cluster: RabbitCluster, emulator: Emulator, tmp_path: Path) -> Iterator[ClusterStack]:
    with rabbit_cluster.vhost(f"sendx-test-{uuid.uuid4().hex[:8]}") as vhost:
        built = ClusterStack(rabbit_cluster, vhost, emulator, tmp_path)
        try:
            yield built
        finally:
            built.close()
            for node in rabbit_cluster.nodes:  # the next test finds the cluster whole
                if not rabbit_cluster.is_up(node):
                    rabbit_cluster.restart(node)
