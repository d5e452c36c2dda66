"""Static files storage: content-hashed names, gzip and Brotli copies, made once by collectstatic."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns):
    return tuple(
        (extension, tuple(p for p in rules if "sourceMappingURL" not in (p[0] if isinstance(p, tuple) else p)))
        for extension, rules in patterns
    )


class LedgerStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage; hashed names let WhiteNoise cache files for a year.

    Source-map comments are left as they are: the vendored minified libraries name maps that are not
    vendored, and the manifest step would otherwise refuse them as missing files.
    """

    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)
