# syntax=docker/dockerfile:1
# emo-bot: a two-stage image. The build stage makes wheels; the final stage only installs them.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt ".[simulator]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 EMO_DATA_DIR=/data
RUN useradd --create-home --uid 10001 emo && mkdir /data && chown emo /data
# The wheels are mounted for the install only: no layer of the final image holds them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "emo-bot[simulator]"
USER emo
WORKDIR /home/emo
VOLUME ["/data"]
# The internal ops server (EMO_OPS_BIND, loopback by default) answers /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8091/healthz', timeout=3)"
CMD ["python", "-m", "bot"]
