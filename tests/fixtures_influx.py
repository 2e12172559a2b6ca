"""Fixtures for the real InfluxDB 1.x server and the 2.x wire-level fake."""
