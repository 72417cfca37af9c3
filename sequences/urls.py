"""The pages of sequences, under /sequences/ (each sub-package declares its own)."""

from .builder.urls import urlpatterns as builder
from .enrollment.urls import urlpatterns as enrollment

app_name = "sequences"
urlpatterns = [*builder, *enrollment]
