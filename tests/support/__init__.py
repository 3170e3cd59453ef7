"""Helpers shared by the test areas (import as ``tests.support.<module>``).

Area-only helpers stay beside their tests (``tests/<area>/<area>_support.py`` and similar).
"""
