# dce-jobs: the job service and its panel, as a DCE plugin image.
#
# It talks to the Docker engine of a Swarm manager (mount /var/run/docker.sock, or set DCE_JOBS_DOCKER_HOST)
# and stores jobs in /data (SQLite) or MongoDB (DCE_JOBS_MONGO_URL). It listens on 0.0.0.0, so it refuses to
# start without DCE_JOBS_API_TOKEN unless DCE_JOBS_ALLOW_ANONYMOUS=1.
# It runs as uid 10001: give it the socket's group, e.g. `docker service create --group <gid of docker.sock>`.
FROM python:3.11-slim

LABEL maintainer="dce-jobs" \
      io.daocloud.dce.plugin.name="dce-jobs" \
      io.daocloud.dce.plugin.description="应用作业：在 Swarm 服务的任务容器中执行命令，按容器查看结果与日志" \
      io.daocloud.dce.plugin.categories="app-tool" \
      io.daocloud.dce.plugin.vendor="Community" \
      io.daocloud.dce.plugin.required-dce-version=">=2.6.0" \
      io.daocloud.dce.plugin.nano-cpus-limit="500000000" \
      io.daocloud.dce.plugin.memory-bytes-limit="268435456"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 dcejobs \
 && useradd --system --uid 10001 --gid dcejobs --home-dir /app --no-create-home --shell /usr/sbin/nologin dcejobs \
 && mkdir -p /data \
 && chown dcejobs:dcejobs /data

WORKDIR /app
COPY setup.cfg pyproject.toml README.md plugin.json ./
COPY dce_jobs ./dce_jobs
COPY frontend ./frontend
# Editable on purpose: the app serves the panel from frontend/ next to the dce_jobs package directory.
RUN pip install --no-compile -e . \
 && python -c "import dce_jobs.app as a; assert (a.FRONTEND_DIR / 'index.html').is_file(), a.FRONTEND_DIR"

ENV DCE_JOBS_HOST=0.0.0.0 \
    DCE_JOBS_PORT=8080 \
    DCE_JOBS_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER dcejobs

HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('DCE_JOBS_PORT', '8080'), timeout=4)"]

CMD ["dce-jobs", "serve"]
