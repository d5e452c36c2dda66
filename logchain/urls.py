app_name = "logchain"
api_urlpatterns = []
urlpatterns = []
