from django.urls import include, path

app_name = "transactional"

urlpatterns = [
    path("", include("transactional.pool.urls")),
]
