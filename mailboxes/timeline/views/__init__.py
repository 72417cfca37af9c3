"""Views of timeline."""
