"""The java command line shared by the Kafka nodes and the Connect workers."""

from __future__ import annotations

from orderstream.stack.layout import Layout


def jvm_command(
    layout: Layout,
    *,
    main_class: str,
    args: list[str],
    heap: str,
    jmx: tuple[str, int] | None,
    log_dir_name: str,
) -> list[str]:
    """``java`` with a fixed heap, G1, the project's log4j2 config and (with ``jmx`` as
    ``(host, port)``) the Prometheus JMX exporter agent, running ``main_class``."""
    cmd = [
        "java",
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.log4j2_config}",
        f"-Dkafka.logs.dir={layout.logs / log_dir_name}",
    ]
    if jmx is not None:
        host, port = jmx
        cmd.append(f"-javaagent:{layout.jmx_agent}={host}:{port}:{layout.jmx_config}")
    cmd += ["-cp", f"{layout.kafka_libs}/*", main_class, *args]
    return cmd
