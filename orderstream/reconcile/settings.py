"""The settings ``orderstream reconcile`` reads, and nothing else.

The audit needs the database (as the application user), the Kafka bootstrap servers, the
names of the three output topics and the window knobs; a bad heap, JMX or Connect setting
of the stack cannot stop it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from orderstream import knobs


@dataclass(frozen=True)
class ReconcileSettings:
    database: knobs.Database
    bootstrap_servers: str
    topic_processed: str
    topic_revenue: str
    topic_transitions: str
    window_seconds: int
    allowed_lateness_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReconcileSettings:
        e = os.environ if env is None else env
        topics = knobs.TopicNames.from_env(e)
        return cls(
            database=knobs.Database.from_env(e),
            bootstrap_servers=knobs.bootstrap_servers(e),
            topic_processed=topics.processed,
            topic_revenue=topics.revenue,
            topic_transitions=topics.transitions,
            window_seconds=knobs.window_seconds(e),
            allowed_lateness_seconds=knobs.allowed_lateness_seconds(e),
        )
