"""The shop's own tasks package: the client never imports a module named ``tasks``."""
