"""The SMTP API server: clients submit transactional email with an SMTP token (`manage.py
smtp_api`). `server.py` speaks SMTP (aiosmtpd), `store.py` queues an accepted message through
the outbox in one transaction before the 250, `limits.py` counts per-token rates and slows
failing logins, `tls.py` loads or makes the certificate."""
