app_name = "enhancelog"
api_urlpatterns = []
urlpatterns = []
