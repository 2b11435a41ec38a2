"""Reading workflow images from OCI registries: the client, its authentication, layer extraction."""

from chalicelib.adapters.registry.auth import BasicCredentials, ConfiguredCredentials, CredentialSource
from chalicelib.adapters.registry.client import RegistryClient, ResolvedImage
from chalicelib.adapters.registry.errors import RegistryError
from chalicelib.adapters.registry.layers import Missing, find_file
from chalicelib.adapters.registry.model import Descriptor, RegistryLimits

__all__ = [
    "BasicCredentials",
    "ConfiguredCredentials",
    "CredentialSource",
    "Descriptor",
    "Missing",
    "RegistryClient",
    "RegistryError",
    "RegistryLimits",
    "ResolvedImage",
    "find_file",
]
