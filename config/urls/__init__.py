"""One root URLconf a server: ``portal`` (people), ``edge`` (the carrier), ``sandbox``."""
