"""The one-command demo: a collector, a fleet of edge devices and a cloud service, all on loopback."""
