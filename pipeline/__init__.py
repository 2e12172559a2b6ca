"""The pipeline's shared parts: settings, errors, logging and the run itself."""
