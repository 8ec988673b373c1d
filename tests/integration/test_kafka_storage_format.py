"""The storage tool formats a node with any cluster id the stack may hold.

Runs the real Kafka storage tool from the installed jars on a scratch log directory with
the stack's own node configuration; the live brokers are not touched.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from orderstream.settings import Settings
from orderstream.stack import render
from orderstream.stack.components import StackContext
from orderstream.stack.components.kafka import NODE_IDS, KafkaCluster, new_cluster_id

#: 16 bytes whose URL-safe base64 starts with "-": what one `uuid4()` in 64 gave before
#: `new_cluster_id` drew again, and what a runtime directory may still hold from then.
DASH_FIRST_ID = base64.urlsafe_b64encode(b"\xf8" + bytes(range(15))).decode().rstrip("=")


def formatted_cluster_id(settings: Settings, cluster_id: str, scratch: Path) -> str:
    kafka = KafkaCluster(StackContext.of(settings))
    properties = {**kafka.node_properties(NODE_IDS[0]), "log.dirs": scratch / "data"}
    config = scratch / "node.properties"
    config.write_text(render.properties(properties))
    result = subprocess.run(
        kafka.format_command(cluster_id, config), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-1000:]
    meta = (scratch / "data" / "meta.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in meta if "=" in line)["cluster.id"]


@pytest.mark.parametrize("cluster_id", [DASH_FIRST_ID, new_cluster_id()], ids=["dash-first", "new"])
def test_a_node_is_formatted_with_the_cluster_id(
    settings: Settings, cluster_id: str, tmp_path: Path
) -> None:
    assert formatted_cluster_id(settings, cluster_id, tmp_path) == cluster_id
