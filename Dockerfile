# The returnrisk image: `docker run IMAGE worker` (or any other returnrisk command).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
# One line per top-level package of pyproject's [tool.setuptools.packages.find] include:
# tests/deploy/test_image_files.py fails when the two differ, and installs exactly these files
# into an empty folder to run every command's --help from there.
COPY analytics analytics
COPY backtest backtest
COPY bench bench
COPY devstack devstack
COPY explain explain
COPY features features
COPY ingest ingest
COPY models models
COPY policy policy
COPY producer producer
COPY reporting reporting
COPY returnrisk returnrisk
COPY schemas schemas
COPY simulator simulator
COPY streams streams
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* && useradd --uid 10001 --create-home returnrisk \
    && install -d -o returnrisk -g returnrisk /models/registry /var/lib/returnrisk
COPY --from=build /install /usr/local
USER returnrisk
# numba caches the reasons' compiled kernels (explain/tree_shap.py) here: a writable path even
# when the root filesystem is read-only (Kubernetes mounts /tmp).
ENV NUMBA_CACHE_DIR=/tmp/numba-cache
# faust's data folder: Kubernetes mounts a writable emptyDir here (deploy/kubernetes/worker.yaml).
ENV RETURNRISK_WORKER_DATA_DIR=/var/lib/returnrisk
# /metrics and /ready must answer from outside the container.
ENV RETURNRISK_WORKER_METRICS_HOST=0.0.0.0
# Training writes versions here and workers read the promoted one: mount a volume.
ENV RETURNRISK_REGISTRY_DIR=/models/registry
WORKDIR /home/returnrisk
EXPOSE 9108
ENTRYPOINT ["returnrisk"]
CMD ["--help"]
