from tests.connectors.procore.fixtures import procore, procore_emulator, procore_tokens

__all__ = ["procore", "procore_emulator", "procore_tokens"]
