"""Views of connecting."""
