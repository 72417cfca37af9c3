"""Views of composer."""
