FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crm_mail crm_mail
COPY records records
COPY privacy privacy
COPY mailboxes mailboxes
COPY sequences sequences
COPY transactional transactional
RUN pip install --no-cache-dir .
COPY . .
# collectstatic needs settings that load; the real key comes from the environment at run time.
RUN DJANGO_ENV=production DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=build \
    CRM_ENCRYPTION_KEYS=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
    python manage.py collectstatic --noinput
RUN useradd --system --home /app crm && mkdir -p /app/var && chown -R crm /app/var
USER crm
EXPOSE 8000
