"""The fleet on network-namespace hosts (a package: its helpers are imported relatively)."""
