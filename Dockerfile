# The mlgate gateway: `mlgate serve` on port 8080 as a non-root user.
#   docker build -t mlgate .
#   docker run -p 8080:8080 -v "$PWD:/project" mlgate     # serves ./mlgate.yaml's champion
# Released as ghcr.io/<owner>/mlgate:<version> (.github/workflows/release.yml); the
# Kubernetes Deployment in deploy/kubernetes runs it.
ARG PYTHON=3.11

# Build stage: the package and its dependencies (ONNX Runtime among them) in a venv.
FROM python:${PYTHON}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/mlgate
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/mlgate/bin/pip install . \
    && /opt/mlgate/bin/python -c "import mlgate, onnxruntime"

# Run stage: the venv alone, no compiler or build files.
FROM python:${PYTHON}-slim-bookworm
LABEL org.opencontainers.image.title="mlgate" \
      org.opencontainers.image.description="Continuous delivery for ML models: the gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
# The same user id as the Kubernetes Deployment's runAsUser.
RUN groupadd --system --gid 10001 mlgate \
    && useradd --system --uid 10001 --gid mlgate --home-dir /project --shell /usr/sbin/nologin mlgate \
    && mkdir -p /project /spool \
    && chown mlgate:mlgate /project /spool
COPY --from=build /opt/mlgate /opt/mlgate
ENV PATH=/opt/mlgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MLGATE_SPOOL_PATH=/spool
USER 10001:10001
WORKDIR /project
EXPOSE 8080
# Healthy once the served versions are loaded (the V2 ready route); slim has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/v2/health/ready', timeout=2)"]
ENTRYPOINT ["mlgate"]
CMD ["serve", "-c", "/project/mlgate.yaml", "--host", "0.0.0.0", "--port", "8080"]
