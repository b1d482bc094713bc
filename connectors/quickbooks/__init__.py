"""QuickBooks Desktop through the Web Connector: the remote polls us (a pulled connector)."""
