# dce-jobs: the job service and its panel, as a DCE plugin image. Build it with `make image`.
#
# The build needs no network: dce-jobs and its pinned dependencies (image-requirements.txt) come as wheels
# from build/wheelhouse, filled on the host by scripts/build-image. BASE is any image with Python 3.11 as
# `python3` and the `venv` module: the official slim image by default, or the Debian bookworm base that
# scripts/build-image makes with mmdebstrap where that cannot be pulled.
#
# It talks to the Docker engine of a Swarm manager (mount /var/run/docker.sock, or set DCE_JOBS_DOCKER_HOST)
# and stores jobs in /data (SQLite) or MongoDB (DCE_JOBS_MONGO_URL). It listens on 0.0.0.0, so it refuses to
# start without DCE_JOBS_API_TOKEN unless DCE_JOBS_ALLOW_ANONYMOUS=1.
# It runs as uid 10001: give it the socket's group, e.g. `docker service create --group <gid of docker.sock>`.
ARG BASE=python:3.11-slim

FROM ${BASE} AS install
COPY build/wheelhouse /wheels
COPY image-requirements.txt /wheels/
RUN python3 -m venv /opt/dce-jobs \
 && /opt/dce-jobs/bin/pip install --no-index --find-links /wheels -c /wheels/image-requirements.txt \
      --disable-pip-version-check --no-cache-dir dce-jobs \
 && /opt/dce-jobs/bin/pip uninstall -q -y pip setuptools \
 && /opt/dce-jobs/bin/python -c "import dce_jobs.app as a; assert (a.FRONTEND_DIR / 'index.html').is_file() and a.PLUGIN_JSON.is_file(), a.FRONTEND_DIR"

FROM ${BASE}
ARG VERSION=dev
LABEL maintainer="dce-jobs" \
      org.opencontainers.image.title="dce-jobs" \
      org.opencontainers.image.version="${VERSION}" \
      io.daocloud.dce.plugin.name="dce-jobs" \
      io.daocloud.dce.plugin.description="应用作业：在 Swarm 服务的任务容器中执行命令，按容器查看结果与日志" \
      io.daocloud.dce.plugin.categories="app-tool" \
      io.daocloud.dce.plugin.vendor="Community" \
      io.daocloud.dce.plugin.required-dce-version=">=2.6.0" \
      io.daocloud.dce.plugin.nano-cpus-limit="500000000" \
      io.daocloud.dce.plugin.memory-bytes-limit="268435456"

ENV PATH=/opt/dce-jobs/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 dcejobs \
 && useradd --system --uid 10001 --gid dcejobs --home-dir /data --no-create-home --shell /usr/sbin/nologin dcejobs \
 && mkdir -p /data \
 && chown dcejobs:dcejobs /data
COPY --from=install /opt/dce-jobs /opt/dce-jobs

ENV DCE_JOBS_HOST=0.0.0.0 \
    DCE_JOBS_PORT=8080 \
    DCE_JOBS_DATA_DIR=/data
VOLUME /data
WORKDIR /data
EXPOSE 8080
USER 10001:10001

# Swarm keeps a new task "starting" until its first healthy check, so the interval bounds how long an update waits.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/dce-jobs/bin/python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('DCE_JOBS_PORT', '8080'), timeout=4)"]

CMD ["dce-jobs", "serve"]
