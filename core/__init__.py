"""What every stage shares.

Settings, errors, logs, the InfluxDB client, the landing zone and its source.
extract, load and pipeline import from here; core imports none of them.
"""
