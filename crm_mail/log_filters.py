"""Lines the libraries log on every sign-in that tell an operator nothing (settings.LOGGING
puts this filter on the console handler).

- django-axes: "Reset 0 access attempts from database." (and, for the web login, "Deleted 0
  failed login attempts by ..." and "Cleaned up 0 expired access attempts ...") after every
  successful sign-in, an SMTP API client's on each connection too; a reset of real failed
  attempts still shows.
- aiosmtpd: "Session.login_data is deprecated ..." at WARNING on each successful AUTH: the
  library sets that attribute itself; the SMTP API server never reads it.
"""

import logging

# django-axes' counts of what a successful sign-in cleared: none, almost always.
_AXES_COUNTS = ("AXES: Reset %", "AXES: Deleted %", "AXES: Cleaned up %")


class LibraryNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            return True
        if record.name.startswith("axes.") and record.msg.startswith(_AXES_COUNTS):
            return not (record.args and record.args[0] == 0)
        if record.name == "mail.log" and record.msg.startswith("Session.login_data is"):
            return False
        return True
