"""The product's dates in English: day before month, 24-hour clock, wherever a page shows one
(templates name these formats, `|date:"DATETIME_FORMAT"`, never spell one out, so another
language brings its own here). Django's other English formats, input ones among them, stay."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
# A recent moment (a timeline's event, a log line, a snooze): no year.
SHORT_DATETIME_FORMAT = "j M H:i"
