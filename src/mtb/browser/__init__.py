"""`mtb browse`: a local, read-only web page over the data directory."""
