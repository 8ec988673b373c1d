"""The stack's topics as ``ensure_topics`` creates them."""

from __future__ import annotations

from orderstream import contract
from orderstream.settings import Settings
from orderstream.stack.kafka_admin import MAX_MESSAGE_BYTES, stack_topics, topic_config


def test_the_dataflows_output_topics_take_its_largest_batches() -> None:
    configs = {spec.name: topic_config(spec) for spec in stack_topics(Settings.from_env({}))}
    assert MAX_MESSAGE_BYTES not in configs[contract.TOPIC_CDC]  # Debezium's, the default
    outputs = [name for name in configs if name != contract.TOPIC_CDC]
    assert len(outputs) == 4
    for name in outputs:
        assert configs[name][MAX_MESSAGE_BYTES] == str(contract.OUTPUT_BATCH_BYTES), name
