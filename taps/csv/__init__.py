"""tap-csv: a Singer tap reading CSV files (see :mod:`taps.csv.tap`)."""
