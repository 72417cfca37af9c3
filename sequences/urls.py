"""The pages of sequences, under /sequences/ (each sub-package declares its own)."""

from .automation.urls import urlpatterns as automation
from .builder.urls import urlpatterns as builder
from .enrollment.urls import urlpatterns as enrollment

app_name = "sequences"
urlpatterns = [*builder, *enrollment, *automation]
