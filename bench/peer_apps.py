"""Peers of the orders dataflow, built and run by the bench on the bench's CDC topic.

- ``bench/peers/kstreams``: a Kafka Streams 4.1.1 app (Maven; RocksDB stores, at-least-once,
  1 stream thread): dedupe by order version, 1-minute revenue per currency and transition
  counts per pair.
- ``bench/peers/quix``: a Quix Streams app in its own venv (``bench/peers/quix/.venv``, from
  ``requirements.txt``): dedupe by order version and 1-minute revenue per currency.

Both write with the dataflow's producer settings (:data:`PEER_PRODUCER_KEYS`, given to them
as arguments). Both are (re)built on first use and whenever their sources change (a stamp of
their hash), so nothing is built by hand. Each prints one JSON line that is a
:class:`PassthroughResult`: input records, seconds and CPU from its first record read until
every record went through every stage (including its repartition topics), and its peak RSS.
Their internal topics (repartition, changelog) are named after the run (:func:`peer_label`)
and deleted with the bench topics.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from bench.kafka_topics import create_plain_topics
from bench.passthrough import PassthroughResult
from dataflows.settings import PRODUCER_SETTINGS

PEERS_DIR = Path(__file__).resolve().parent / "peers"
KSTREAMS_DIR = PEERS_DIR / "kstreams"
QUIX_DIR = PEERS_DIR / "quix"
QUIX_VENV = QUIX_DIR / ".venv"
#: The peers the bench knows, in the order it runs them.
NAMES = ("kstreams", "quix")
PEER_TIMEOUT_S = 1800.0
#: The topics each peer writes, after its ``bench-<run>-<peer>-`` prefix.
SINKS = {"kstreams": ("processed", "revenue", "transitions"), "quix": ("processed", "revenue")}
#: The dataflow's producer settings that the peers write with too. Not ``batch.size`` and
#: ``message.max.bytes``: the peers' own internal topics (repartition, changelog) keep the
#: brokers' 1 MB limit, and the reason for 8 MiB is librdkafka's (one request in flight per
#: partition, dataflows/settings.py), not the Java producer's. Not ``partitioner``: Java's
#: default is murmur2 already.
PEER_PRODUCER_KEYS = ("acks", "enable.idempotence", "linger.ms", "compression.type")


def producer_arguments() -> list[str]:
    """``KEY=VALUE`` for each of :data:`PEER_PRODUCER_KEYS`, as both peers take them."""
    return [f"{key}={str(PRODUCER_SETTINGS[key]).lower()}" for key in PEER_PRODUCER_KEYS]


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(str(path.relative_to(PEERS_DIR)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def ensure_kstreams() -> Path:
    """The built jar's directory; runs Maven only when the pom or a source changed."""
    target = KSTREAMS_DIR / "target"
    stamp = target / ".sources.sha256"
    want = _digest([KSTREAMS_DIR / "pom.xml", *(KSTREAMS_DIR / "src").rglob("*.java")])
    if stamp.is_file() and stamp.read_text() == want and (target / "kstreams-peer.jar").is_file():
        return target
    if shutil.which("mvn") is None:
        raise RuntimeError("the Kafka Streams peer needs Maven (mvn): run scripts/start.sh")
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(KSTREAMS_DIR / "pom.xml"),
         "package", "dependency:copy-dependencies"],
        check=True,
    )
    stamp.write_text(want)
    return target


def kstreams_command(*arguments: str) -> list[str]:
    """The command that runs the Kafka Streams peer (built first if needed) with
    ``arguments`` (its usage: ``PeerApp.java``)."""
    target = ensure_kstreams()
    classpath = f"{target / 'kstreams-peer.jar'}:{target / 'dependency'}/*"
    return ["java", "-Xmx1g", "-cp", classpath, "orderstream.peer.PeerApp", *arguments]


def ensure_quix() -> Path:
    """The Quix venv's python; (re)created from requirements.txt when that changes."""
    python = QUIX_VENV / "bin" / "python"
    stamp = QUIX_VENV / ".requirements.sha256"
    requirements = QUIX_DIR / "requirements.txt"
    want = _digest([requirements])
    if python.is_file() and stamp.is_file() and stamp.read_text() == want:
        return python
    shutil.rmtree(QUIX_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True
    )
    stamp.write_text(want)
    return python


def peer_label(run: str, name: str, outputs: str = "") -> str:
    """The application id (consumer group) of ``name``'s drain, and the prefix of every topic
    it writes: inside the run's ``bench-<run>-``, so they are deleted with the run's."""
    return f"bench-{run}-{outputs}-{name}" if outputs else f"bench-{run}-{name}"


def run_peer(
    name: str,
    bootstrap: str,
    source: str,
    run: str,
    expect: int,
    log_dir: Path,
    partitions: int,
    outputs: str = "",
) -> PassthroughResult:
    """Build ``name`` if needed, drain ``source`` with it, and return its measurement.
    ``outputs``: as for ``bench_topics``, so that another round's drain writes apart."""
    label = peer_label(run, name, outputs)
    prefix = f"{label}-"
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as state_dir:
        if name == "kstreams":
            create_plain_topics(bootstrap, [prefix + s for s in SINKS[name]], partitions)
            command = kstreams_command(
                bootstrap, source, label, prefix, str(expect), state_dir, *producer_arguments()
            )
        elif name == "quix":
            python = ensure_quix()
            # Created here with the bench's replication: Quix would create them with RF 1.
            create_plain_topics(bootstrap, [prefix + s for s in SINKS[name]], partitions)
            command = [
                str(python), str(QUIX_DIR / "app.py"), "--bootstrap", bootstrap,
                "--source", source, "--group", label, "--prefix", prefix,
                "--expect", str(expect), "--state-dir", state_dir,
                *(f"--producer={setting}" for setting in producer_arguments()),
            ]
        else:
            raise ValueError(f"unknown peer {name!r} (known: {', '.join(NAMES)})")
        with (log_dir / f"peer-{name}.log").open("w") as log:
            completed = subprocess.run(
                command, check=True, stdout=subprocess.PIPE, stderr=log, timeout=PEER_TIMEOUT_S
            )
    return PassthroughResult(**orjson.loads(completed.stdout.splitlines()[-1]))
