"""mtls-conformance: an end-to-end conformance suite for load balancers that terminate mutual TLS.

The library is free of pytest: the suite (features/, steps/, fixtures/) is a thin layer on it.
"""

__version__ = "0.1.0"
