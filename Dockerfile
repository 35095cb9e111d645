# syntax=docker/dockerfile:1
# mlops-bot in one image: the webhook bot (`mlops-bot serve`), its workers (`mlops-bot worker`), the schema
# migrations (`mlops-bot db upgrade`) and, with the mlflow extra, an MLflow server. See docs/deploy.md.
#
#   docker build -t mlops-bot .                                   # PostgreSQL + MLflow (executor: actions)
#   docker build --build-arg EXTRAS=postgres,all -t mlops-bot .   # + DVC, BentoML, Evidently (executor: local)

ARG PYTHON_VERSION=3.11

# ---- builder: every dependency as a wheel, pinned by constraints.txt ----------------------------------
# The full Debian-based image carries a compiler, so a package without a wheel for this platform is built
# here and never needs one in the final image.
FROM python:${PYTHON_VERSION}-bookworm AS builder
ARG EXTRAS=postgres,mlflow
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY bot ./bot
COPY templates ./templates
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels \
        -c constraints.txt ".[${EXTRAS}]"

# ---- final: slim Python, the wheels installed offline, no compiler, non-root -----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm
ARG EXTRAS=postgres,mlflow
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLOPS_BOT_WORK_DIR=/var/lib/mlops-bot/work
# The wheels are bind-mounted from the builder, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=bind,source=constraints.txt,target=/tmp/constraints.txt \
    pip install --no-cache-dir --no-index --find-links /wheels -c /tmp/constraints.txt "mlops-bot[${EXTRAS}]" \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/mlops-bot --shell /usr/sbin/nologin mlops-bot \
    && mkdir -p /var/lib/mlops-bot/work /var/lib/mlops-bot/mlflow \
    && chown -R 10001:10001 /var/lib/mlops-bot
WORKDIR /var/lib/mlops-bot
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# /healthz answers 200 while the process can reach its database (503 otherwise). `worker` and `mlflow`
# containers override this check (compose.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["mlops-bot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
