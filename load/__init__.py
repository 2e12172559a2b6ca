"""Load: publish the marts (and Tibber hours) to InfluxDB."""
