"""The ``hipexo`` command line and the reports that tie the packages together."""
