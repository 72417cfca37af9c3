"""Views of the privacy app: the record panel, the composer's check fragments, the public
preferences page and the admin settings."""
