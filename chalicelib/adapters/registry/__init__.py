"""Reading workflow images from OCI registries: the client, its authentication, layer extraction,
and the transport that applies the egress rule to every connection."""

from chalicelib.adapters.registry.auth import BasicCredentials, ConfiguredCredentials, CredentialSource
from chalicelib.adapters.registry.client import RegistryClient, ResolvedImage
from chalicelib.adapters.registry.errors import RegistryError
from chalicelib.adapters.registry.layers import Missing, find_file
from chalicelib.adapters.registry.model import Descriptor, RegistryLimits
from chalicelib.adapters.registry.transport import RegistryTransport

__all__ = [
    "BasicCredentials",
    "ConfiguredCredentials",
    "CredentialSource",
    "Descriptor",
    "Missing",
    "RegistryClient",
    "RegistryError",
    "RegistryLimits",
    "RegistryTransport",
    "ResolvedImage",
    "find_file",
]
