# One image, several commands: holdfast api | promoter | worker.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONSAFEPATH=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY promoter ./promoter
COPY workers ./workers
COPY cache_rules.yaml ./
ENV HOLDFAST_CACHE_RULES=/app/cache_rules.yaml
RUN pip install --no-cache-dir . && useradd --system --uid 10001 holdfast
USER holdfast
EXPOSE 8000
CMD ["holdfast", "api", "--host", "0.0.0.0", "--port", "8000"]
