app_name = "experience"
api_urlpatterns = []
urlpatterns = []
