# syntax=docker/dockerfile:1
# The mlresponder service image: build wheels in one stage, run as a non-root user in the next.

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY runbooks ./runbooks
COPY diagnostics ./diagnostics
COPY postmortems ./postmortems
RUN pip wheel --wheel-dir /wheels '.[postgres,mlflow]'

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    MLRESPONDER_DATABASE_URL=sqlite:////data/mlresponder.db \
    MLRESPONDER_POSTMORTEM_DIR=/data/postmortems
RUN groupadd --system mlr && useradd --system --gid mlr --home-dir /data --create-home mlr
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels 'mlresponder[postgres,mlflow]' && rm -rf /wheels
USER mlr
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["mlresponder", "serve", "--host", "0.0.0.0", "--port", "8080"]
