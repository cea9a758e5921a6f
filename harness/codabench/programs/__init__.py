"""Entry scripts copied into the program folders of an exported bundle.

``ingestion.py`` and ``score.py`` are what the platform's ``metadata.yaml``
commands run; they are modules here only so that they ship with the package.
"""
