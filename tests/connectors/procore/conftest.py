from tests.connectors.procore.stub_login import stub_login

__all__ = ["stub_login"]
