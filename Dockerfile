# otel-agents: the library and its `otel-agents` command (hub, agent, gateway, demo).
#   docker build -t otel-agents .
#   docker run --rm otel-agents demo --duration 10
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# All extras: the image serves every command (hub, agent, gateway, demo) and exports OTLP.
# Only what the wheel needs (pyproject's readme and the package), so code edits elsewhere do
# not invalidate the install layer.
COPY pyproject.toml README.md ./
COPY otel_agents ./otel_agents
RUN pip install '.[all]' \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin otel \
    && rm -rf /src

WORKDIR /home/otel
USER otel

ENTRYPOINT ["otel-agents"]
CMD ["--help"]
