# OneSeal: one image, the command picks the role (docs/deployment.md):
#   oneseal worker | oneseal project [--standby] | oneseal web | oneseal search-attributes | oneseal health
# Build: docker build -t oneseal:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the package from the repo into a virtual environment --------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/oneseal
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain domain
COPY workflows workflows
COPY projections projections
COPY services services
COPY workers workers
COPY entrypoints entrypoints
# Every dependency ships a wheel (psycopg[binary], orjson …): no compiler is needed, none is installed.
# Bytecode is compiled here, once, checked by hash and never by time (the image is read-only at run time,
# PYTHONDONTWRITEBYTECODE is set): otherwise every process compiles what it imports at start, and the
# worker's workflow sandbox compiles workflows/case.py again for every new case (about 1.8 ms each).
RUN /opt/oneseal/bin/pip install . \
 && /opt/oneseal/bin/pip uninstall --yes pip \
 && find /opt/oneseal -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/oneseal/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/oneseal/lib >/dev/null

# ---- run: the interpreter, the virtual environment, a user without privileges ---------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 oneseal \
 && useradd --system --uid 10001 --gid oneseal --home-dir /var/lib/oneseal --shell /usr/sbin/nologin oneseal \
 && install -d -o oneseal -g oneseal -m 0750 /var/lib/oneseal
COPY --from=build /opt/oneseal /opt/oneseal
ENV PATH=/opt/oneseal/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ONESEAL_DATA_DIR=/var/lib/oneseal \
    ONESEAL_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/oneseal
# 8000 web · 9464 OneSeal metrics · 9465 the Temporal SDK's metrics
EXPOSE 8000 9464 9465
ENTRYPOINT ["oneseal"]
CMD ["worker"]
