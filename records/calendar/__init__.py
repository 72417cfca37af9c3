"""The account's sending calendar: business hours, holidays, and the clock over them.

- `hours.py`: weekly hours as people type them ("09:00-12:30, 13:30-18:00") and as they are
  stored (per weekday, Monday first, a list of ["HH:MM", "HH:MM"] intervals), validated.
- `clock.py`: `Calendar`, a value object over a time zone, weekly hours and holidays, with the
  functions sequences and the conversations inbox call (`next_open`, `is_open`,
  `add_business_days`, `add_business_minutes`, `business_minutes_between`).
- `countries.py`: national holidays imported from the `holidays` library.
- `forms.py`: the hours widget's form, the account's calendar and holiday forms.

This package imports nothing at load, so that `records.models` can use `hours` without
importing the clock, which reads the models.
"""
