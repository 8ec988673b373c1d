"""Where the native stack keeps its files, all below one runtime directory.

```
<runtime>/jars/{kafka-libs,connect-plugins,agents}   resolved by stack/pom.xml (kept by --purge)
<runtime>/conf/                                        rendered configuration
<runtime>/data/kafka-N, <runtime>/mariadb/,           state (deleted by stop.sh --purge,
<runtime>/recovery/                                    with the logs and configuration)
<runtime>/logs/                                        one log per supervisor program
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orderstream.settings import REPO_ROOT


@dataclass(frozen=True)
class Layout:
    root: Path
    repo: Path = REPO_ROOT

    # inputs shipped in the repository
    @property
    def log4j2_config(self) -> Path:
        return self.repo / "stack" / "log4j2.properties"

    @property
    def jmx_config(self) -> Path:
        return self.repo / "stack" / "jmx-exporter.yml"

    @property
    def mysql_init(self) -> Path:
        return self.repo / "mysql-init"

    @property
    def connectors(self) -> Path:
        return self.repo / "connectors"

    # resolved jars
    @property
    def jars(self) -> Path:
        return self.root / "jars"

    @property
    def kafka_libs(self) -> Path:
        return self.jars / "kafka-libs"

    @property
    def connect_plugins(self) -> Path:
        return self.jars / "connect-plugins"

    @property
    def jmx_agent(self) -> Path:
        return self.jars / "agents" / "jmx_prometheus_javaagent.jar"

    # rendered configuration
    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def supervisor_config(self) -> Path:
        return self.conf / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.root / "supervisor.sock"

    @property
    def mariadb_config(self) -> Path:
        return self.conf / "my.cnf"

    def kafka_config(self, node_id: int) -> Path:
        return self.conf / f"kafka-{node_id}.properties"

    def connect_config(self, worker_id: int) -> Path:
        return self.conf / f"connect-{worker_id}.properties"

    # state
    @property
    def data(self) -> Path:
        return self.root / "data"

    def kafka_data(self, node_id: int) -> Path:
        return self.data / f"kafka-{node_id}"

    @property
    def cluster_id_file(self) -> Path:
        return self.data / "kafka-cluster-id"

    @property
    def mariadb_dir(self) -> Path:
        return self.root / "mariadb"

    @property
    def mariadb_data(self) -> Path:
        return self.mariadb_dir / "data"

    @property
    def mariadb_socket(self) -> Path:
        return self.mariadb_dir / "mysqld.sock"

    @property
    def mariadb_initialized_marker(self) -> Path:
        return self.mariadb_dir / "initialized"

    @property
    def recovery(self) -> Path:
        """Bytewax recovery partitions of the dataflow (snapshots of state and offsets)."""
        return self.root / "recovery"

    @property
    def logs(self) -> Path:
        return self.root / "logs"
