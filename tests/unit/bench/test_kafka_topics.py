"""The bench's topics: shaped like the contract's, and never deleted by age during a run."""

from __future__ import annotations

from bench.kafka_topics import bench_topics, new_topic, other_runs
from orderstream import contract


def test_bench_topics_are_shaped_like_the_contracts() -> None:
    topics = bench_topics("r1")
    spec = {s.name: s for s in contract.CONTRACT_TOPICS}[contract.TOPIC_CDC]
    assert topics.cdc.name == "bench-r1-cdc"
    assert topics.cdc.partitions == spec.partitions
    assert len({t.name for t in topics.all}) == len(topics.all) == 6


def test_no_bench_topic_deletes_records_by_age() -> None:
    # The Quix peer's repartition topic inherits the source topic's retention.ms and holds
    # records stamped with the bench's fixed, past event time: a finite retention deletes
    # them as they arrive once that time is older than it.
    for topic in bench_topics("r1").all:
        config = new_topic(topic).config
        assert config["retention.ms"] == "-1", topic.name
        assert config["cleanup.policy"] == topic.cleanup_policy
        assert config["min.insync.replicas"] == "2"


def test_every_topic_written_with_the_dataflows_producers_takes_their_batches() -> None:
    topics = bench_topics("r1")
    assert "max.message.bytes" not in new_topic(topics.cdc).config  # as mysql-orders
    for topic in topics.all:
        if topic is not topics.cdc:
            limit = new_topic(topic).config["max.message.bytes"]
            assert limit == str(contract.OUTPUT_BATCH_BYTES), topic.name


def test_a_second_drain_writes_to_its_own_outputs_from_the_same_input() -> None:
    first, second = bench_topics("r1"), bench_topics("r1", outputs="p2")
    assert second.cdc == first.cdc
    assert second.revenue.name == "bench-r1-p2-revenue"
    others = {t.name for t in second.all if t is not second.cdc}
    assert len(others) == 5 and not others & {t.name for t in first.all}


def test_topics_of_other_runs_are_told_apart_from_this_runs_and_the_stacks() -> None:
    run = "20261204T230812-4242"
    names = [
        f"bench-{run}-cdc",
        f"bench-{run}-p2-processed",
        f"repartition--bench-{run}-cdc-quix-app",  # a Quix topic of this run
        "bench-20261204T134213-3116-x400678908-dlq",  # a scratch drain of another run
        "bench-20261203T091500-77-revenue",
        "processed-orders",
        "mysql-orders",
        "benchmarks-notes",  # not a run's
    ]
    assert other_runs(names, run) == [
        "bench-20261203T091500-77-revenue",
        "bench-20261204T134213-3116-x400678908-dlq",
    ]
