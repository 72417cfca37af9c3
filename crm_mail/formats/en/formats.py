"""The product's dates in English: day before month, 24-hour clock. Pages name these formats
(`|date:"DATETIME_FORMAT"`; a log line to the second, `|date:"MONTH_DAY_FORMAT"` then `|time`)
rather than spelling a date out, so another language brings its own here. Django's other
English formats, input ones among them, stay."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
# A recent moment (a timeline's event, a log line, a snooze): no year.
SHORT_DATETIME_FORMAT = "j M H:i"
MONTH_DAY_FORMAT = "j M"
# A report's month.
YEAR_MONTH_FORMAT = "M Y"
# Only log lines show a bare time (`|time`): to the second, as retries can be seconds apart.
TIME_FORMAT = "H:i:s"
