# The project's image: the Bytewax dataflow, the demo load (loadgen), the alert receiver and the
# orderstream CLI, as docker-compose.yml runs them. The default command is the dataflow:
#   python -m bytewax.run dataflows.orders [scaling and recovery flags from compose]
# The build stage's RUN is exercised without Docker by tests/unit/compose (same commands, in a
# temporary directory, then `import dataflows.orders`).

FROM python:3.11.11-slim-bookworm AS build
ENV VIRTUAL_ENV=/opt/orderstream/venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY orderstream ./orderstream
COPY dataflows ./dataflows
# The pinned dependencies of pyproject.toml, from wheels: nothing is compiled, and the final
# stage takes only the venv, so no build tool reaches it.
RUN python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir pip==24.3.1 \
    && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir --only-binary=:all: . \
    && "$VIRTUAL_ENV/bin/python" -c "import dataflows.orders, orderstream.cli"

FROM python:3.11.11-slim-bookworm
ENV VIRTUAL_ENV=/opt/orderstream/venv \
    PATH=/opt/orderstream/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# An unprivileged user; the directories the compose volumes mount (recovery, alert log) are
# created here so that new named volumes inherit its ownership.
RUN useradd --system --no-log-init --uid 10001 --user-group --create-home orderstream \
    && mkdir -p /var/lib/orderstream/recovery /var/lib/orderstream/alerts \
    && chown -R orderstream:orderstream /var/lib/orderstream
COPY --from=build /opt/orderstream/venv /opt/orderstream/venv
WORKDIR /app
COPY connectors ./connectors
USER 10001:10001
CMD ["python", "-m", "bytewax.run", "dataflows.orders"]
