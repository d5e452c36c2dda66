"""The WSGI entry point freezes what it loaded out of the garbage collector's full passes."""

import gc
import importlib
import sys


def test_it_freezes_the_objects_loaded_at_start():
    gc.unfreeze()
    sys.modules.pop("ledgerproject.wsgi", None)
    try:
        importlib.import_module("ledgerproject.wsgi")
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
