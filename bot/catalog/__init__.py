"""The service catalog (``MLRESPONDER_CATALOG``): the ML services mlresponder protects.

``load_catalog(settings.catalog)`` → `Catalog`; ``catalog.match(alert_labels)`` → `Service` or
None; ``catalog.get(name)``; ``service.series()`` lists (key, query, kind, dependency) of the
service and each dependency. The trust boundary is in ``docs/catalog.md``.
"""

from bot.catalog.catalog import Catalog, LoadedService, match_service
from bot.catalog.loader import CatalogError, load_catalog
from bot.catalog.schema import Dependency, ModelRef, Owners, Series, SeriesRef, Service, kind_for_key

__all__ = [
    "Catalog",
    "CatalogError",
    "Dependency",
    "LoadedService",
    "ModelRef",
    "Owners",
    "Series",
    "SeriesRef",
    "Service",
    "kind_for_key",
    "load_catalog",
    "match_service",
]
