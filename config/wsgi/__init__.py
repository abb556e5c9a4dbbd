"""One WSGI entry point a server: ``portal`` (people), ``edge`` (the carrier), ``sandbox``."""
