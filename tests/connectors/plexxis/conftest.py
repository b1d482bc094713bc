from tests.connectors.plexxis.fixtures import plexxis, plexxis_emulator

__all__ = ["plexxis", "plexxis_emulator"]
