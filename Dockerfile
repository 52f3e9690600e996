# The returnrisk image: `docker run IMAGE worker` (or any other returnrisk command).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY schemas schemas
COPY features features
COPY models models
COPY streams streams
COPY returnrisk returnrisk
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* && useradd --uid 10001 --create-home returnrisk
COPY --from=build /install /usr/local
USER returnrisk
# numba caches the reasons' compiled kernels (models/tree_shap.py) here: a writable path even
# when the root filesystem is read-only (Kubernetes mounts /tmp).
ENV NUMBA_CACHE_DIR=/tmp/numba-cache
WORKDIR /home/returnrisk
EXPOSE 9108
ENTRYPOINT ["returnrisk"]
CMD ["--help"]
