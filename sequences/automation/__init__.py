"""Automation rules: enroll or unenroll a contact when one of its properties changes to a value."""
