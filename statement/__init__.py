"""`make statement`: the yearly cost statement per occupancy, from the marts."""
