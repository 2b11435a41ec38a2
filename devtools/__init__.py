"""Development tools shared by the tests, the benchmarks and ``make demo``; never deployed.

``oci`` builds container images in memory (no container engine), ``registry`` runs Debian's
``docker-registry`` on loopback and pushes those images to it, ``demo`` is ``make demo``.
The Lambda package holds only ``app.py`` and ``chalicelib/``, so nothing here reaches AWS.
"""
