app_name = "releases"
api_urlpatterns = []
urlpatterns = []
