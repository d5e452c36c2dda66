"""The page shell: favicon, compressed HTML pages, hashed and compressed static files, empty states."""

import gzip

import pytest
from django.core.management import call_command
from django.test import RequestFactory, override_settings

from ledgerproject.ledger.staticfiles import LedgerStaticFilesStorage

pytestmark = pytest.mark.django_db

STORAGE = "ledgerproject.ledger.staticfiles.LedgerStaticFilesStorage"


def test_the_favicon_is_served_at_the_site_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_every_page_links_its_icon(client, bob):
    client.force_login(bob)
    assert 'rel="icon"' in client.get("/").content.decode()


def test_html_pages_are_sent_gzipped_to_a_browser_that_accepts_it(client, bob):
    client.force_login(bob)
    plain = client.get("/logs/")
    packed = client.get("/logs/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    page = gzip.decompress(packed.content)
    assert page.startswith(b"<!doctype html>") and page.rstrip().endswith(b"</html>")
    assert len(page) == len(plain.content)  # the same page (only its masked CSRF token differs)
    assert "Content-Encoding" not in plain


def test_api_responses_are_not_compressed(reader_api):
    response = reader_api.get("/api/v1/ledgers/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and "Content-Encoding" not in response


def test_production_settings_use_the_compressed_manifest_and_finders_only_in_debug(settings_under_env):
    production = settings_under_env(DJANGO_DEBUG="0")
    debug = settings_under_env(DJANGO_DEBUG="1")
    assert production.STORAGES["staticfiles"]["BACKEND"] == STORAGE
    assert production.WHITENOISE_USE_FINDERS is False
    assert debug.WHITENOISE_USE_FINDERS is True


def test_collectstatic_writes_hashed_compressed_files_served_with_a_long_cache(tmp_path):
    from whitenoise.middleware import WhiteNoiseMiddleware

    source, root = tmp_path / "src", tmp_path / "root"
    (source / "app").mkdir(parents=True)
    # A vendored library names a source map that is not vendored: collectstatic must not refuse it.
    (source / "app" / "lib.js").write_text("var x = 1;" * 500 + "\n//# sourceMappingURL=lib.js.map\n")
    (source / "app" / "page.css").write_text("body { color: red; }\n" * 200)
    with override_settings(
        STATICFILES_DIRS=[source],
        STATIC_ROOT=root,
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": {"BACKEND": STORAGE}},
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_ROOT=None,
    ):  # fmt: skip
        call_command("collectstatic", "--no-input", verbosity=0)
        hashed = sorted(p.name for p in (root / "app").iterdir())
        js = next(name for name in hashed if name.startswith("lib.") and name.endswith(".js"))
        assert js != "lib.js" and f"{js}.gz" in hashed and f"{js}.br" in hashed
        assert "lib.js" not in hashed  # only the hashed copies are kept

        from django.contrib.staticfiles.storage import staticfiles_storage

        url = staticfiles_storage.url("app/lib.js")
        assert url.endswith(js)
        whitenoise = WhiteNoiseMiddleware(lambda request: None)
        response = whitenoise(RequestFactory().get(url, HTTP_ACCEPT_ENCODING="gzip, br"))
        assert response.status_code == 200
        assert response["Content-Encoding"] == "br"
        assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
        response.close()


def test_the_storage_leaves_source_map_comments_alone():
    for _extension, rules in LedgerStaticFilesStorage.patterns:
        for rule in rules:
            assert "sourceMappingURL" not in (rule[0] if isinstance(rule, tuple) else rule)


# --- empty states --------------------------------------------------------------------------------

EMPTY_LISTS = ["/enhances/entries/", "/runs/", "/events/", "/artifacts/", "/logs/", "/releases/"]


@pytest.mark.parametrize("path", EMPTY_LISTS)
def test_an_empty_ledger_list_says_how_to_fill_it(client, bob, path):
    client.force_login(bob)
    html = client.get(path).content.decode()
    assert "python manage.py load_demo" in html and 'href="/api/docs/"' in html, path


@pytest.mark.parametrize(
    "path", ["/enhances/entries/?status=rejected", "/runs/?status=FAILED", "/events/?kind=X", "/logs/?q=nothing"]
)
def test_an_empty_filtered_list_offers_to_clear_the_filters(client, bob, path):
    client.force_login(bob)
    html = client.get(path).content.decode()
    assert "match these filters" in html and "Clear the filters" in html, path
