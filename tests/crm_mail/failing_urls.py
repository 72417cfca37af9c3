"""The product's URLs plus one view that fails, for the 500 page's tests."""

from django.urls import path

from crm_mail.urls import urlpatterns as product_urls


def fail(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("fail/", fail), *product_urls]
