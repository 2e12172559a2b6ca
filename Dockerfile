# utility-meters on a NAS: `make run` on a schedule (docker/schedule.sh).
# Installed exactly as on a workstation: `make .venv/.installed`, i.e.
# pip install -r requirements.txt -c constraints.txt into /app/.venv.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install --yes --no-install-recommends make tzdata \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY Makefile requirements.txt constraints.txt ./
RUN make .venv/.installed PYTHON=python3 \
    && rm -rf /root/.cache/pip

COPY . .

ENV DATA_DIR=/data \
    PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]

CMD ["docker/schedule.sh"]
