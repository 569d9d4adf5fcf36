"""Command-line interfaces: ``facepipe`` (faces) and ``speechpipe`` (speech)."""
