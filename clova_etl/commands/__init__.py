"""Sub-commands of the ``clova-etl`` CLI (see :mod:`clova_etl.cli`)."""
