"""Extract: raw readings from InfluxDB and hours from Tibber into the landing zone."""
