"""WSGI entry point (gunicorn ledgerproject.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerproject.settings")
application = get_wsgi_application()
# Everything loaded so far (Django, the apps, the URL map) lives as long as the process: moved out of the
# collector's sight, the full collections a batch of a thousand entries triggers stop re-walking it.
gc.freeze()
