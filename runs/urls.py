app_name = "runs"
api_urlpatterns = []
urlpatterns = []
